"""Azure AI Speech fast transcription: POST {endpoint}/speechtotext/transcriptions:transcribe,
synchronous multipart.

As the official SDK (azure-ai-transcription) and the REST docs send it: the audio in the
`audio` part, a `definition` part holding the TranscriptionOptions JSON (application/json:
`locales`, `diarization`, `channels`, `profanityFilterMode`, `phraseList`, `enhancedMode`,
`models`), `api-version` as a query parameter (2025-10-15, the SDK's default; params.api_version
changes it) and the key in `Ocp-Apim-Subscription-Key`. The endpoint is the region's
https://{params.region}.api.cognitive.microsoft.com unless base_url names one (a resource's
https://NAME.cognitiveservices.azure.com, or a test server).

The reply (TranscriptionResult): `durationMilliseconds`, `combinedPhrases[]{channel?, text}`
(the transcript), `phrases[]{offsetMilliseconds, durationMilliseconds, text, words[]{text,
offsetMilliseconds, durationMilliseconds}, locale, confidence, speaker?}`. Words are stored in
seconds with their phrase's confidence and speaker (Azure gives no per-word confidence).

The locale is params.locales, else the item's language as its usual locale (en -> en-US), else
none (Azure then detects it). Errors use Azure's {"error": {"code", "message"}} body: 401 (bad
key or wrong region), 403 and 404 stop the run; 400 (e.g. audio it cannot decode), 413 and 415
fail the utterance; 429 with Retry-After and 5xx are retried.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import Transcript
from spectragram_bench.providers.cloud import CloudProvider
from spectragram_bench.providers.http_errors import bad_reply, reply_json
from spectragram_bench.providers.locales import locale_for
from spectragram_bench.providers.one_request import send_checked

TRANSCRIBE_PATH = "/speechtotext/transcriptions:transcribe"
API_VERSION = "2025-10-15"
REQUEST_ID_HEADER = "apim-request-id"
#: TranscriptionOptions properties (REST names) that change a transcript of an uploaded file
DEFINITION_FIELDS = frozenset({"locales", "models", "profanityFilterMode", "diarization", "channels", "enhancedMode", "phraseList"})
#: adapter settings, never part of the definition
SETTINGS = ("region", "api_version")
BASE_MODEL = "fast"


class AzureSpeechProvider(CloudProvider):
    name: ClassVar[str] = "azure"
    default_base_url: ClassVar[str] = ""
    default_key_env: ClassVar[str | None] = "AZURE_SPEECH_KEY"
    example_model: ClassVar[str] = BASE_MODEL

    def __init__(self, config: ProviderConfig) -> None:
        where = f"provider {config.display!r}"
        params = dict(config.params)
        region = params.get("region")
        if not config.base_url:
            if not isinstance(region, str) or not re.fullmatch(r"[a-z0-9]+", region):
                raise ConfigError(f"{where}: set params.region to the Speech resource's region (e.g. \"eastus\"), or base_url to its endpoint")
            self.default_base_url = f"https://{region}.api.cognitive.microsoft.com"
        super().__init__(config)
        if config.mode == "streaming":
            raise ConfigError(f"{self.where}: fast transcription takes whole files (\"mode\": \"batch\")")
        self.api_version = str(params.pop("api_version", API_VERSION))
        params.pop("region", None)
        unknown = sorted(set(params) - DEFINITION_FIELDS)
        if unknown:
            raise ConfigError(f"{self.where}: params {unknown} are not fast-transcription definition fields; known: {sorted(DEFINITION_FIELDS)} and {list(SETTINGS)}")
        if "locales" in params and (not isinstance(params["locales"], list) or not all(isinstance(x, str) for x in params["locales"])):
            raise ConfigError(f"{self.where}: params.locales must be a list of locales such as [\"en-US\"]")
        if self.model != BASE_MODEL:
            if not self.model.startswith("https://"):
                raise ConfigError(f"{self.where}: \"model\" is {BASE_MODEL!r} (the base model) or a custom model's URI (https://...)")
            if not params.get("locales"):
                raise ConfigError(f"{self.where}: a custom model needs params.locales (the locales it maps)")
            params.setdefault("models", {loc: self.model for loc in params["locales"]})
        self.definition_fields = params
        self.region = region

    def model_params(self) -> dict[str, Any]:
        return {**self.definition_fields, "api_version": self.api_version, **self.endpoint_params()}

    def headers(self) -> dict[str, str]:
        return {"Ocp-Apim-Subscription-Key": self.api_key or ""}

    def definition(self, item: WorkItem) -> dict[str, Any]:
        definition = dict(self.definition_fields)
        if "locales" not in definition:
            locale = locale_for(getattr(item, "language", None))
            if locale:
                definition["locales"] = [locale]
        return definition

    async def transcribe(self, audio: AudioClip, item: WorkItem) -> Transcript:
        body, mime, file_name = audio.file_bytes()
        files = {
            "audio": (file_name, body, mime),
            "definition": (None, json.dumps(self.definition(item), separators=(",", ":")), "application/json"),
        }
        response = await send_checked(
            self, "POST", f"{self.base_url}{TRANSCRIBE_PATH}", request_id_header=REQUEST_ID_HEADER,
            params={"api-version": self.api_version}, files=files, headers=self.headers(),
        )
        return parse_result(reply_json(response.content, what="Azure fast-transcription reply"), response.headers.get(REQUEST_ID_HEADER))


def parse_result(reply: Any, request_id: str | None = None) -> Transcript:
    if not isinstance(reply, dict) or not isinstance(reply.get("combinedPhrases"), list):
        raise bad_reply("no \"combinedPhrases\" list in the Azure reply")
    texts = [p.get("text") for p in reply["combinedPhrases"] if isinstance(p, dict)]
    if not all(isinstance(t, str) for t in texts):
        raise bad_reply("a combinedPhrases entry without a \"text\" string")
    words: list[dict[str, Any]] = []
    phrases = reply.get("phrases") if isinstance(reply.get("phrases"), list) else []
    for phrase in phrases:
        if not isinstance(phrase, dict):
            continue
        for w in phrase.get("words") or []:
            start, length = w.get("offsetMilliseconds"), w.get("durationMilliseconds")
            if not isinstance(start, (int, float)) or not isinstance(length, (int, float)):
                continue
            word: dict[str, Any] = {"word": w.get("text"), "start": start / 1000.0, "end": (start + length) / 1000.0}
            for key, out in (("confidence", "confidence"), ("speaker", "speaker"), ("channel", "channel"), ("locale", "locale")):
                if phrase.get(key) is not None:
                    word[out] = phrase[key]
            words.append(word)
    meta: dict[str, Any] = {"request_id": request_id, "phrases": len(phrases)}
    if isinstance(reply.get("durationMilliseconds"), (int, float)):
        meta["duration_s"] = reply["durationMilliseconds"] / 1000.0
    locales = sorted({p["locale"] for p in phrases if isinstance(p, dict) and p.get("locale")})
    if locales:
        meta["locales"] = locales
    return Transcript(text=" ".join(t.strip() for t in texts if t.strip()), words=words or None, meta=meta)
