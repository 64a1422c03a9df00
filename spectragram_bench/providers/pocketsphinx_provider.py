"""CMU PocketSphinx: a real offline engine whose English model ships inside the PyPI wheel.

Decoding is blocking and a Decoder is not thread-safe, so each worker thread keeps its own.
"""

from __future__ import annotations

import re
import threading
from importlib.metadata import version
from typing import Any

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ErrorKind, Provider, ProviderError, Transcript

SAMPLE_RATE = 16000
FRAMES_PER_SECOND = 100  # pocketsphinx's default frame rate (-frate)
NON_WORDS = {"<s>", "</s>", "<sil>"}
ALT_PRONUNCIATION = re.compile(r"\(\d+\)$")  # "the(2)" -> "the"

#: Decoder options a config may set (pocketsphinx's own names); anything else is rejected.
ALLOWED_PARAMS = {"hmm", "lm", "dict", "beam", "wbeam", "lw", "pbeam", "maxhmmpf", "kws", "jsgf", "samprate"}


class PocketSphinxProvider(Provider):
    name = "pocketsphinx"
    blocking = True
    executor_pool = "process"  # decoding holds the GIL: threads would not run in parallel

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        params = self.params
        unknown = sorted(set(params) - ALLOWED_PARAMS)
        if unknown:
            raise ConfigError(
                f"provider 'pocketsphinx': unknown params {unknown}; allowed: {sorted(ALLOWED_PARAMS)}"
            )
        if "samprate" in params and int(params["samprate"]) != SAMPLE_RATE:
            raise ConfigError("provider 'pocketsphinx': params.samprate must be 16000 (audio is resampled to it)")
        self._local = threading.local()

    def check_ready(self) -> None:
        try:
            self._decoder()
        except Exception as exc:  # pocketsphinx raises RuntimeError/ValueError for bad model paths
            raise ConfigError(f"provider 'pocketsphinx': cannot load the model: {exc}") from None

    def sdk_info(self) -> tuple[str, str | None]:
        return ("pocketsphinx", version("pocketsphinx"))

    def model_params(self) -> dict[str, Any]:
        from pocketsphinx import get_model_path

        return {"model_path": str(get_model_path()), "pocketsphinx": version("pocketsphinx"), **self.params}

    def _decoder(self):
        decoder = getattr(self._local, "decoder", None)
        if decoder is None:
            from pocketsphinx import Decoder

            decoder = Decoder(**self.params)
            self._local.decoder = decoder
        return decoder

    def sent_audio(self, audio: AudioClip, item: WorkItem) -> bytes:
        return audio.resampled(SAMPLE_RATE).pcm16()

    def transcribe_blocking(self, audio: AudioClip, item: WorkItem) -> Transcript:
        pcm = self.sent_audio(audio, item)
        decoder = self._decoder()
        try:
            # The front end adapts (noise and CMN estimates) across utterances; resetting it makes
            # each hypothesis depend on its own audio only, not on which utterances this thread
            # decoded before, so reruns and any concurrency give identical transcripts.
            decoder.reinit_feat()
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
        except RuntimeError as exc:
            raise ProviderError(ErrorKind.UTTERANCE, f"pocketsphinx failed to decode: {exc}") from exc
        hyp = decoder.hyp()
        words = [
            {
                "word": ALT_PRONUNCIATION.sub("", seg.word),
                "start": seg.start_frame / FRAMES_PER_SECOND,
                "end": (seg.end_frame + 1) / FRAMES_PER_SECOND,
                "confidence": round(float(seg.prob), 4),
            }
            for seg in decoder.seg()
            if seg.word not in NON_WORDS and not seg.word.startswith("[") and not seg.word.startswith("+")
        ]
        return Transcript(
            text=hyp.hypstr if hyp is not None else "",
            words=words,
            usage={"type": "duration", "seconds": round(audio.duration_s, 3)},
            model_revision=f"pocketsphinx-{version('pocketsphinx')}/en-us",
        )
