"""`INSERT … ON CONFLICT DO NOTHING` on SQLite and PostgreSQL: a row that another transaction
inserted first is left alone, and the caller reads it back (no unique-violation to handle)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any, cast

from sqlalchemy.dialects import sqlite
from sqlmodel import Session, SQLModel


def insert_ignore(
    session: Session, model: type[SQLModel], values: Mapping[str, Any], conflict: Sequence[str]
) -> bool:
    """Insert one row unless it conflicts on the unique columns `conflict`; True if inserted.
    (On PostgreSQL a concurrent insert of the same key waits for the other transaction, then
    does nothing when it committed.)"""
    return insert_ignore_returning(session, model, values, conflict, conflict[0]) is not None


def upsert(
    session: Session,
    model: type[SQLModel],
    values: Mapping[str, Any],
    conflict: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert one row, or when one conflicts on the unique columns `conflict`, set its columns
    `update` to `values`' (one statement; objects of `model` already in `session` are not
    refreshed: the caller expires them)."""
    stmt = _upsert(_dialect(session), model, tuple(conflict), tuple(update))
    session.connection().execute(stmt, dict(values))


def insert_ignore_returning(
    session: Session,
    model: type[SQLModel],
    values: Mapping[str, Any],
    conflict: Sequence[str],
    column: str,
) -> Any:
    """`insert_ignore`, returning the inserted row's `column` (its id, say), or None when the
    row conflicted and nothing was inserted."""
    stmt = _insert_ignore(_dialect(session), model, tuple(conflict), column)
    found = session.connection().execute(stmt, dict(values)).first()
    return None if found is None else found[0]


# The statements are built once per shape and executed with the row's values as parameters:
# building one, and its cache key, costs more than running it on SQLite.


def _dialect(session: Session) -> str:
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"insert_ignore: no ON CONFLICT for {dialect}")
    return dialect


def _insert(dialect: str) -> Callable[..., Any]:
    if dialect == "postgresql":
        # Imported here: SQLAlchemy's PostgreSQL dialect costs a SQLite process 50 ms at start.
        from sqlalchemy.dialects import postgresql  # noqa: PLC0415

        return cast(Callable[..., Any], postgresql.insert)
    return cast(Callable[..., Any], sqlite.insert)


@cache
def _insert_ignore(
    dialect: str, model: type[SQLModel], conflict: tuple[str, ...], column: str
) -> Any:
    table = model.__table__  # type: ignore[attr-defined]
    return (
        _insert(dialect)(table)
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(table.c[column])  # rowcount is not reliable here (psycopg: -1)
    )


@cache
def _upsert(
    dialect: str, model: type[SQLModel], conflict: tuple[str, ...], update: tuple[str, ...]
) -> Any:
    stmt = _insert(dialect)(model.__table__)  # type: ignore[attr-defined]
    return stmt.on_conflict_do_update(
        index_elements=list(conflict), set_={name: stmt.excluded[name] for name in update}
    )
