"""utterance_score table and speaker_score view

Per-utterance word and character edit counts of each evaluation, so every aggregate is a
sum of stored rows; speaker_score sums them per speaker (NULL speaker: utterances without one).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SPEAKER_SCORE_VIEW = """
CREATE VIEW speaker_score AS
SELECT
    s.job_run_id,
    s.eval_version,
    u.dataset_id,
    u.variant_id,
    u.speaker,
    COUNT(*) AS utterances,
    SUM(s.hits + s.substitutions + s.deletions) AS ref_words,
    SUM(s.substitutions) AS substitutions,
    SUM(s.deletions) AS deletions,
    SUM(s.insertions) AS insertions,
    SUM(s.substitutions + s.deletions + s.insertions) AS word_errors,
    CAST(SUM(s.substitutions + s.deletions + s.insertions) AS FLOAT)
        / NULLIF(SUM(s.hits + s.substitutions + s.deletions), 0) AS wer,
    SUM(s.char_hits + s.char_substitutions + s.char_deletions) AS ref_chars,
    SUM(s.char_substitutions + s.char_deletions + s.char_insertions) AS char_errors,
    CAST(SUM(s.char_substitutions + s.char_deletions + s.char_insertions) AS FLOAT)
        / NULLIF(SUM(s.char_hits + s.char_substitutions + s.char_deletions), 0) AS cer
FROM utterance_score s
JOIN utterance u ON u.utt_id = s.utt_id
GROUP BY s.job_run_id, s.eval_version, u.dataset_id, u.variant_id, u.speaker
"""


def upgrade() -> None:
    op.create_table(
        "utterance_score",
        sa.Column("score_id", sa.Integer(), nullable=False),
        sa.Column("job_run_id", sa.Integer(), nullable=False),
        sa.Column("utt_id", sa.Integer(), nullable=False),
        sa.Column("eval_version", sa.String(length=100), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("substitutions", sa.Integer(), nullable=False),
        sa.Column("deletions", sa.Integer(), nullable=False),
        sa.Column("insertions", sa.Integer(), nullable=False),
        sa.Column("char_hits", sa.Integer(), nullable=False),
        sa.Column("char_substitutions", sa.Integer(), nullable=False),
        sa.Column("char_deletions", sa.Integer(), nullable=False),
        sa.Column("char_insertions", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["job_run_id"], ["job_run.job_run_id"]),
        sa.ForeignKeyConstraint(["utt_id"], ["utterance.utt_id"]),
        sa.PrimaryKeyConstraint("score_id"),
        sa.UniqueConstraint("job_run_id", "utt_id", "eval_version", name="uq_utterance_score_identity"),
    )
    with op.batch_alter_table("utterance_score", schema=None) as batch_op:
        batch_op.create_index("ix_utterance_score_lookup", ["job_run_id", "eval_version"], unique=False)
        batch_op.create_index(batch_op.f("ix_utterance_score_utt_id"), ["utt_id"], unique=False)
    op.execute(SPEAKER_SCORE_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS speaker_score")
    with op.batch_alter_table("utterance_score", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_utterance_score_utt_id"))
        batch_op.drop_index("ix_utterance_score_lookup")
    op.drop_table("utterance_score")
