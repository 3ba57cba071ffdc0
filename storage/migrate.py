"""Alembic, driven from code: `mailbot db upgrade`.

The start-up schema check is `storage.schema` (no Alembic import); its names are re-exported
here for the callers that already run Alembic.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory

from storage.schema import SchemaOutdated, check_schema, current_revision, head_revision

MIGRATIONS = Path(__file__).parent / "migrations"

__all__ = [
    "MIGRATIONS",
    "SchemaOutdated",
    "alembic_config",
    "alembic_head",
    "check_schema",
    "current_revision",
    "head_revision",
    "upgrade",
]


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def alembic_head() -> str:
    """The head revision as Alembic computes it (loads every migration script)."""
    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    assert head is not None
    return head
