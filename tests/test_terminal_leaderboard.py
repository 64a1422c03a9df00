"""The terminal leaderboard at 80-100 columns: fewer columns or stacked rows, never a cut number or name."""

from __future__ import annotations

from rich.console import Console

from spectragram_bench.reporting.columns import leaderboard_columns
from spectragram_bench.reporting.leaderboard import LeaderboardRow, StoredInterval
from spectragram_bench.reporting.summary import SummaryRow
from spectragram_bench.reporting.terminal import fit_columns, stacked, table_of

METRICS = {
    "n_utterances": 40, "n_failed": 0, "wer": 0.26123, "cer": 0.1605, "substitutions": 79, "deletions": 3,
    "insertions": 6, "latency_api_ms_p50": 1504.2, "latency_api_ms_p95": 3842.0, "rtfx": 1.45,
    "fwer": 0.4012, "kw_recall": 0.8, "mer": 0.25,
}


def _rows(system: str = "mock/nova-3-general-long-name") -> list[LeaderboardRow]:
    rows = []
    for k, model in enumerate(("nova-3-general-long-name", "nova-2-general-long-name")):
        s = SummaryRow(k + 1, f"mock/{model}" if system.startswith("mock") else system, "mock", model,
                       "librispeech", "test-clean", "clean", "v2+basic@1", "completed", dict(METRICS))
        r = LeaderboardRow(s, intervals=[StoredInterval("wer", "utterance_percentile", 0.2074, 0.3587, 1000, 0)],
                           usd_per_audio_hour=0.26)
        rows.append(r)
    return rows


def _render(renderable, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_fits_80_and_100_columns_without_cutting_anything():
    rows = _rows()
    cols = leaderboard_columns(rows)
    few = [c for c in cols if c.key in ("system", "dataset", "variant", "n", "failed", "wer", "wer_ci", "cer", "sdi")]
    layouts = {}
    for width in (80, 100):
        shown, hidden = fit_columns(few, rows, width, wide=False)
        layouts[width] = [c.key for c in shown]
        text = _render(table_of(shown, rows, "t") if shown else stacked(few, rows, "t", width), width)
        assert "\u2026" not in text and all(len(line) <= width for line in text.splitlines())
        for needle in ("mock/nova-3-general-long-name", "mock/nova-2-general-long-name", "26.12%", "librispeech/test-clean"):
            assert needle in text, (width, needle)
    assert layouts[100][:2] == ["system", "dataset"] and "wer" in layouts[100] and len(layouts[100]) < len(few)
    assert layouts[80] == []  # two long names and WER leave no room for the rest: stacked
    assert {"fwer", "kw_recall"} <= {c.key for c in cols}  # registered metrics become columns
    # with every metric column, 100 columns would hide too many: the rows stack, nothing left out
    assert fit_columns(cols, rows, 100, wide=False) == ([], cols)
    text = _render(stacked(cols, rows, "t", 100), 100)
    assert all(len(line) <= 100 for line in text.splitlines()) and "\u2026" not in text
    for c in cols:
        if c.numeric and c.text(rows[0]) != "-":
            assert f"{c.header} {c.text(rows[0])}" in text, c.key


def test_wide_shows_every_column_and_narrow_stacks():
    rows = _rows()
    cols = leaderboard_columns(rows)
    shown, hidden = fit_columns(cols, rows, 80, wide=True)
    assert shown == cols and not hidden
    assert "mer" in {c.key for c in cols}
    shown, hidden = fit_columns(cols, rows, 40, wide=False)  # not even system + dataset + WER fit
    assert shown == [] and hidden == cols
    text = _render(stacked(cols, rows, "t", 40), 40)
    assert "\u2026" not in text and "26.12%" in text and "[20.74, 35.87]" in text
