"""index on the Message-ID that opened a case (looked up for every new case)

Revision ID: 0006_case_origin_index
Revises: 0005_instance_lease
Create Date: 2026-12-06 23:10:00.000000
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0006_case_origin_index"
down_revision: str | None = "0005_instance_lease"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_mail_case_origin_message_id", "mail_case", ["origin_message_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_mail_case_origin_message_id", table_name="mail_case")
