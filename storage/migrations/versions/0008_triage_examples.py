"""triage examples: the questions whose space a reviewer or an admin set or changed

Revision ID: 0008_triage_examples
Revises: 0007_quarantine_reason
Create Date: 2026-12-06 23:50:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = "0008_triage_examples"
# Rechained by the lead at merge time (other branches add 0007).
down_revision: str | None = "0007_quarantine_reason"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "triage_example",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_ref", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("by", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("at", storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("triage_example", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_triage_example_case_ref"), ["case_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_triage_example_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("triage_example", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_triage_example_at"))
        batch_op.drop_index(batch_op.f("ix_triage_example_case_ref"))
    op.drop_table("triage_example")
