"""A new benchmark from references and predictions made elsewhere (`import` without BENCHMARK_ID).

The references are a manifest (NeMo / Open ASR Leaderboard JSON lines, or CSV/TSV: read by the
registered `jsonl_manifest` / `csv_manifest` loaders, so ids, speakers, durations, keywords and
nonspeech marks are what a `run` over that manifest would store) or a transcript file (sclite
trn, Kaldi text: ids, texts and trn speakers only). An Open ASR Leaderboard manifest carries both
the reference (`text`) and the prediction (`pred_text`), so one file can be both. The benchmark
is registered like a run's (dataset, clean variant, utterances), its stored config names the
references and the evaluation, and each predictions file then becomes one job run
(evaluations/importing.py). An entry the loader flags (an empty reference, a bad duration) is
that utterance's input failure in every imported job run, as in a run; nothing is guessed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spectragram_bench.core.config import EvaluationConfig
from spectragram_bench.core.errors import BenchError
from spectragram_bench.core.models import Benchmark
from spectragram_bench.core.records import DatasetInfo, UtteranceRecord
from spectragram_bench.core.registry import DATASETS
from spectragram_bench.datasets.base import Dataset
from spectragram_bench.evaluations.transcripts import HYP_KEYS, detect_format, read_transcripts

#: keys of an Open ASR Leaderboard manifest that hold a prediction, not facts about the utterance
PREDICTION_KEYS = tuple(k for k in HYP_KEYS if k != "text")
CLEAN: dict[str, Any] = {"kind": "clean"}


class TranscriptReferences(Dataset):
    """References without audio: an sclite trn or Kaldi text file (one subset: the file's stem)."""

    name = "transcripts"

    def __init__(self, root: str, fmt: str) -> None:
        super().__init__(root, [], {})
        self.fmt = fmt
        self.selected = [self.root.stem]

    def info(self) -> DatasetInfo:
        return self.describe(hashlib.sha256(self.root.read_bytes()).hexdigest(), None)

    def utterances(self) -> Iterator[UtteranceRecord]:
        for t in read_transcripts(self.root, self.fmt, hypothesis=False).values():
            meta = {} if t.text else {"load_error": f"{self.root}: empty reference for {t.utt_id!r}"}
            yield UtteranceRecord(t.utt_id, "", t.text, self.root.stem, speaker=t.speaker, meta=meta)


def reference_dataset(path: Path, fmt: str | None = None) -> Dataset:
    """The loader that reads `path` as references: a manifest loader, else a transcript file."""
    if not path.is_file():
        raise BenchError(f"references {path}: no such file")
    fmt = fmt or detect_format(path)
    if path.suffix.lower() in (".csv", ".tsv"):
        return DATASETS.get("csv_manifest")(str(path), [], {})
    if fmt == "jsonl":
        return DATASETS.get("jsonl_manifest")(str(path), [], {})
    return TranscriptReferences(str(path), fmt)


@dataclass(frozen=True)
class NewBenchmark:
    benchmark_id: int
    utterances: dict[str, int]  # external id -> utt_id
    problems: list[str]  # one line per utterance the loader flagged


def create_benchmark(session, name: str, refs: Path, fmt: str | None, evaluation: EvaluationConfig) -> NewBenchmark:
    """Register the references as a benchmark of no provider (imports only) and return its utterances."""
    from spectragram_bench.worker.registration import register_dataset, register_utterances

    dataset = reference_dataset(refs, fmt)
    records = []
    for r in dataset.utterances():
        for key in PREDICTION_KEYS:
            r.meta.pop(key, None)
        records.append(r)
    if not records:
        raise BenchError(f"references {refs}: no utterances")
    row = register_dataset(session, dataset)
    ids = register_utterances(session, row.dataset_id, CLEAN, records)
    config = {
        "name": name,
        "description": f"imported: references from {refs.name}, predictions made elsewhere",
        "providers": [],
        "datasets": [{"name": dataset.name, "root": str(refs.resolve()), "subsets": [], "options": {}}],
        "evaluation": evaluation.model_dump(mode="json"),
    }
    bench = Benchmark(name=name, config_json=config, notes=f"imported from {refs.name}")
    session.add(bench)
    session.flush()
    problems = [f"{r.external_id}: {r.meta['load_error']}" for r in records if "load_error" in r.meta]
    return NewBenchmark(bench.benchmark_id, {r.external_id: i for r, i in zip(records, ids, strict=True)}, problems)
