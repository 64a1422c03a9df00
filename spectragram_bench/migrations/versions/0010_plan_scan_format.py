"""plan scans in their own column format: the stored Arrow streams (scan format 1) are dropped,
since this version reads only its own (worker/scan_cache.py VERSION 3). A scan is a cache: the
next plan of each dataset reads its loader once and stores a new one.

Revision ID: plan_scan_format
Revises: plan_scans
"""

from alembic import op

revision = "plan_scan_format"
down_revision = "plan_scans"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM plan_scan")


def downgrade() -> None:
    op.execute("DELETE FROM plan_scan")  # the older code cannot read these either
