"""retention: when a case was anonymised, when a mail's raw bytes were purged

Revision ID: 0014_retention
Revises: 0013_essential_replies
Create Date: 2026-12-07 00:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0014_retention"
down_revision: str | None = "0013_essential_replies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mail_case") as batch:
        batch.add_column(sa.Column("anonymised_at", storage.models.UTCDateTime(), nullable=True))
    with op.batch_alter_table("inbound_message") as batch:
        batch.add_column(sa.Column("purged_at", storage.models.UTCDateTime(), nullable=True))
    with op.batch_alter_table("outbox_mail") as batch:
        batch.add_column(sa.Column("purged_at", storage.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_mail") as batch:
        batch.drop_column("purged_at")
    with op.batch_alter_table("inbound_message") as batch:
        batch.drop_column("purged_at")
    with op.batch_alter_table("mail_case") as batch:
        batch.drop_column("anonymised_at")
