"""The provider adapter contract.

An adapter makes exactly one attempt per call and classifies its own failures; it never
sleeps, retries, times itself or holds a concurrency slot. The executor around it does that
(see worker/exec_infer.py), as in inspect_ai's ModelAPI / retry split.
"""

from __future__ import annotations

from abc import ABC
from dataclasses import dataclass, field
from typing import Any, ClassVar

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.records import WorkItem
from spectragram_bench.core.scrubbing import scrub_text
from spectragram_bench.core.statuses import ErrorKind  # re-exported: adapters import it from here


class ProviderError(Exception):
    """A classified failure of one attempt. Its message and request id are scrubbed of
    secrets here, so no adapter can hand a key to a log, the database or a report."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
        request_id: str | None = None,
        unreachable: bool = False,
    ) -> None:
        message = scrub_text(message)
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s
        self.request_id = scrub_text(request_id) if request_id else request_id
        #: no connection was made (refused, DNS, TLS): the server may not be there at all
        self.unreachable = unreachable

    def reworded(self, message: str, kind: ErrorKind | None = None) -> ProviderError:
        """The same reply's error in the vendor's fuller words (or another kind): status, retry
        hint, request id and reachability kept."""
        return ProviderError(kind or self.kind, message, status=self.status, retry_after_s=self.retry_after_s,
                             request_id=self.request_id, unreachable=self.unreachable)

    def __str__(self) -> str:
        code = f"HTTP {self.status}: " if self.status is not None else ""
        return f"{code}{self.message}"


@dataclass(frozen=True)
class Transcript:
    """What one successful attempt returns. Timing is the runner's job, not the adapter's."""

    text: str
    words: list[dict[str, Any]] | None = None  # [{word, start, end, confidence?, ...}] in seconds
    usage: dict[str, Any] | None = None  # the provider's own usage record, as returned
    model_revision: str | None = None  # e.g. Deepgram model_info name/version
    billed_seconds: float | None = None  # from the provider's usage where it says so
    meta: dict[str, Any] = field(default_factory=dict)  # request ids, ttft_ms for streaming, ...


class Provider(ABC):
    """Base for every speech-to-text adapter.

    Subclasses set `name` and implement either `transcribe` (async, network providers) or
    `transcribe_blocking` with `blocking = True` (local engines, run in a worker thread).
    """

    name: ClassVar[str]
    blocking: ClassVar[bool] = False
    #: where the executor runs `transcribe_blocking`: "thread" (engines that release the GIL or
    #: share one large model) or "process" (GIL-bound engines; each process builds its own adapter)
    executor_pool: ClassVar[str] = "thread"
    #: params that are credentials or otherwise must never be stored
    secret_params: ClassVar[frozenset[str]] = frozenset()
    #: the provider's own parameter for the speech's language (None: it takes none)
    language_param: ClassVar[str | None] = None
    #: bump when a change to the adapter can change its transcripts (how it builds the request or
    #: reads the reply): reuse_predictions never copies a prediction across adapter versions
    adapter_version: ClassVar[str] = "1"

    def language_for(self, item: WorkItem) -> str | None:
        """The dataset's language (ISO 639-1) to send for `item`, unless the job's params set
        `language_param` (or Deepgram-style detection) themselves."""
        if self.language_param is None or self.language_param in self.params or "detect_language" in self.params:
            return None
        return getattr(item, "language", None)

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.model = config.model
        self.params = dict(config.params)

    def check_ready(self) -> None:
        """Fail fast (ConfigError naming what is missing) before any work starts."""

    async def transcribe(self, audio: AudioClip, item: WorkItem) -> Transcript:
        """One attempt at `audio` (the audio of `item`, variant applied). Raises ProviderError."""
        raise NotImplementedError(f"{type(self).__name__} implements transcribe_blocking only")

    def transcribe_blocking(self, audio: AudioClip, item: WorkItem) -> Transcript:
        """The same for a blocking engine; the executor calls it in a worker thread."""
        raise NotImplementedError(f"{type(self).__name__} implements transcribe only")

    def preprocess(self, clip: AudioClip, item: WorkItem) -> None:
        """Blocking work on the audio before the first attempt (streaming: the speech span), run
        in the executor's audio thread so it is neither timed nor on the event loop."""

    def sent_audio(self, audio: AudioClip, item: WorkItem) -> bytes:
        """The audio bytes an attempt sends for `audio` (hashed into prediction.sent_sha256):
        the uploaded file by default; adapters that send something else override this and send
        what it returns."""
        return audio.file_bytes()[0]

    def sdk_info(self) -> tuple[str, str | None]:
        """(sdk name, version) for the provider table."""
        return ("http", None)

    def model_params(self) -> dict[str, Any]:
        """Everything that changes the output, stored in model.params_json."""
        return dict(self.params)

    async def aclose(self) -> None:
        """Release connections; called once per job run."""
