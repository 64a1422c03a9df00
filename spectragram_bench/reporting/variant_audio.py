"""What the model heard: `report --variant-audio` writes each degraded utterance (noise,
telephony, speed) as the provider received it, beside the report, so a reader can listen to
the 0 dB clip that produced a bad transcript.

The variant is applied exactly as the executor applies it (datasets/variants.apply_variant,
seeded per utterance, with the run-time resources of worker/registration.VariantResolver), and
the clip written is what an adapter uploads (AudioClip.file_bytes: a WAV of the derived audio).
Clean utterances need no copy: their play link is the source file itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from spectragram_bench.core.audio_source import AudioSource
from spectragram_bench.core.config import parse_config
from spectragram_bench.core.errors import AudioError, BenchError
from spectragram_bench.core.persistence import Database
from spectragram_bench.core.records import WorkItem
from spectragram_bench.datasets.variants import apply_variant
from spectragram_bench.reporting.predictions import ScoredPrediction
from spectragram_bench.reporting.report_audio import relative_href

log = logging.getLogger(__name__)


def _resolver(db: Database, config_json: dict[str, Any] | None):
    from spectragram_bench.worker.registration import VariantResolver

    stored = {k: v for k, v in (config_json or {}).items() if k not in ("selection", "database_url")}
    return VariantResolver(db, parse_config(stored, "the benchmark's stored config"))


def variant_clips(
    db: Database, config_json: dict[str, Any] | None, preds: Iterable[ScoredPrediction], out_dir: Path, clips_dir: Path
) -> tuple[dict[int, str], list[str]]:
    """Links (relative to `out_dir`) to the derived audio of every degraded utterance, keyed by
    utt_id, and one line per utterance that could not be derived (its audio is missing, ...)."""
    hrefs: dict[int, str] = {}
    problems: list[str] = []
    resolver = None
    seen: set[int] = set()
    for sp in preds:
        u = sp.utterance
        if u.utt_id in seen or sp.variant_json.get("kind", "clean") == "clean":
            continue
        seen.add(u.utt_id)
        clip_path = clips_dir / "variants" / f"{u.utt_id}.wav"
        if not clip_path.is_file():
            try:
                resolver = resolver or _resolver(db, config_json)
                variant = resolver(u.dataset_id, sp.variant_json)
                meta = u.meta_json or {}
                item = WorkItem(0, u.utt_id, u.external_id, u.audio_path or "", u.duration_s,
                                variant=variant, source=AudioSource.restore(u.audio_path or "", meta))
                clip, _facts = apply_variant(item.audio.open(), variant, item)
                data, _mime, _name = clip.file_bytes()
            except (AudioError, BenchError, OSError, ValueError) as exc:
                problems.append(f"{u.external_id}: {exc}")
                continue
            clip_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = clip_path.with_name(clip_path.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(clip_path)
        href = relative_href(clip_path, out_dir)
        if href is not None:
            hrefs[u.utt_id] = href
    if problems:
        log.warning("variant audio: %d utterance(s) not written, e.g. %s", len(problems), problems[0])
    return hrefs, problems
