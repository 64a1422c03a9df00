"""Migration metric_values: a database at revision 0003 (utterance_score's fixed columns) keeps its
numbers: every count moves to utterance_value exactly and speaker_score reads the same."""

from __future__ import annotations

from pathlib import Path

from conftest import migrate
from sqlalchemy import create_engine, text

from spectragram_bench.core.persistence import open_database

OLD_ROWS = [  # utt_id, hits, S, D, I, char hits, S, D, I (as eval v1 wrote them)
    (1, 8, 1, 0, 2, 40, 3, 1, 0),
    (2, 5, 0, 1, 0, 30, 0, 4, 1),
    (3, 0, 0, 0, 3, 0, 0, 0, 9),
]


def _at_0003(path: Path) -> None:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        migrate(conn, "upgrade", "0003")
        conn.execute(text("INSERT INTO provider (provider_id, name) VALUES (1, 'mock')"))
        conn.execute(text("INSERT INTO model (model_id, provider_id, name, params_hash) VALUES (1, 1, 'm', 'h')"))
        conn.execute(text("INSERT INTO dataset (dataset_id, name, source) VALUES (1, 'd', 's')"))
        conn.execute(text("INSERT INTO dataset_variant (variant_id, dataset_id, split, variant_key, variant_json) "
                          "VALUES (1, 1, 'test', 'clean', '{}')"))
        conn.execute(text("INSERT INTO benchmark (benchmark_id, config_json, created_at) VALUES (1, '{}', '2026-01-01 00:00:00')"))
        conn.execute(text("INSERT INTO job_run (job_run_id, benchmark_id, provider_id, model_id, status, eval_version) "
                          "VALUES (1, 1, 1, 1, 'completed', 'v1+basic@1')"))
        for utt, *counts in OLD_ROWS:
            conn.execute(text("INSERT INTO utterance (utt_id, dataset_id, variant_id, external_id, audio_path, ref_text, speaker) "
                              "VALUES (:u, 1, 1, :e, 'a.wav', 'x', :s)"), {"u": utt, "e": f"u{utt}", "s": "A" if utt < 3 else "B"})
            conn.execute(text(
                "INSERT INTO utterance_score (job_run_id, utt_id, eval_version, hits, substitutions, deletions, insertions, "
                "char_hits, char_substitutions, char_deletions, char_insertions) "
                "VALUES (1, :u, 'v1+basic@1', :h, :s, :d, :i, :ch, :cs, :cd, :ci)"),
                dict(zip(("u", "h", "s", "d", "i", "ch", "cs", "cd", "ci"), (utt, *counts), strict=True)))
        conn.execute(text("INSERT INTO metric_summary (job_run_id, dataset_id, variant_id, metric, value, eval_version, normalizer) "
                          "VALUES (1, 1, 1, 'wer', 0.5, 'v1+basic@1', 'basic@1')"))
        before = conn.execute(text("SELECT * FROM speaker_score ORDER BY speaker")).all()
    engine.dispose()
    return before


def test_old_database_migrates_with_numbers_unchanged(tmp_path: Path):
    path = tmp_path / "old.db"
    before = _at_0003(path)
    db = open_database(f"sqlite:///{path}")  # upgrades to head
    with db.session() as s:
        after = s.execute(text("SELECT * FROM speaker_score ORDER BY speaker")).all()
        values = s.execute(text("SELECT utt_id, name, value FROM utterance_value WHERE eval_version = 'v1+basic@1'")).all()
        evaluations = s.execute(text("SELECT job_run_id, eval_version, label FROM evaluation")).all()
        wer = s.execute(text("SELECT value FROM metric_summary WHERE metric = 'wer'")).scalar_one()
    db.dispose()
    assert [tuple(r) for r in after] == [tuple(r) for r in before]
    assert before[0].word_errors == 1 + 2 + 1 and before[1].ref_words == 0  # the view is not vacuous
    names = ("hits", "substitutions", "deletions", "insertions",
             "char_hits", "char_substitutions", "char_deletions", "char_insertions")
    got = {(u, n): v for u, n, v in values}
    assert got == {(utt, n): float(v) for utt, *counts in OLD_ROWS for n, v in zip(names, counts, strict=True)}
    assert evaluations == [(1, "v1+basic@1", "normaliser basic@1, metrics of eval v1")]
    assert wer == 0.5
