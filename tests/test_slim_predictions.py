"""The report's slim predictions: columns in, the same numbers out."""

from __future__ import annotations

from types import SimpleNamespace

from spectragram_bench.core.metrics import ErrorCounts
from spectragram_bench.reporting.alignment import HIT
from spectragram_bench.reporting.predictions import ScoredPrediction, resolve_normalizer
from spectragram_bench.reporting.slim_predictions import SlimPredictions, slimmed


def scored(pid, status, *, words=None, columns=None, lat=None, variant=None, norm=None):
    p = SimpleNamespace(prediction_id=pid, job_run_id=7, status=status, hyp_text="secret text")
    u = SimpleNamespace(utt_id=pid, ref_text="ref")
    return ScoredPrediction(p, u, "ds", "test", variant if variant is not None else {}, lat, "v2", norm,
                            words, words, columns, stored=words is not None)


def test_a_slim_prediction_reads_back_its_numbers_without_texts():
    norm = resolve_normalizer("basic@1")
    clean = {}
    lat = SimpleNamespace(api_time_ms=12.5, meta_json={"ttft_ms": 3, "finalization_ms": 140.25, "attempt_log": [{"ms": 1}],
                                                       "timeline": [1, 2], "is_final": True})
    ok = scored(1, "ok", words=ErrorCounts(3, 1, 0, 2), lat=lat, variant=clean, norm=norm,
                columns=[(HIT, "a", "a"), ("S", "b", "c"), ("I", None, "d")])
    failed = scored(2, "failed", variant=clean, norm=norm)
    untimed = scored(3, "ok", words=ErrorCounts(2, 0, 0, 0), variant=clean, norm=norm, columns=[(HIT, "a", "a")],
                     lat=SimpleNamespace(api_time_ms=None, meta_json=None))
    later = scored(4, "ok", words=ErrorCounts(1, 0, 0, 0), variant=clean, norm=norm,
                   lat=SimpleNamespace(api_time_ms=5.0, meta_json={"revisions": 2}))
    preds = SlimPredictions()
    passed = list(slimmed([ok, failed, untimed, later], preds))
    assert passed == [ok, failed, untimed, later]  # the stream goes on unchanged
    assert len(preds) == 4
    a, b, c, d = preds
    assert d.latency.meta_json == {"revisions": 2.0}  # a number first seen late: absent from the earlier ones
    assert "revisions" not in a.latency.meta_json
    assert (a.prediction.prediction_id, a.prediction.job_run_id, a.prediction.status) == (1, 7, "ok")
    assert a.utterance is None and not hasattr(a.prediction, "hyp_text")
    assert a.words == ErrorCounts(3, 1, 0, 2) and a.stored and a.ok
    assert a.columns == [("S", "b", "c"), ("I", None, "d")]  # only the edits
    assert a.latency.api_time_ms == 12.5
    assert a.latency.meta_json == {"ttft_ms": 3.0, "finalization_ms": 140.25}  # numbers only, no flags, no logs
    assert a.ttft_ms == 3.0
    assert a.normalizer is norm and a.dataset == "ds" and a.variant_json is clean
    assert b.words is None and b.columns is None and b.latency is None and not b.ok
    assert c.columns == [] and c.latency.api_time_ms is None and c.latency.meta_json == {}
    assert preds[-1].prediction.prediction_id == 4 and [p.prediction.prediction_id for p in preds[:2]] == [1, 2]


def test_the_columns_say_what_the_rebuilt_predictions_say():
    import gc

    import numpy as np

    from spectragram_bench.reporting.html import collector_paused

    basic, none = resolve_normalizer("basic@1"), resolve_normalizer("none@1")
    lat = SimpleNamespace(api_time_ms=12.5, meta_json={"ttft_ms": 3, "finalization_ms": 140.25})
    items = [
        scored(1, "ok", words=ErrorCounts(1, 1, 0, 0), lat=lat, norm=basic, columns=[(HIT, "a", "a"), ("s", "b", "c")]),
        scored(2, "failed", norm=basic),
        scored(3, "ok", words=ErrorCounts(2, 0, 0, 0), norm=none, columns=[(HIT, "a", "a")],
               lat=SimpleNamespace(api_time_ms=None, meta_json=None)),
    ]
    items[2].prediction.job_run_id = 8
    preds = SlimPredictions()
    for sp in items:
        preds.add(sp)
    assert preds.job_runs().tolist() == [sp.prediction.job_run_id for sp in preds]
    assert preds.ok().tolist() == [sp.ok for sp in preds]
    api = preds.latency()
    assert api[0] == 12.5 and np.isnan(api[1:]).all()
    fin = preds.latency("finalization_ms")
    assert fin[0] == 140.25 and np.isnan(fin[1:]).all() and np.isnan(preds.latency("absent")).all()
    assert list(preds.edits()) == [(7, [("s", "b", "c")])]
    assert preds.normalizers() == {7: basic, 8: none}
    where, wheres = preds.wheres()
    assert [wheres[i][4] for i in where] == [sp.normalizer for sp in preds]
    preds.add(items[0])  # the columns are copies: the predictions can still grow
    assert len(preds.job_runs()) == 4
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
