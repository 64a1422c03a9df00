"""work items and shared rate-limit schedules (leases for multi-machine workers)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_item",
        sa.Column("job_run_id", sa.Integer(), nullable=False),
        sa.Column("utt_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", sa.Float(), nullable=True),
        sa.Column("leases", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["job_run_id"], ["job_run.job_run_id"]),
        sa.ForeignKeyConstraint(["utt_id"], ["utterance.utt_id"]),
        sa.PrimaryKeyConstraint("job_run_id", "utt_id"),
    )
    op.create_index("ix_work_item_state", "work_item", ["job_run_id", "state"], unique=False)
    op.create_table(
        "rate_pacer",
        sa.Column("job_run_id", sa.Integer(), nullable=False),
        sa.Column("tat_requests", sa.Float(), nullable=False),
        sa.Column("tat_audio", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["job_run_id"], ["job_run.job_run_id"]),
        sa.PrimaryKeyConstraint("job_run_id"),
    )


def downgrade() -> None:
    op.drop_table("rate_pacer")
    op.drop_index("ix_work_item_state", table_name="work_item")
    op.drop_table("work_item")
