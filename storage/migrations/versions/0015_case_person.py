"""case_person: the people of every subscription case, indexed by address (the open requests
that already list a person are found by one look-up), filled from the existing cases

Revision ID: 0015_case_person
Revises: 0014_retention
Create Date: 2026-12-07 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from workflows.records import SubscriptionRecord

revision: str = "0015_case_person"
down_revision: str | None = "0014_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500


def upgrade() -> None:
    op.create_table(
        "case_person",
        sa.Column("case_ref", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.PrimaryKeyConstraint("case_ref", "email"),
    )
    with op.batch_alter_table("case_person", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_person_email"), ["email"], unique=False)
    _backfill()


def _backfill() -> None:
    """One row per address of every subscription case whose personal data is still there,
    decoded by the record class the service uses (same lower-casing, same blanks skipped).
    Read by pages of `BATCH` cases (keyset on id): memory stays bounded, and no insert runs
    while a read cursor is open."""
    bind = op.get_bind()
    case = sa.table(
        "mail_case",
        sa.column("id", sa.Integer()),
        sa.column("ref", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("data", sa.JSON()),
        sa.column("anonymised_at", sa.DateTime()),
    )
    person = sa.table(
        "case_person", sa.column("case_ref", sa.String()), sa.column("email", sa.String())
    )
    last = 0
    while True:
        page = bind.execute(
            sa.select(case.c.id, case.c.ref, case.c.data)
            .where(
                case.c.kind == "subscription",
                case.c.anonymised_at.is_(None),
                case.c.id > last,
            )
            .order_by(case.c.id)
            .limit(BATCH)
        ).all()
        if not page:
            return
        rows = []
        for _id, ref, data in page:
            people = SubscriptionRecord.from_json(data or {}).people
            rows += [{"case_ref": ref, "email": e} for e in sorted({p.email for p in people if p.email})]
        if rows:
            bind.execute(person.insert(), rows)
        last = page[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("case_person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_person_email"))
    op.drop_table("case_person")
