"""wire clocks: time queued inside the harness per latency sample; event-loop lag and the
harness-bound mark per job run

Revision ID: wire_clocks
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "wire_clocks"
down_revision = "metric_values"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("latency_sample", sa.Column("queue_ms", sa.Float(), nullable=True))
    op.add_column("job_run", sa.Column("loop_lag_p99_ms", sa.Float(), nullable=True))
    op.add_column("job_run", sa.Column("harness_bound", sa.Boolean(), nullable=True))


def downgrade() -> None:
    # native DROP COLUMN (SQLite >= 3.35): a batch copy of job_run would trip its foreign keys
    op.drop_column("job_run", "harness_bound")
    op.drop_column("job_run", "loop_lag_p99_ms")
    op.drop_column("latency_sample", "queue_ms")
