"""heartbeat: job_run.heartbeat_at, the unix time a process running the job run last said it
was alive, so `list`, `report` and `run --resume` can tell a dead run (kill -9, a lost machine)
from one still running elsewhere

Revision ID: heartbeat
Revises: audio_probes
"""

import sqlalchemy as sa
from alembic import op

revision = "heartbeat"
down_revision = "audio_probes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("job_run", sa.Column("heartbeat_at", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("job_run", "heartbeat_at")  # native DROP COLUMN (SQLite >= 3.35), as wire_clocks
