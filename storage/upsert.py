"""`INSERT … ON CONFLICT DO NOTHING` on SQLite and PostgreSQL: a row that another transaction
inserted first is left alone, and the caller reads it back (no unique-violation to handle)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import sqlite
from sqlmodel import Session, SQLModel


def insert_ignore(
    session: Session, model: type[SQLModel], values: Mapping[str, Any], conflict: Sequence[str]
) -> bool:
    """Insert one row unless it conflicts on the unique columns `conflict`; True if inserted.
    (On PostgreSQL a concurrent insert of the same key waits for the other transaction, then
    does nothing when it committed.)"""
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"insert_ignore: no ON CONFLICT for {dialect}")
    if dialect == "postgresql":
        # Imported here: SQLAlchemy's PostgreSQL dialect costs a SQLite process 50 ms at start.
        from sqlalchemy.dialects import postgresql  # noqa: PLC0415

        insert: Callable[..., Any] = postgresql.insert
    else:
        insert = sqlite.insert
    stmt = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(table.c[conflict[0]])  # rowcount is not reliable here (psycopg: -1)
    )
    return session.connection().execute(stmt).first() is not None
