"""What a job run cost: a dated default price table (USD per audio minute) and the
cost_summary row computed from the stored predictions.

Prices change; every default carries the date it was read and its source, and a provider's
`price_per_minute_usd` in the job file overrides it. A model with no known price gets no cost
row (and a warning), never a made-up $0. Seconds billed come from the provider's own usage
where it reports them (Deepgram metadata.duration, OpenAI usage {type: duration}), else from
the audio duration sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.models import CostSummary, LatencySample, Prediction, Utterance
from spectragram_bench.core.statuses import PredictionStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Price:
    usd_per_minute: float
    as_of: str  # when the figure was read
    source: str


PUBLIC_LIST = "provider's public price list"
LOCAL = "local engine: no per-minute fee (compute is not priced)"

#: (provider, model pattern, mode or "*") -> Price; the first match wins.
DEFAULT_PRICES: list[tuple[str, str, str, Price]] = [
    ("deepgram", "nova-3*", "batch", Price(0.0043, "2026-11", PUBLIC_LIST)),
    ("deepgram", "nova-3*", "streaming", Price(0.0059, "2026-11", PUBLIC_LIST)),
    ("deepgram", "nova-2*", "batch", Price(0.0043, "2026-11", PUBLIC_LIST)),
    ("deepgram", "nova-2*", "streaming", Price(0.0059, "2026-11", PUBLIC_LIST)),
    ("openai", "whisper-1", "*", Price(0.006, "2026-11", PUBLIC_LIST)),
    ("openai", "gpt-4o-transcribe", "*", Price(0.006, "2026-11", PUBLIC_LIST)),
    ("openai", "gpt-4o-mini-transcribe", "*", Price(0.003, "2026-11", PUBLIC_LIST)),
    # Scribe: $0.40 per audio hour at the Starter tier (higher tiers: $0.35 to $0.22 per hour)
    ("elevenlabs", "scribe_v*", "batch", Price(0.40 / 60, "2026-12", "elevenlabs.io/docs/capabilities/speech-to-text, Starter tier")),
    ("mistral", "voxtral-mini-2507", "batch", Price(0.002, "2026-12", "docs.mistral.ai/models/voxtral-mini-transcribe-25-07")),
    # Groq bills at least 10 s per request (the adapter reports max(10, duration) as billed)
    ("groq", "whisper-large-v3-turbo", "batch", Price(0.04 / 60, "2026-12", "console.groq.com/docs/model/whisper-large-v3-turbo")),
    # AssemblyAI pre-recorded: $0.21/h Universal-3 Pro, $0.15/h Universal-2 (list prices as of 2026-05)
    ("assemblyai", "universal-3-pro", "batch", Price(0.0035, "2026-05", PUBLIC_LIST)),
    ("assemblyai", "universal-2", "batch", Price(0.0025, "2026-05", PUBLIC_LIST)),
    # Gladia pre-recorded: $0.61/h at the Starter tier (Growth from $0.20/h with a volume commitment)
    ("gladia", "*", "batch", Price(0.61 / 60, "2026-06", "gladia.io/pricing, Starter tier")),
    # Soniox async: $0.10 per audio hour, diarization included (real-time: $0.12/h, not defaulted here)
    ("soniox", "stt-async-*", "batch", Price(0.10 / 60, "2026-12", "soniox.com speech-to-text pages")),
    ("pocketsphinx", "*", "*", Price(0.0, "2026-11", LOCAL)),
    ("faster_whisper", "*", "*", Price(0.0, "2026-11", LOCAL)),
    ("mock", "*", "*", Price(0.0, "2026-11", "mock provider: nothing is billed")),
]


def price_for(config: ProviderConfig) -> Price | None:
    """The config's price_per_minute_usd if set, else the default table's, else None."""
    if config.price_per_minute_usd is not None:
        return Price(config.price_per_minute_usd, "job config", "price_per_minute_usd in the job file")
    for provider, pattern, mode, price in DEFAULT_PRICES:
        if provider == config.name and fnmatchcase(config.model, pattern) and mode in ("*", config.mode):
            return price
    return None


@dataclass(frozen=True)
class BilledSeconds:
    from_usage: float = 0.0  # seconds the provider reported billing
    from_audio: float = 0.0  # seconds of audio sent, where the provider reported nothing
    items: int = 0

    @property
    def total(self) -> float:
        return self.from_usage + self.from_audio


def billed_seconds(session: Session, job_run_id: int) -> BilledSeconds:
    """Seconds billed over the job run's successful predictions (failed ones are not billed)."""
    rows = session.execute(
        select(LatencySample.meta_json, Utterance.duration_s)
        .join(Prediction, (Prediction.job_run_id == LatencySample.job_run_id) & (Prediction.utt_id == LatencySample.utt_id))
        .join(Utterance, Utterance.utt_id == LatencySample.utt_id)
        .where(LatencySample.job_run_id == job_run_id, Prediction.status == PredictionStatus.OK)
        .execution_options(yield_per=2000)  # streamed: every latency meta at once was 100 MB at 100k
    )
    from_usage = from_audio = 0.0
    n = 0
    for meta, duration in rows:
        n += 1
        meta = meta or {}
        if meta.get("billed_seconds") is not None:
            from_usage += float(meta["billed_seconds"])
        else:
            from_audio += float(meta.get("audio_s") or duration or 0.0)
    return BilledSeconds(from_usage, from_audio, n)


def cost_summary_row(session: Session, job_run_id: int, config: ProviderConfig) -> dict[str, Any] | None:
    """The cost_summary values for a job run, or None when no price is known for its model."""
    price = price_for(config)
    if price is None:
        return None
    billed = billed_seconds(session, job_run_id)
    return {
        "job_run_id": job_run_id,
        "seconds_billed": round(billed.total, 3),
        "price_usd": round(billed.total / 60.0 * price.usd_per_minute, 6),
        "extra_json": {
            "currency": "USD",
            "usd_per_minute": price.usd_per_minute,
            "price_as_of": price.as_of,
            "price_source": price.source,
            "provider": config.name,
            "model": config.model,
            "mode": config.mode,
            "items_billed": billed.items,
            "seconds_from_provider_usage": round(billed.from_usage, 3),
            "seconds_from_audio_duration": round(billed.from_audio, 3),
        },
    }


def write_cost_summary(session: Session, job_run_id: int, config: ProviderConfig) -> CostSummary | None:
    """Insert or refresh the job run's cost_summary row (a resumed run is recounted whole)."""
    values = cost_summary_row(session, job_run_id, config)
    if values is None:
        log.warning(
            "no price known for %s (%s, %s mode): no cost row; set price_per_minute_usd in the job file",
            config.display, config.model, config.mode,
        )
        return None
    row = session.execute(select(CostSummary).where(CostSummary.job_run_id == job_run_id)).scalar_one_or_none()
    if row is None:
        row = CostSummary(**values)
        session.add(row)
    else:
        row.seconds_billed, row.price_usd, row.extra_json = values["seconds_billed"], values["price_usd"], values["extra_json"]
    session.flush()
    return row
