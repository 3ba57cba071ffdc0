"""quarantined mail: its reason in French, and when the admins were told (batched alerts)

Revision ID: 0007_quarantine_reason
Revises: 0006_case_origin_index
Create Date: 2026-12-07 00:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = "0007_quarantine_reason"
down_revision: str | None = "0006_case_origin_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_message") as batch:
        batch.add_column(
            sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True)
        )
        batch.add_column(sa.Column("alerted_at", storage.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_message") as batch:
        batch.drop_column("alerted_at")
        batch.drop_column("reason")
