"""Prediction reuse (`"reuse_predictions": true` or `run --reuse`; never the default).

A work item is filled from an ok prediction already in the database when everything that
decides the reply is the same: the exact audio bytes the adapter sends (their sha256,
Provider.sent_audio, after the variant is applied), the provider, the model and its params
(one `model` row: provider + name + params hash) and the adapter version (job_run
.adapter_version). The copy records the source prediction's id in `reused_from`, makes no
request, costs nothing and has no latency sample, so latency figures leave it out. Audio that
differs in one byte is never reused; a chunked recording (several requests) has no hash and is
always sent.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy import func, select

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.models import JobRun, Prediction
from spectragram_bench.core.persistence import Database
from spectragram_bench.core.records import PredictionResult, WorkItem
from spectragram_bench.core.statuses import PredictionStatus
from spectragram_bench.providers.base import Provider

log = logging.getLogger(__name__)


def sent_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Source:
    prediction_id: int
    hyp_text: str
    words: list | None
    usage: dict | None


class ReuseIndex:
    """The ok predictions of other job runs with this job run's model and adapter version, by
    the hash of their sent audio (loaded once per job run: lookups never touch the database)."""

    def __init__(self, by_hash: dict[str, Source]) -> None:
        self.by_hash = by_hash

    @classmethod
    def load(cls, db: Database, job_run_id: int) -> ReuseIndex:
        with db.session() as s:
            run = s.get(JobRun, job_run_id)
            rows = s.execute(
                select(
                    Prediction.sent_sha256, func.coalesce(Prediction.reused_from, Prediction.prediction_id),
                    Prediction.hyp_text, Prediction.words_json, Prediction.usage_json,
                )
                .join(JobRun, JobRun.job_run_id == Prediction.job_run_id)
                .where(
                    JobRun.model_id == run.model_id,
                    JobRun.adapter_version == run.adapter_version,
                    JobRun.job_run_id != job_run_id,
                    Prediction.status == PredictionStatus.OK,
                    Prediction.sent_sha256.is_not(None),
                )
                .order_by(Prediction.prediction_id)
            ).all()
        by_hash: dict[str, Source] = {}
        for digest, source_id, hyp, words, usage in rows:
            by_hash.setdefault(digest, Source(source_id, hyp or "", words, usage))  # the oldest one
        return cls(by_hash)

    def result_for(self, item: WorkItem, digest: str | None) -> PredictionResult | None:
        """The item's prediction copied from a match, or None (then it is sent)."""
        source = self.by_hash.get(digest) if digest is not None else None
        if source is None:
            return None
        return PredictionResult(
            item.job_run_id, item.utt_id, source.hyp_text, words=source.words, usage=source.usage, attempts=0,
            sent_sha256=digest, reused_from=source.prediction_id,
        )


def sent_hash(provider: Provider, clip: AudioClip, item: WorkItem) -> str | None:
    """sha256 of what `provider` sends for `clip`; None when that cannot be built here (the
    attempt then meets the same problem and records it as usual)."""
    try:
        return sent_sha256(provider.sent_audio(clip, item))
    except Exception as exc:  # an unreadable file, a decode error: the attempt reports it
        log.debug("no sent-audio hash for utterance %s: %s", item.external_id, exc)
        return None
