"""Registration: a plan into the database (datasets, utterances, the benchmark, its job runs
and their work items), and the providers and normaliser a job config names."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from itertools import islice
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectragram_bench.core.audio_source import META_KEY
from spectragram_bench.core.config import JobConfig, ProviderConfig
from spectragram_bench.core.environment import env_json, host_info_json
from spectragram_bench.core.errors import BenchError
from spectragram_bench.core.models import Benchmark, JobRun, Model, Utterance
from spectragram_bench.core.models import Dataset as DatasetRow
from spectragram_bench.core.models import DatasetVariant as VariantRow
from spectragram_bench.core.models import Provider as ProviderRow
from spectragram_bench.core.normalize import Normalizer
from spectragram_bench.core.normalize import resolve as resolve_normalizer
from spectragram_bench.core.persistence import Database, insert_for, upsert
from spectragram_bench.core.records import UtteranceRecord
from spectragram_bench.core.redaction import redact
from spectragram_bench.core.registry import DATASETS, provider_class
from spectragram_bench.core.statuses import JobRunStatus
from spectragram_bench.datasets.base import Dataset
from spectragram_bench.datasets.variants import prepare_variant, variant_key
from spectragram_bench.providers.base import Provider
from spectragram_bench.worker import work_items
from spectragram_bench.worker.accounts import check_account_limits, with_account_limits
from spectragram_bench.worker.plan import Plan

log = logging.getLogger(__name__)



# --- registration: a plan into the database --------------------------------------------------


def build_provider(pc: ProviderConfig, all_providers: list[ProviderConfig]) -> Provider:
    """One provider, instantiated and checked (unknown name, missing key, bad params)."""
    provider = provider_class(pc)(with_account_limits(pc, all_providers))
    provider.check_ready()
    return provider


def build_providers(config: JobConfig) -> list[Provider]:
    """Instantiate and check every provider before any work starts (missing key, bad params)."""
    check_account_limits(config.providers)
    return [build_provider(pc, config.providers) for pc in config.providers]


def normalizer_for(config: JobConfig) -> Normalizer:
    return resolve_normalizer(config.evaluation.normalizer, config.evaluation.normalizer_steps)


class VariantResolver:
    """The variant as the executor applies it, for items rebuilt from the database.

    The database stores a variant's parameters; some variants also need run-time resources
    (datasets/variants.prepare_variant): noise files are listed from their folder, and a
    babble pool is the dataset's utterances before selection, so a resume or a worker reads
    that dataset again (from the benchmark's config) the first time it meets such a variant.
    """

    def __init__(self, db: Database, config: JobConfig, known: dict[tuple[int, str], dict[str, Any]] | None = None) -> None:
        self.db = db
        self.config = config
        self.known = dict(known or {})
        self._lock = threading.Lock()

    def __call__(self, dataset_id: int, spec: dict[str, Any]) -> dict[str, Any]:
        key = (dataset_id, variant_key(spec))
        with self._lock:
            if key not in self.known:
                if spec.get("noise") == "babble":  # needs the whole dataset's utterance list
                    self._load_babble_pools()
                else:
                    self.known[key] = prepare_variant(spec, ())
            if key not in self.known:
                raise BenchError(f"variant {spec} of dataset {dataset_id} is not in the benchmark's config")
            return self.known[key]

    def _load_babble_pools(self) -> None:
        for dc in self.config.datasets:
            specs = [v.model_dump() for v in dc.variants]
            specs = [v for v in specs if v.get("noise") == "babble"]
            if not specs:
                continue
            ds = DATASETS.get(dc.name)(dc.root, dc.subsets, dc.options)
            info = ds.info()
            with self.db.session() as s:
                row = s.execute(select(DatasetRow).filter_by(name=dc.label or info.name, source=info.source)).scalar_one_or_none()
            if row is None:
                continue
            everything = list(ds.utterances())
            for spec in specs:
                self.known[(row.dataset_id, variant_key(spec))] = prepare_variant(spec, everything)



def register_dataset(session: Session, dataset: Dataset, label: str | None = None) -> DatasetRow:
    """The dataset's row, named by its `label` when the job gives one (two roots of one loader)."""
    info = dataset.info()
    name = label or info.name
    existing = session.execute(
        select(DatasetRow).filter_by(name=name, source=info.source)
    ).scalar_one_or_none()
    if existing is not None and existing.checksum and info.checksum and existing.checksum != info.checksum:
        log.warning(
            "dataset %s at %s changed since it was last registered (transcript checksum %s... -> %s...)",
            name, info.source, existing.checksum[:12], info.checksum[:12],
        )
    return upsert(
        session,
        DatasetRow,
        {"name": name, "source": info.source, "license": info.license, "checksum": info.checksum, "notes": info.notes},
        ["name", "source"],
        ["license", "checksum", "notes"],
    )


def utterance_meta(r: UtteranceRecord) -> dict[str, Any]:
    """meta_json, with where the audio is (a segment's offset/length, a row's file index) and the
    language, so a work item can be rebuilt from the row alone."""
    meta = dict(r.meta)
    source = r.audio
    if source.offset_s:
        meta["offset_s"] = source.offset_s
    if source.segment_s is not None:
        meta["segment_s"] = source.segment_s
    stored = source.stored()
    if stored is not None:
        meta[META_KEY] = stored
    if r.language:
        meta["language"] = r.language
    return meta


def register_utterances(
    session: Session, dataset_id: int, variant: dict[str, Any], records: Sequence[UtteranceRecord]
) -> list[int]:
    """Insert (or refresh) the selected utterances of one variant; returns their ids in order."""
    by_split: dict[str, list[UtteranceRecord]] = {}
    for r in records:
        by_split.setdefault(r.subset, []).append(r)
    ids_out: dict[tuple[str, str], int] = {}
    insert = insert_for(session.bind.dialect.name)
    for split, recs in by_split.items():
        vrow = upsert(
            session,
            VariantRow,
            {"dataset_id": dataset_id, "split": split, "variant_key": variant_key(variant), "variant_json": variant},
            ["dataset_id", "split", "variant_key"],
        )
        rows = [
            {
                "dataset_id": dataset_id,
                "variant_id": vrow.variant_id,
                "external_id": r.external_id,
                "audio_path": r.audio_path,
                "ref_text": r.ref_text,
                "duration_s": r.duration_s,
                "speaker": r.speaker,
                "meta_json": utterance_meta(r),
            }
            for r in recs
        ]
        if rows:  # one cached statement, executemany: compiling a 500-row VALUES costs more than running it
            stmt = insert(Utterance)
            stmt = stmt.on_conflict_do_update(
                index_elements=["dataset_id", "variant_id", "external_id"],
                set_={k: stmt.excluded[k] for k in ("audio_path", "ref_text", "duration_s", "speaker", "meta_json")},
            )
            session.connection().execute(stmt, rows)
        ids = session.execute(
            select(Utterance.external_id, Utterance.utt_id).where(
                Utterance.dataset_id == dataset_id, Utterance.variant_id == vrow.variant_id,
                Utterance.external_id.in_([r.external_id for r in recs]),
            )
        ).all()
        ids_out.update({(split, ext): utt for ext, utt in ids})
    return [ids_out[(r.subset, r.external_id)] for r in records]


def config_hash(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def register_job_run(session: Session, benchmark_id: int, provider: Provider) -> JobRun:
    pc: ProviderConfig = provider.config
    sdk, sdk_version = provider.sdk_info()
    prow = upsert(session, ProviderRow, {"name": pc.name, "sdk": sdk, "sdk_version": sdk_version}, ["name"], ["sdk", "sdk_version"])
    params = redact({**provider.model_params(), "mode": pc.mode})
    mrow = upsert(
        session,
        Model,
        {"provider_id": prow.provider_id, "name": pc.model, "params_hash": config_hash(params), "params_json": params},
        ["provider_id", "name", "params_hash"],
    )
    run = JobRun(
        benchmark_id=benchmark_id,
        provider_id=prow.provider_id,
        model_id=mrow.model_id,
        label=pc.display,
        status=JobRunStatus.QUEUED,
        adapter_version=type(provider).adapter_version,
        env_json=env_json(),
        host_info_json=host_info_json(),
    )
    session.add(run)
    session.flush()
    return run


def stored_config(config: JobConfig, plan: Plan) -> dict[str, Any]:
    stored = redact(config.model_dump(mode="json"))
    stored["selection"] = {"max_utt": plan.max_utt, "max_per_subset": plan.max_per_subset}
    return stored


REGISTER_BATCH = 5000


def materialise(
    db: Database, plan: Plan, providers: Sequence[Provider], notes: str | None = None
) -> tuple[int, list[int], dict[tuple[int, str], dict[str, Any]]]:
    """Write the plan in one transaction: benchmark, job runs (queued), utterances and work items,
    the utterances streamed from the loaders in batches (the plan does not hold them).

    Returns (benchmark_id, job_run_ids in provider order, run-time variants by (dataset_id, variant key)).
    """
    runtime: dict[tuple[int, str], dict[str, Any]] = {}
    with db.transaction() as s:
        bench = Benchmark(name=plan.config.name, config_json=stored_config(plan.config, plan), notes=notes)
        s.add(bench)
        s.flush()
        job_run_ids = [register_job_run(s, bench.benchmark_id, p).job_run_id for p in providers]
        for rows in plan.rows:
            drow = register_dataset(s, rows.dataset, rows.config.label)
            planned = plan.iter_utterances(rows)
            while batch := list(islice(planned, REGISTER_BATCH)):
                by_variant: dict[str, list] = {}
                keys: dict[int, str] = {}  # a variant's utterances share its dict (alive in `batch`): hashed once
                for u in batch:
                    vkey = keys.get(id(u.variant))
                    if vkey is None:
                        vkey = keys[id(u.variant)] = variant_key(u.variant)
                    by_variant.setdefault(vkey, []).append(u)
                for vkey, group in by_variant.items():
                    utt_ids = register_utterances(s, drow.dataset_id, group[0].variant, [u.record for u in group])
                    runtime[(drow.dataset_id, vkey)] = group[0].runtime_variant
                    for job_run_id in job_run_ids:
                        work_items.add_work_items(s, job_run_id, utt_ids)
        return bench.benchmark_id, job_run_ids, runtime
