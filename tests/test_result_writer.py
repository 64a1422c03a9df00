"""The single writer: a result the database refuses costs that result, never the batch or the run."""

from __future__ import annotations

from sqlalchemy import select

from spectragram_bench.core.models import (
    Benchmark,
    Dataset,
    DatasetVariant,
    JobRun,
    Model,
    Prediction,
    Utterance,
)
from spectragram_bench.core.models import Provider as ProviderRow
from spectragram_bench.core.persistence import open_database
from spectragram_bench.core.records import PredictionResult


def _job_run_with_utterances(db, n: int) -> tuple[int, list[int]]:
    with db.transaction() as s:
        prov = ProviderRow(name="p")
        ds = Dataset(name="d", source="s")
        s.add_all([prov, ds])
        s.flush()
        model = Model(provider_id=prov.provider_id, name="m", params_hash="h")
        var = DatasetVariant(dataset_id=ds.dataset_id, split="x", variant_key="k", variant_json={})
        bench = Benchmark(config_json={})
        s.add_all([model, var, bench])
        s.flush()
        run = JobRun(benchmark_id=bench.benchmark_id, provider_id=prov.provider_id, model_id=model.model_id)
        utts = [Utterance(dataset_id=ds.dataset_id, variant_id=var.variant_id, external_id=f"u{i}", audio_path="a",
                          ref_text="r") for i in range(n)]
        s.add_all([run, *utts])
        s.flush()
        return run.job_run_id, [u.utt_id for u in utts]


def test_a_refused_result_is_isolated_and_the_rest_of_the_batch_is_stored(db_url):
    from spectragram_bench.core.result_writer import ResultWriter

    db = open_database(db_url)
    job_run_id, utts = _job_run_with_utterances(db, 3)
    writer = ResultWriter(db, max_delay_s=0.2)
    for utt in utts[:2]:
        writer.submit(PredictionResult(job_run_id, utt, "hello"))
    writer.submit(PredictionResult(job_run_id, 999_999, "no such utterance"))  # the database refuses it (foreign key)
    writer.submit(PredictionResult(job_run_id, utts[2], "world"))
    writer.close()  # no error: one refused result does not stop the writer
    writer2 = ResultWriter(db, max_delay_s=0.2)
    writer2.submit(PredictionResult(job_run_id, utts[0], "again"))  # the writer is still usable afterwards
    writer2.close()
    with db.session() as s:
        stored = s.execute(select(Prediction.utt_id, Prediction.hyp_text).order_by(Prediction.utt_id)).all()
    db.dispose()
    assert [tuple(r) for r in stored] == [(utts[0], "hello"), (utts[1], "hello"), (utts[2], "world")]
