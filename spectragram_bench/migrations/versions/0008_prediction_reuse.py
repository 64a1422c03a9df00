"""prediction reuse: the hash of the audio each prediction was made from, the prediction a
reused one was copied from, and the adapter version of each job run (worker/reuse.py)

Revision ID: prediction_reuse
Revises: heartbeat
"""

import sqlalchemy as sa
from alembic import op

revision = "prediction_reuse"
down_revision = "heartbeat"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("prediction", sa.Column("sent_sha256", sa.String(64), nullable=True))
    op.add_column("prediction", sa.Column("reused_from", sa.Integer(), nullable=True))
    op.create_index("ix_prediction_sent_sha256", "prediction", ["sent_sha256"])
    op.add_column("job_run", sa.Column("adapter_version", sa.String(50), nullable=True))


def downgrade() -> None:
    # native DROP COLUMN (SQLite >= 3.35), as wire_clocks
    op.drop_column("job_run", "adapter_version")
    op.drop_index("ix_prediction_sent_sha256", table_name="prediction")
    op.drop_column("prediction", "reused_from")
    op.drop_column("prediction", "sent_sha256")
