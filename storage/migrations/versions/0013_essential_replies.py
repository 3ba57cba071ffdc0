"""automatic answers: mark the essential ones (a new case's acknowledgement, an annex report),
which only the per-address ceiling limits

Revision ID: 0013_essential_replies
Revises: 0012_desk_accounts
Create Date: 2026-12-07 00:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_essential_replies"
down_revision: str | None = "0012_desk_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_mail") as batch:
        batch.add_column(
            sa.Column("essential", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_mail") as batch:
        batch.drop_column("essential")
