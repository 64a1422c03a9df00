"""Google Cloud Speech-to-Text v2, synchronous `recognizers/{r}:recognize` (audio up to 60 s),
through the official SDK (google-cloud-speech, optional extra `google`).

Google's protocol is OAuth/ADC over gRPC or REST, not a plain key, so the SDK sends the request:
its sync SpeechClient with REST transport, run in a worker thread, `client_options.api_endpoint`
= base_url (https://speech.googleapis.com, or https://{location}-speech.googleapis.com for a
regional location; any http(s) URL, which is how the tests point it at a local fake speaking the
v2 REST JSON). Credentials: an API key when `api_key_env` names a variable (sent as
x-goog-api-key), else Application Default Credentials. The SDK's own retries are turned off
(retry=None): the executor retries.

Request: recognizer projects/{params.project}/locations/{params.location}/recognizers/
{params.recognizer or "_"} with an inline config: `model` (chirp_2, chirp_3, long, short, ...),
`language_codes` (params, else the item's language as its locale, en -> en-US),
`auto_decoding_config` (the uploaded file's own header says its format) and `features` (word
time offsets and word confidence on unless params.features says otherwise). Reply:
results[].alternatives[0]{transcript, confidence, words[]{word, startOffset, endOffset,
confidence, speakerLabel}}, results[].languageCode, metadata{requestId, totalBilledDuration}
(the billed seconds).

Errors, from google.api_core's exceptions: Unauthenticated (401), PermissionDenied (403),
NotFound (404: no such project or recognizer) and an InvalidArgument whose reason is
API_KEY_INVALID stop the run; other InvalidArgument (400) fail the utterance; ResourceExhausted
(429) is rate limited (RetryInfo.retryDelay or Retry-After honoured); ServiceUnavailable,
DeadlineExceeded, InternalServerError, Aborted and transport failures are retried.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ErrorKind, ProviderError, Transcript
from spectragram_bench.providers.cloud import CloudProvider
from spectragram_bench.providers.http_errors import (
    MAX_MESSAGE_CHARS,
    error_for_exception,
    kind_for_status,
    parse_duration,
    parse_retry_after,
    scrub,
)
from spectragram_bench.providers.locales import locale_for

INSTALL_HINT = "pip install -e '.[google]'"
MAX_SYNC_SECONDS = 60.0  # Recognize takes up to 60 s of audio; longer needs BatchRecognize
#: RecognitionConfig fields a job may set besides model and language_codes
CONFIG_FIELDS = frozenset({"features", "adaptation", "transcript_normalization", "denoiser_config"})
SETTINGS = frozenset({"project", "location", "recognizer", "language_codes"})
DEFAULT_FEATURES = {"enable_word_time_offsets": True, "enable_word_confidence": True}
#: ErrorInfo reasons after which no request of the run can succeed, whatever the status
FATAL_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "SERVICE_DISABLED", "BILLING_DISABLED",
                           "CONSUMER_INVALID", "ACCESS_TOKEN_EXPIRED"})


def speech_sdk() -> Any:
    """The SDK's v2 module, or one ConfigError line saying how to install it."""
    try:
        return importlib.import_module("google.cloud.speech_v2")
    except ImportError:
        raise ConfigError(f"provider 'google' needs the Google Cloud Speech SDK: {INSTALL_HINT}") from None


