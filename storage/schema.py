"""The start-up schema check, without Alembic.

Every command that opens the database checks first that its schema is at the code's head
revision. Alembic's own way (`ScriptDirectory` + `MigrationContext`) imports Alembic and Mako
and compiles every migration script: about a fifth of a second, paid by `mailbot status`,
`health` and the daemon's start. Here the head is read from the scripts' `revision` and
`down_revision` lines as text, and the database's revision with one SELECT on
`alembic_version`; `tests/test_storage.py` checks that this head is Alembic's. When the
scripts cannot be read this way (a branch, a line written differently), Alembic decides.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

VERSIONS = Path(__file__).parent / "migrations" / "versions"
VERSION_TABLE = "alembic_version"

_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


class SchemaOutdated(Exception):
    """The database is not at the code's schema revision."""


def _script_revisions(source: str) -> tuple[str, tuple[str, ...]] | None:
    """The (revision, down revisions) a migration script declares, or None if unclear."""
    found: dict[str, object] = {}
    for name, value in _ASSIGNMENT.findall(source):
        if name in found:
            return None
        try:
            found[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return None
    revision, down = found.get("revision"), found.get("down_revision", ...)
    if not isinstance(revision, str) or down is ...:
        return None
    if down is None:
        return revision, ()
    if isinstance(down, str):
        return revision, (down,)
    if isinstance(down, tuple) and all(isinstance(d, str) for d in down):
        return revision, down
    return None


def scanned_head(versions: Path = VERSIONS) -> str | None:
    """The single head of the scripts in `versions`, read as text; None when unclear."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in sorted(versions.glob("*.py")):
        declared = _script_revisions(script.read_text(encoding="utf-8"))
        if declared is None:
            return None
        revisions.add(declared[0])
        parents.update(declared[1])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


@cache
def head_revision() -> str:
    """The code's schema revision (read once per process)."""
    head = scanned_head()
    if head is not None:
        return head
    from storage.migrate import alembic_head  # noqa: PLC0415 - Alembic only when needed

    return alembic_head()


def current_revision(engine: Engine) -> str | None:
    """The database's revision; None for an empty database."""
    # Imported here: `mailbot status` checks a SQLite file's revision without SQLAlchemy.
    from sqlalchemy import inspect, text  # noqa: PLC0415

    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return revision_of(list(rows))


def revision_of(rows: list[str]) -> str | None:
    """The revision the rows of `alembic_version` give: the one, several joined (branches), or
    None (an empty table)."""
    return rows[0] if len(rows) == 1 else (",".join(sorted(rows)) or None)


def check_schema(engine: Engine) -> None:
    check_revision(current_revision(engine))


def check_revision(current: str | None) -> None:
    """Raise `SchemaOutdated` unless the database's revision `current` is the code's."""
    head = head_revision()
    if current != head:
        raise SchemaOutdated(
            f"the database schema is at revision {current or 'none (empty database)'}, "
            f"the code needs {head}: run `mailbot db upgrade` first"
        )
