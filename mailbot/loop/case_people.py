"""The `case_person` index: the addresses of every subscription case's people, so that the
open requests already listing a person are one indexed look-up (a drain used to read every
open request for every new one: docs/benchmarks.md).

Rules: the rows of a case are its record's people, rewritten whenever a decision writes the
record (`mailbot.loop.effects.apply_decision`) and deleted when the case's personal data is
erased (`mailbot.loop.retention.anonymise_case`). Closing a case changes nothing here: the
look-up keeps only open cases by joining `mail_case`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from sqlalchemy import bindparam, delete, insert
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from storage.models import Case, CasePerson
from workflows.records import SubscriptionRecord


def record_people(session: Session, ref: str, record: SubscriptionRecord) -> None:
    """Index the people of a subscription record just written to case `ref`, with their
    addresses as `Person.from_json` reads them back (the index answers what decoding would)."""
    set_case_people(session, ref, (p.email.strip().lower() for p in record.people))


def set_case_people(session: Session, ref: str, emails: Iterable[str]) -> None:
    """Make the rows of case `ref` exactly `emails` (blank addresses left out). Written with
    SQL statements, not ORM objects: a case's people may change twice in one transaction."""
    wanted = {e for e in emails if e}
    stored = set(session.connection().execute(_people_of(), {"ref": ref}).scalars())
    if gone := stored - wanted:
        session.connection().execute(
            delete(CasePerson).where(
                col(CasePerson.case_ref) == ref, col(CasePerson.email).in_(sorted(gone))
            )
        )
    if added := wanted - stored:
        rows = [{"case_ref": ref, "email": e} for e in sorted(added)]
        session.connection().execute(insert(CasePerson), rows)


def forget_case_people(session: Session, ref: str) -> None:
    """Delete the rows of case `ref` (its personal data is being erased)."""
    session.connection().execute(delete(CasePerson).where(col(CasePerson.case_ref) == ref))


def find_open_requests(
    session: Session, emails: list[str], exclude_ref: str | None
) -> dict[str, str]:
    """Open subscription cases, other than `exclude_ref`, that already list these people:
    address → reference of the oldest such case."""
    wanted = sorted({e.lower() for e in emails})
    found: dict[str, str] = {}
    if not wanted:
        return found
    params = {"emails": wanted, "exclude": exclude_ref or ""}
    for email, ref in session.connection().execute(_open_requests(), params):
        found.setdefault(email, ref)
    return found


# Built once: building a statement costs more than running it on SQLite.


@cache
def _people_of() -> SelectOfScalar[str]:
    return select(CasePerson.email).where(CasePerson.case_ref == bindparam("ref"))


@cache
def _open_requests() -> Select[str, str]:
    return (
        select(CasePerson.email, Case.ref)
        .join(Case, col(Case.ref) == col(CasePerson.case_ref))
        .where(
            col(CasePerson.email).in_(bindparam("emails", expanding=True)),
            Case.kind == "subscription",
            col(Case.closed_at).is_(None),
            col(Case.ref) != bindparam("exclude"),  # "" excludes nothing: no case has it
        )
        .order_by(col(Case.id))
    )
