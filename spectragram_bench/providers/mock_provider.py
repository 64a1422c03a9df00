"""A deterministic fake provider for tests and harness benchmarks.

It "transcribes" by corrupting the reference text with seeded substitutions, deletions and
insertions, after a configurable latency, and fails a seeded fraction of attempts. The same
seed, utterance and attempt number always give the same outcome.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ErrorKind, Provider, ProviderError, Transcript

FILLER_WORDS = ("the", "a", "and", "of", "uh", "to")


class MockParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latency_ms: float = Field(0.0, ge=0)
    error_rate: float = Field(0.0, ge=0, le=1)
    error_kind: ErrorKind = ErrorKind.RETRYABLE
    substitution_rate: float = Field(0.0, ge=0, le=1)
    deletion_rate: float = Field(0.0, ge=0, le=1)
    insertion_rate: float = Field(0.0, ge=0, le=1)
    seed: int = 0


class MockProvider(Provider):
    name = "mock"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        params = self.params
        try:
            self.cfg = MockParams.model_validate(params)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"provider 'mock': params.{loc}: {first['msg']}") from None
        self._attempts: dict[int, int] = defaultdict(int)

    def sdk_info(self) -> tuple[str, str | None]:
        return ("spectragram_bench.mock", "1")

    def corrupt(self, text: str, rng: random.Random) -> str:
        out: list[str] = []
        for word in text.split():
            roll = rng.random()
            if roll < self.cfg.deletion_rate:
                continue
            if roll < self.cfg.deletion_rate + self.cfg.substitution_rate:
                out.append(word[::-1] + "x")
            else:
                out.append(word)
            if rng.random() < self.cfg.insertion_rate:
                out.append(rng.choice(FILLER_WORDS))
        return " ".join(out)

    async def transcribe(self, audio: AudioClip, item: WorkItem) -> Transcript:
        attempt = self._attempts[item.utt_id]
        self._attempts[item.utt_id] += 1
        if self.cfg.latency_ms:
            await asyncio.sleep(self.cfg.latency_ms / 1000.0)
        # no failure draw at error_rate 0 (random() < 0 never holds): seeding it costs more than the rest
        if self.cfg.error_rate and random.Random(f"{self.cfg.seed}:{item.external_id}:fail:{attempt}").random() < self.cfg.error_rate:
            raise ProviderError(self.cfg.error_kind, f"mock failure (attempt {attempt + 1})", status=503)
        self._attempts.pop(item.utt_id, None)  # done with it: 100k counters need not outlive their items
        if self.cfg.deletion_rate or self.cfg.substitution_rate or self.cfg.insertion_rate:
            text = self.corrupt(item.ref_text, random.Random(f"{self.cfg.seed}:{item.external_id}"))
        else:  # what corrupt() gives with every rate 0, without seeding a generator per item
            text = " ".join(item.ref_text.split())
        return Transcript(
            text=text,
            usage={"type": "duration", "seconds": round(audio.duration_s, 3)},
            model_revision=f"mock-{self.model}",
            billed_seconds=audio.duration_s,
        )
