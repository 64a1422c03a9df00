"""plan scans: the columns planning reads from a loader's rows (ids, subsets, audio sources,
durations, the loader's own problems), keyed by the files the loader reads them from with their
sizes and mtimes, so planning an unchanged dataset again parses nothing (worker/scan_cache.py)

Revision ID: plan_scans
Revises: prediction_reuse
"""

import sqlalchemy as sa
from alembic import op

revision = "plan_scans"
down_revision = "prediction_reuse"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_scan",
        sa.Column("scan_key", sa.String(64), primary_key=True),
        sa.Column("ident", sa.String(64), nullable=False),
        sa.Column("loader", sa.String(100), nullable=False),
        sa.Column("root", sa.Text(), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_plan_scan_ident", "plan_scan", ["ident"])


def downgrade() -> None:
    op.drop_index("ix_plan_scan_ident", table_name="plan_scan")
    op.drop_table("plan_scan")
