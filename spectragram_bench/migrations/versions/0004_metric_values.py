"""per-utterance values of any metric (utterance_value) and one row per evaluation

utterance_score's eight fixed columns become rows of utterance_value named like the metric
registry's values (hits, substitutions, deletions, insertions, char_hits, ...), copied exactly
(integers stored as floats are exact), so an old database reports the same numbers. The
speaker_score view is rebuilt on the new table with the same columns. `evaluation` gets one row
per (job run, eval version) found in metric_summary, labelled by its normaliser.

Revision ID: metric_values
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "metric_values"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = (
    "hits", "substitutions", "deletions", "insertions",
    "char_hits", "char_substitutions", "char_deletions", "char_insertions",
)


def _sum(name: str) -> str:
    return f"SUM(CASE WHEN s.name = '{name}' THEN s.value ELSE 0 END)"


def speaker_score_view() -> str:
    ref_words = f"{_sum('hits')} + {_sum('substitutions')} + {_sum('deletions')}"
    word_errors = f"{_sum('substitutions')} + {_sum('deletions')} + {_sum('insertions')}"
    ref_chars = f"{_sum('char_hits')} + {_sum('char_substitutions')} + {_sum('char_deletions')}"
    char_errors = f"{_sum('char_substitutions')} + {_sum('char_deletions')} + {_sum('char_insertions')}"
    return f"""
CREATE VIEW speaker_score AS
SELECT
    s.job_run_id,
    s.eval_version,
    u.dataset_id,
    u.variant_id,
    u.speaker,
    COUNT(DISTINCT s.utt_id) AS utterances,
    CAST({ref_words} AS INTEGER) AS ref_words,
    CAST({_sum('substitutions')} AS INTEGER) AS substitutions,
    CAST({_sum('deletions')} AS INTEGER) AS deletions,
    CAST({_sum('insertions')} AS INTEGER) AS insertions,
    CAST({word_errors} AS INTEGER) AS word_errors,
    CAST({word_errors} AS FLOAT) / NULLIF({ref_words}, 0) AS wer,
    CAST({ref_chars} AS INTEGER) AS ref_chars,
    CAST({char_errors} AS INTEGER) AS char_errors,
    CAST({char_errors} AS FLOAT) / NULLIF({ref_chars}, 0) AS cer
FROM utterance_value s
JOIN utterance u ON u.utt_id = s.utt_id
WHERE s.name IN ({", ".join(f"'{c}'" for c in COLUMNS)})
GROUP BY s.job_run_id, s.eval_version, u.dataset_id, u.variant_id, u.speaker
"""


def upgrade() -> None:
    op.create_table(
        "utterance_value",
        sa.Column("value_id", sa.Integer(), nullable=False),
        sa.Column("job_run_id", sa.Integer(), nullable=False),
        sa.Column("utt_id", sa.Integer(), nullable=False),
        sa.Column("eval_version", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["job_run_id"], ["job_run.job_run_id"]),
        sa.ForeignKeyConstraint(["utt_id"], ["utterance.utt_id"]),
        sa.PrimaryKeyConstraint("value_id"),
        sa.UniqueConstraint("job_run_id", "utt_id", "eval_version", "name", name="uq_utterance_value_identity"),
    )
    with op.batch_alter_table("utterance_value", schema=None) as batch_op:
        batch_op.create_index("ix_utterance_value_lookup", ["job_run_id", "eval_version"], unique=False)
        batch_op.create_index(batch_op.f("ix_utterance_value_utt_id"), ["utt_id"], unique=False)
    op.create_table(
        "evaluation",
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("job_run_id", sa.Integer(), nullable=False),
        sa.Column("eval_version", sa.String(length=100), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("spec_json", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["job_run_id"], ["job_run.job_run_id"]),
        sa.PrimaryKeyConstraint("evaluation_id"),
        sa.UniqueConstraint("job_run_id", "eval_version", name="uq_evaluation_identity"),
    )
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evaluation_job_run_id"), ["job_run_id"], unique=False)
    for column in COLUMNS:
        op.execute(
            "INSERT INTO utterance_value (job_run_id, utt_id, eval_version, name, value) "
            f"SELECT job_run_id, utt_id, eval_version, '{column}', {column} FROM utterance_score"
        )
    op.execute(
        "INSERT INTO evaluation (job_run_id, eval_version, label) "
        "SELECT job_run_id, eval_version, 'normaliser ' || MIN(COALESCE(normalizer, '?')) || ', metrics of eval v1' "
        "FROM metric_summary GROUP BY job_run_id, eval_version"
    )
    op.execute("DROP VIEW IF EXISTS speaker_score")
    op.drop_table("utterance_score")
    op.execute(speaker_score_view())


def downgrade() -> None:
    raise NotImplementedError("metric_values is not reversible: utterance_value holds values utterance_score cannot")
