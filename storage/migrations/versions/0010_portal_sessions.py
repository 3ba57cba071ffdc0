"""portal sessions: one row per signed-in browser, so logout and a password change end them

Revision ID: 0010_portal_sessions
Revises: 0008_triage_examples
Create Date: 2026-12-06 23:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models


revision: str = "0010_portal_sessions"
down_revision: str | None = "0008_triage_examples"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portal_session",
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("expires_at", storage.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["portal_account.id"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index(
        op.f("ix_portal_session_account_id"), "portal_session", ["account_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_portal_session_account_id"), table_name="portal_session")
    op.drop_table("portal_session")
