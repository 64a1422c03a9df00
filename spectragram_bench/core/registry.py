"""Name -> implementation registries for providers, datasets and normalisers.

Built-ins are listed as import paths so that an optional dependency (faster-whisper, say)
is imported only when a config names it; plugins may add entries with `register`.
"""

from __future__ import annotations

import importlib
from typing import Any

from spectragram_bench.core.errors import ConfigError


class Registry:
    def __init__(self, kind: str, builtins: dict[str, str]) -> None:
        self.kind = kind
        self._entries: dict[str, Any] = dict(builtins)

    def register(self, name: str, target: Any) -> None:
        """Add `target` (an object or a "module:attr" path) under `name`."""
        self._entries[name] = target

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def get(self, name: str) -> Any:
        if name not in self._entries:
            known = ", ".join(self.names())
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {known}")
        target = self._entries[name]
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                raise ConfigError(f"{self.kind} {name!r} needs a package that is not installed: {exc}") from exc
            target = getattr(module, attr)
            self._entries[name] = target
        return target


PROVIDERS = Registry(
    "provider",
    {
        "mock": "spectragram_bench.providers.mock_provider:MockProvider",
        "pocketsphinx": "spectragram_bench.providers.pocketsphinx_provider:PocketSphinxProvider",
        "deepgram": "spectragram_bench.providers.deepgram:DeepgramProvider",
        "openai": "spectragram_bench.providers.openai_whisper:OpenAIProvider",
        "openai_compatible": "spectragram_bench.providers.openai_whisper:OpenAICompatibleProvider",
        "faster_whisper": "spectragram_bench.providers.faster_whisper_provider:FasterWhisperProvider",
        "elevenlabs": "spectragram_bench.providers.elevenlabs:ElevenLabsProvider",
        "mistral": "spectragram_bench.providers.mistral:MistralProvider",
        "groq": "spectragram_bench.providers.groq:GroqProvider",
        "azure": "spectragram_bench.providers.azure_speech:AzureSpeechProvider",
        "google": "spectragram_bench.providers.google_speech:GoogleSpeechProvider",
        "assemblyai": "spectragram_bench.providers.assemblyai:AssemblyAIProvider",
        "speechmatics": "spectragram_bench.providers.speechmatics:SpeechmaticsProvider",
        "revai": "spectragram_bench.providers.revai:RevAIProvider",
        "gladia": "spectragram_bench.providers.gladia:GladiaProvider",
        "soniox": "spectragram_bench.providers.soniox:SonioxProvider",
    },
)

#: live-streaming adapters, chosen by `"mode": "streaming"` under the vendor's own name
STREAMING_PROVIDERS = Registry(
    "streaming provider",
    {
        "deepgram": "spectragram_bench.providers.deepgram_live:DeepgramLive",
        "assemblyai": "spectragram_bench.providers.assemblyai_live:AssemblyAILive",
        "speechmatics": "spectragram_bench.providers.speechmatics_live:SpeechmaticsLive",
        "openai_realtime": "spectragram_bench.providers.openai_realtime:OpenAIRealtime",
        "elevenlabs": "spectragram_bench.providers.elevenlabs_live:ElevenLabsLive",
        "soniox": "spectragram_bench.providers.soniox_live:SonioxLive",
        "gladia": "spectragram_bench.providers.gladia_live:GladiaLive",
    },
)


def provider_class(config: Any) -> Any:
    """The adapter class for a ProviderConfig: the streaming one when mode is streaming and the
    vendor has one, else the batch registry's (an adapter may handle both modes itself)."""
    if config.mode == "streaming" and config.name in STREAMING_PROVIDERS:
        return STREAMING_PROVIDERS.get(config.name)
    if config.name not in PROVIDERS and config.name in STREAMING_PROVIDERS:
        raise ConfigError(f"provider {config.name!r} is a live-streaming adapter only; set \"mode\": \"streaming\"")
    return PROVIDERS.get(config.name)


DATASETS = Registry(
    "dataset",
    {
        "librispeech": "spectragram_bench.datasets.librispeech:LibriSpeech",
        "commonvoice": "spectragram_bench.datasets.commonvoice:CommonVoice",
        "jsonl_manifest": "spectragram_bench.datasets.manifest:JsonLinesManifest",
        "nemo_manifest": "spectragram_bench.datasets.manifest:JsonLinesManifest",
        "csv_manifest": "spectragram_bench.datasets.manifest:CsvManifest",
        "kaldi": "spectragram_bench.datasets.kaldi:KaldiDataDir",
        "hf_dataset": "spectragram_bench.datasets.hf_dataset:HfDataset",
        "tedlium": "spectragram_bench.datasets.tedlium:Tedlium",
        "mls": "spectragram_bench.datasets.mls:MultilingualLibriSpeech",
        "fleurs": "spectragram_bench.datasets.fleurs:Fleurs",
        "voxpopuli": "spectragram_bench.datasets.voxpopuli:VoxPopuli",
        "earnings": "spectragram_bench.datasets.earnings:Earnings",
    },
)

NORMALIZERS = Registry(
    "normalizer",
    {
        "basic": "spectragram_bench.core.normalize:BASIC",
        "whisper_english": "spectragram_bench.core.normalize:WHISPER_ENGLISH",
        "whisper_basic": "spectragram_bench.core.normalize:WHISPER_BASIC",
        "whisper_multilingual": "spectragram_bench.core.normalize:WHISPER_MULTILINGUAL",
        "librispeech": "spectragram_bench.core.normalize:LIBRISPEECH",
        "none": "spectragram_bench.core.normalize:NONE",
    },
)
