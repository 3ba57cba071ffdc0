"""autoreply caps index: the automatic answers an address got, read from one index

The caps on automatic answers (`mailbot.loop.outbox.auto_replies_sent`) count, before each
automatic answer, those the address got in the last day. With only the index on `recipient`,
SQLite read every mail ever sent to the address, and the flags it counts (`auto`,
`essential`, `created_at`) are stored after the mail's bytes, in its overflow pages. This
index holds the day's rows of an address in order, with every column the count reads.

Revision ID: 0016_autoreply_caps_index
Revises: 0015_case_person
Create Date: 2026-12-07 05:30:00.000000
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0016_autoreply_caps_index"
down_revision: str | None = "0015_case_person"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_outbox_mail_autoreply_caps"


def upgrade() -> None:
    op.create_index(
        INDEX, "outbox_mail", ["recipient", "created_at", "auto", "essential", "case_ref"]
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="outbox_mail")