class GoogleSpeechProvider(CloudProvider):
    name: ClassVar[str] = "google"
    default_base_url: ClassVar[str] = "https://speech.googleapis.com"
    default_key_env: ClassVar[str | None] = None  # Application Default Credentials unless api_key_env is set
    key_required: ClassVar[bool] = False
    example_model: ClassVar[str] = "chirp_2"

    def __init__(self, config: ProviderConfig) -> None:
        params = dict(config.params)
        location = params.get("location", "global")
        if not isinstance(location, str) or not re.fullmatch(r"[a-z0-9-]+", location):
            raise ConfigError(f"provider {config.display!r}: params.location must be a Google Cloud location such as \"global\" or \"us-central1\"")
        if location != "global":
            self.default_base_url = f"https://{location}-speech.googleapis.com"
        super().__init__(config)
        self.key_required = bool(config.api_key_env)
        if config.mode == "streaming":
            raise ConfigError(f"{self.where}: the Google adapter calls the synchronous Recognize (\"mode\": \"batch\")")
        unknown = sorted(set(params) - CONFIG_FIELDS - SETTINGS)
        if unknown:
            raise ConfigError(f"{self.where}: params {unknown} are not known; known: {sorted(SETTINGS | CONFIG_FIELDS)}")
        project = params.get("project") or os.environ.get("GOOGLE_CLOUD_PROJECT")
        if not project:
            raise ConfigError(f"{self.where}: set params.project (or GOOGLE_CLOUD_PROJECT) to the Google Cloud project id")
        codes = params.get("language_codes")
        if codes is not None and (not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes)):
            raise ConfigError(f"{self.where}: params.language_codes must be a non-empty list such as [\"en-US\"]")
        self.recognizer = f"projects/{project}/locations/{location}/recognizers/{params.get('recognizer', '_')}"
        self.language_codes = codes
        self.recognition_config = {"features": {**DEFAULT_FEATURES, **params.get("features", {})},
                                   **{k: params[k] for k in CONFIG_FIELDS - {"features"} if k in params}}
        self._speech_client: Any = None
        self._threads: ThreadPoolExecutor | None = None

    def check_ready(self) -> None:
        speech_sdk()
        super().check_ready()
        if self.api_key is None:
            import google.auth
            from google.auth.exceptions import DefaultCredentialsError

            try:
                google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
            except DefaultCredentialsError as exc:
                first = str(exc).splitlines()[0] if str(exc) else "none found"
                raise ConfigError(
                    f"{self.where}: no Google credentials ({first}); run `gcloud auth application-default login`, "
                    "set GOOGLE_APPLICATION_CREDENTIALS, or name an API key variable in api_key_env"
                ) from None

    def model_params(self) -> dict[str, Any]:
        return {"recognizer": self.recognizer, "language_codes": self.language_codes, **self.recognition_config,
                **self.endpoint_params()}

    def sdk_info(self) -> tuple[str, str | None]:
        return ("google-cloud-speech", getattr(speech_sdk(), "__version__", None))

    def speech_client(self) -> Any:
        """The SDK client (Google's transport is the SDK's, not httpx), created on first use."""
        if self._speech_client is None:
            from google.api_core.client_options import ClientOptions

            options = ClientOptions(api_endpoint=self.base_url, api_key=self.api_key)
            client = speech_sdk().SpeechClient(transport="rest", client_options=options)
            session = getattr(client.transport, "_session", None)  # a requests.Session (google-auth's)
            if session is not None and hasattr(session, "mount"):
                # requests keeps 10 connections per host by default; more concurrent requests would
                # each pay a new TLS handshake, counted as the API's time
                from requests.adapters import HTTPAdapter

                size = max(10, self.config.concurrency)
                for scheme in ("https://", "http://"):
                    session.mount(scheme, HTTPAdapter(pool_connections=1, pool_maxsize=size))
            self._speech_client = client
        return self._speech_client

    def request_for(self, audio: AudioClip, item: WorkItem) -> dict[str, Any]:
        codes = self.language_codes
        if codes is None:
            locale = locale_for(getattr(item, "language", None))
            if locale is None:
                raise ProviderError(ErrorKind.UTTERANCE, "no language for this utterance: Google needs params.language_codes")
            codes = [locale]
        if audio.duration_s > MAX_SYNC_SECONDS:
            raise ProviderError(ErrorKind.UTTERANCE, f"audio is {audio.duration_s:.1f} s, over the {MAX_SYNC_SECONDS:g} s "
                                "synchronous Recognize limit; not sent (split it into shorter segments)")
        body, _mime, _name = audio.file_bytes()
        config = {"auto_decoding_config": {}, "model": self.model, "language_codes": codes, **self.recognition_config}
        return {"recognizer": self.recognizer, "config": config, "content": body}

    async def transcribe(self, audio: AudioClip, item: WorkItem) -> Transcript:
        request = self.request_for(audio, item)
        client = self.speech_client()
        call = functools.partial(client.recognize, request=request, retry=None, timeout=self.config.timeout_s)
        try:
            response = await asyncio.get_running_loop().run_in_executor(self.threads(), call)
        except Exception as exc:
            raise self.classify(exc) from None
        return parse_response(type(response).to_dict(response, preserving_proto_field_name=False))

    def classify(self, exc: Exception) -> ProviderError:
        from google.api_core import exceptions as gexc

        if not isinstance(exc, gexc.GoogleAPICallError):
            return error_for_exception(exc, secrets=self.secrets)
        status = exc.code if isinstance(exc.code, int) else None
        message = " ".join(scrub(exc.message or type(exc).__name__, self.secrets).split())[:MAX_MESSAGE_CHARS]
        if exc.reason:
            message = f"{message} ({exc.reason})"
        if isinstance(exc, (gexc.Unauthenticated, gexc.PermissionDenied, gexc.NotFound)) or exc.reason in FATAL_REASONS:
            kind = ErrorKind.FATAL
        elif isinstance(exc, gexc.ResourceExhausted):
            kind = ErrorKind.RATE_LIMITED
        elif isinstance(exc, (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.InternalServerError, gexc.Aborted)):
            kind = ErrorKind.RETRYABLE
        elif isinstance(exc, gexc.InvalidArgument):
            kind = ErrorKind.UTTERANCE
        else:
            kind = kind_for_status(status) if status else ErrorKind.RETRYABLE
        retry_after = retry_delay(exc, kind) if kind in (ErrorKind.RATE_LIMITED, ErrorKind.RETRYABLE) else None
        return ProviderError(kind, message, status=status, retry_after_s=retry_after)

    def threads(self) -> ThreadPoolExecutor:
        """One thread per allowed concurrent request: the shared default pool (a few threads on
        a small machine) would queue requests and count the wait as the API's time."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix="google-stt")
        return self._threads

    async def aclose(self) -> None:
        client, self._speech_client = self._speech_client, None
        threads, self._threads = self._threads, None
        if client is not None:
            await asyncio.to_thread(client.transport.close)
        if threads is not None:
            threads.shutdown(wait=False)


def retry_delay(exc: Any, kind: ErrorKind) -> float | None:
    """google.rpc.RetryInfo.retryDelay from the error details, else the reply's Retry-After."""
    for detail in exc.details or ():
        if isinstance(detail, dict) and detail.get("@type", "").endswith("google.rpc.RetryInfo"):
            delay = parse_duration(str(detail.get("retryDelay", "")))
            if delay is not None:
                return delay
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    return parse_retry_after(headers, rate_limit_resets=kind == ErrorKind.RATE_LIMITED) if headers is not None else None


