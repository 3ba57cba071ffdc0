"""portal operations (mailbot) and the portal's call keys (stand-in)

Revision ID: 0003_portal_operations
Revises: 0002_portal
Create Date: 2026-12-02 10:00:00.000000

New tables only: `portal_publication` is left alone (a batch copy of it on SQLite would drop
its full-text triggers, see 0002).
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models


revision: str = '0003_portal_operations'
down_revision: str | None = '0002_portal'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('portal_operation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('case_ref', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', storage.models.UTCDateTime(), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('created_at', storage.models.UTCDateTime(), nullable=False),
    sa.Column('done_at', storage.models.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('portal_operation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_operation_case_ref'), ['case_ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_operation_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_operation_state'), ['state'], unique=False)

    op.create_table('portal_call_key',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('at', storage.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('portal_call_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_call_key_ref'), ['ref'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('portal_call_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_call_key_ref'))

    op.drop_table('portal_call_key')
    with op.batch_alter_table('portal_operation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_operation_state'))
        batch_op.drop_index(batch_op.f('ix_portal_operation_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_portal_operation_case_ref'))

    op.drop_table('portal_operation')
