"""Report texts are cut for display, the database keeps them whole: a reply of megabytes must
not make a report of megabytes."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select, update
from test_report import build_benchmark

from spectragram_bench.core.models import JobRun, Prediction, Utterance
from spectragram_bench.core.persistence import open_database
from spectragram_bench.reporting.browser_data import decode_browser_data
from spectragram_bench.reporting.html import write_report


def test_megabyte_texts_are_cut_in_the_report_and_whole_in_the_database(tmp_path: Path, sqlite_url: str):
    bench_id = build_benchmark(sqlite_url)
    db = open_database(sqlite_url)
    baseline = write_report(db, bench_id, tmp_path / "before.html").stat().st_size
    long_hyp = "lorem ipsum dolor " * 100_000  # 1.8 MB, 300,000 words
    one_word = "x" * 500_000
    long_error = "upstream said: " + "<html>" * 100_000
    with db.transaction() as s:
        ok = s.execute(select(Prediction).where(Prediction.status == "ok").order_by(Prediction.prediction_id)).scalars().all()
        ok[0].hyp_text, ok[1].hyp_text = long_hyp, one_word
        failed = s.execute(select(Prediction).where(Prediction.status == "failed")).scalars().first()
        failed.error_text = long_error
        s.execute(update(Utterance).where(Utterance.utt_id == ok[2].utt_id).values(ref_text="REF " * 200_000))
        s.execute(update(JobRun).values(error_text=long_error))
    after = write_report(db, bench_id, tmp_path / "after.html").stat().st_size
    with db.session() as s:
        lengths = sorted(s.execute(select(func.length(Prediction.hyp_text))).scalars().all(), key=lambda n: n or 0)[-2:]
        error_len = s.execute(select(func.length(Prediction.error_text)).where(Prediction.status == "failed")).scalars().first()
    db.dispose()
    assert lengths == [len(one_word), len(long_hyp)] and error_len == len(long_error)  # stored whole
    assert after - baseline < 300_000, (baseline, after)  # shown cut: kilobytes, not megabytes
    html = (tmp_path / "after.html").read_text()
    data = json.dumps(decode_browser_data(html), ensure_ascii=False)  # the utterance browser's texts
    assert "more characters; the full text is in the database" in html + data
    assert "more words; the full text is in the database" in data
    assert len(data) < 300_000
