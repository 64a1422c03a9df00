"""audio probes: what planning found in each audio file (decodable, silent, duration, sample
rate), keyed by the source and checked against the file's size and mtime, so a rerun or a dry
run of a registered dataset decodes nothing again (worker/probes.py)

Revision ID: audio_probes
Revises: wire_clocks
"""

import sqlalchemy as sa
from alembic import op

revision = "audio_probes"
down_revision = "wire_clocks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audio_probe",
        sa.Column("probe_key", sa.String(64), primary_key=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("sample_rate", sa.Integer(), nullable=True),
        sa.Column("decodable", sa.Boolean(), nullable=False),
        sa.Column("silent", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("probed_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audio_probe")
