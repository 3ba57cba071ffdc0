"""scheduled jobs: each recurring job's last run (the daily digest and those to come)

Revision ID: 0011_scheduled_jobs
Revises: 0010_portal_sessions
Create Date: 2026-12-06 23:45:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models


revision: str = "0011_scheduled_jobs"
down_revision: str | None = "0010_portal_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scheduled_job",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("last_slot", storage.models.UTCDateTime(), nullable=True),
        sa.Column("last_run_at", storage.models.UTCDateTime(), nullable=True),
        sa.Column("last_result", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("scheduled_job")