def seconds(value: Any) -> float | None:
    """A protobuf Duration as JSON gives it ("1.500s"), in seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    return parse_duration(value) if isinstance(value, str) else None


def parse_response(reply: dict[str, Any]) -> Transcript:
    texts: list[str] = []
    words: list[dict[str, Any]] = []
    languages: list[str] = []
    confidences: list[float] = []
    for result in reply.get("results") or []:
        alternatives = result.get("alternatives") or []
        if result.get("languageCode") and result["languageCode"] not in languages:
            languages.append(result["languageCode"])
        if not alternatives:
            continue  # a result with no speech recognised
        best = alternatives[0]
        if (best.get("transcript") or "").strip():
            texts.append(best["transcript"].strip())
        if best.get("confidence"):
            confidences.append(best["confidence"])
        for w in best.get("words") or []:
            word: dict[str, Any] = {"word": w.get("word"), "start": seconds(w.get("startOffset")), "end": seconds(w.get("endOffset"))}
            if w.get("confidence"):
                word["confidence"] = w["confidence"]
            if w.get("speakerLabel"):
                word["speaker"] = w["speakerLabel"]
            words.append(word)
    metadata = reply.get("metadata") or {}
    billed = seconds(metadata.get("totalBilledDuration"))
    meta: dict[str, Any] = {"request_id": metadata.get("requestId") or None}
    if languages:
        meta["language_codes"] = languages
    if confidences:
        meta["confidence"] = round(sum(confidences) / len(confidences), 6)
    usage = {"type": "duration", "seconds": billed} if billed is not None else None
    return Transcript(text=" ".join(texts), words=words or None, usage=usage, billed_seconds=billed, meta=meta)
