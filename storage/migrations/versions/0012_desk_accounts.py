"""desk accounts and documents: disabled accounts, folders of the Espace documentaire

Revision ID: 0012_desk_accounts
Revises: 0011_scheduled_jobs
Create Date: 2026-12-07 00:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models


revision: str = "0012_desk_accounts"
down_revision: str | None = "0011_scheduled_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("portal_account") as batch:
        batch.add_column(sa.Column("disabled_at", storage.models.UTCDateTime(), nullable=True))
    with op.batch_alter_table("portal_document") as batch:
        batch.add_column(
            sa.Column("folder", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True)
        )
        batch.add_column(
            sa.Column("uploaded_by", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("portal_document") as batch:
        batch.drop_column("uploaded_by")
        batch.drop_column("folder")
    with op.batch_alter_table("portal_account") as batch:
        batch.drop_column("disabled_at")
