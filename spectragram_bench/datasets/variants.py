"""Audio variants derived from a dataset's clean audio (the datasets issue adds noise,
telephony and speed perturbation here). A variant never modifies the source file."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.records import WorkItem


def variant_key(variant: dict[str, Any]) -> str:
    """A stable identity for a variant's parameters (the dataset_variant unique key)."""
    return hashlib.sha256(json.dumps(variant, sort_keys=True).encode()).hexdigest()[:32]


def variant_label(variant: dict[str, Any]) -> str:
    kind = variant.get("kind", "clean")
    rest = ",".join(f"{k}={v}" for k, v in sorted(variant.items()) if k != "kind")
    return f"{kind}({rest})" if rest else kind


def apply_variant(clip: AudioClip, variant: dict[str, Any], item: WorkItem) -> tuple[AudioClip, dict[str, Any]]:
    """The clip as the variant hears it, plus facts to store (e.g. the measured SNR)."""
    kind = variant.get("kind", "clean")
    if kind == "clean":
        return clip, {}
    raise ValueError(f"unknown variant kind {kind!r}")
