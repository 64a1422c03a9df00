"""faster-whisper (CTranslate2 Whisper) on local hardware, an optional extra:
`pip install -e '.[faster-whisper]'`.

The model is a local CTranslate2 directory named in params.model_dir (nothing is downloaded
at run time: a benchmark must say exactly which weights it ran). The package is imported only
when a job names this provider; a missing package or directory is one ConfigError line.
model.params_json records the directory, a SHA-256 over its files, the package versions, and
every decoding option, defaults included, because each of them changes the output.
"""

from __future__ import annotations

import hashlib
import inspect
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ErrorKind, Provider, ProviderError, Transcript

SAMPLE_RATE = 16000
INSTALL_HINT = "pip install -e '.[faster-whisper]'"
#: WhisperModel(...) options; every other param goes to WhisperModel.transcribe(...)
MODEL_OPTIONS = {"device": "cpu", "compute_type": "default", "cpu_threads": 0, "device_index": 0}
#: decoding defaults stated explicitly so they are recorded (faster-whisper's own defaults)
DECODE_DEFAULTS = {"beam_size": 5, "language": None, "task": "transcribe", "word_timestamps": True,
                   "vad_filter": False, "condition_on_previous_text": True, "temperature": 0.0}


def directory_checksum(path: Path) -> str:
    """SHA-256 over the relative names and bytes of every file in a model directory."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode() + b"\0")
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


class FasterWhisperProvider(Provider):
    name: ClassVar[str] = "faster_whisper"
    blocking: ClassVar[bool] = True
    language_param: ClassVar[str | None] = "language"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.where = f"provider {config.display!r}"
        params = dict(self.params)
        model_dir = params.pop("model_dir", None)
        if not model_dir:
            raise ConfigError(f"{self.where}: set params.model_dir to a local CTranslate2 Whisper model directory")
        self.model_dir = Path(str(model_dir)).expanduser().resolve()
        self.model_options = {**MODEL_OPTIONS, **{k: params.pop(k) for k in list(params) if k in MODEL_OPTIONS}}
        self.decode_options = {**DECODE_DEFAULTS, **params}
        self._model = None
        self._checksum: str | None = None

    def check_ready(self) -> None:
        if not self.model_dir.is_dir():
            raise ConfigError(f"{self.where}: params.model_dir {self.model_dir} does not exist (a CTranslate2 Whisper model directory)")
        if not (self.model_dir / "model.bin").is_file():
            raise ConfigError(f"{self.where}: {self.model_dir} has no model.bin; it is not a CTranslate2 Whisper model directory")
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise ConfigError(f"{self.where}: the optional package faster-whisper is not installed; {INSTALL_HINT}") from None
        accepted = set(inspect.signature(WhisperModel.transcribe).parameters) - {"self", "audio"}
        unknown = sorted(set(self.decode_options) - accepted)
        if unknown:
            raise ConfigError(f"{self.where}: params {unknown} are not faster-whisper transcribe options")
        try:
            self._model = WhisperModel(
                str(self.model_dir), **self.model_options, num_workers=self.config.concurrency, local_files_only=True
            )
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError for unusable models
            raise ConfigError(f"{self.where}: cannot load the model in {self.model_dir}: {exc}") from None

    def checksum(self) -> str:
        if self._checksum is None:
            self._checksum = directory_checksum(self.model_dir)
        return self._checksum

    def sdk_info(self) -> tuple[str, str | None]:
        return ("faster-whisper", _version("faster-whisper"))

    def model_params(self) -> dict[str, Any]:
        return {
            "model_dir": str(self.model_dir),
            "model_sha256": self.checksum(),
            "faster_whisper": _version("faster-whisper"),
            "ctranslate2": _version("ctranslate2"),
            **self.model_options,
            **self.decode_options,
        }

    def sent_audio(self, audio: AudioClip, item: WorkItem) -> bytes:
        return audio.resampled(SAMPLE_RATE).samples.tobytes()  # the float32 samples the model decodes

    def transcribe_blocking(self, audio: AudioClip, item: WorkItem) -> Transcript:
        if self._model is None:
            self.check_ready()
        samples = audio.resampled(SAMPLE_RATE).samples
        try:
            language = self.language_for(item)
            options = {**self.decode_options, "language": language} if language else self.decode_options
            segments, info = self._model.transcribe(samples, **options)
            segments = list(segments)  # decoding happens while iterating
        except (RuntimeError, ValueError) as exc:
            raise ProviderError(ErrorKind.UTTERANCE, f"faster-whisper failed to decode: {exc}") from exc
        words = [
            {"word": w.word.strip(), "start": w.start, "end": w.end, "confidence": round(float(w.probability), 4)}
            for seg in segments
            for w in (seg.words or [])
        ]
        return Transcript(
            text=" ".join(seg.text.strip() for seg in segments).strip(),
            words=words or None,
            usage={"type": "duration", "seconds": round(float(info.duration), 3)},
            model_revision=f"{self.model_dir.name}@{self.checksum()[:12]}",
            meta={"language": info.language, "language_probability": round(float(info.language_probability), 4)},
        )


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None
