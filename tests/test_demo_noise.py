"""The noise demo (jobs/demo_noise.json) as shipped: PocketSphinx's WER rises as the SNR falls."""

from __future__ import annotations

import pytest
from conftest import REPO, run_cli
from fixtures.runs import stored, wer_by_variant


@pytest.mark.slow
def test_noise_demo_wer_rises_as_snr_falls(tmp_path):
    db = tmp_path / "noise.db"
    proc = run_cli("--config", str(REPO / "jobs" / "demo_noise.json"), "--max-utt", "6", "--db", f"sqlite:///{db}")
    assert proc.returncode == 0, proc.stderr
    wer = wer_by_variant(db)
    assert list(wer) == ["clean", "noise white 20 dB", "noise white 10 dB", "noise white 5 dB", "noise white 0 dB"]
    assert wer["clean"] < wer["noise white 20 dB"] < wer["noise white 10 dB"] <= wer["noise white 0 dB"]
    assert wer["noise white 10 dB"] <= wer["noise white 5 dB"] <= wer["noise white 0 dB"]
    rows = stored(db)
    assert len({r.external_id for r in rows}) == 6 and all(r.status == "ok" for r in rows)
    for r in rows:
        if r.variant["kind"] == "noise":
            assert abs(r.facts["snr_db_measured"] - r.variant["snr_db"]) < 0.1
    assert "noise white 0 dB" in proc.stdout
