"""The file behind a `sqlite:///` database URL, read without SQLAlchemy: the engine factory, the
single-instance lock and the commands that read a SQLite file with `sqlite3` (`status`,
`health`; start-up) all take the path from here, so they agree on which file a URL names."""

from __future__ import annotations

from pathlib import Path

SQLITE_PREFIX = "sqlite:///"


def sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite:///path` URL, its query string (`?timeout=…`) left out; None for
    another database or an in-memory one. `sqlite:////abs` is absolute, `sqlite:///rel`
    relative to the working directory, as SQLAlchemy reads them."""
    if not url.startswith(SQLITE_PREFIX):
        return None
    path = url.removeprefix(SQLITE_PREFIX).partition("?")[0]
    if not path or path == ":memory:":
        return None
    return Path(path)
