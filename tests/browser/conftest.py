"""Fixtures of the portal's browser tests: a migrated SQLite database and its configuration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from portal_browser import free_port
from sqlalchemy import Engine

from mailbot.config import Config
from portal_stub.testing import SECRET_ENV, SECRET_VALUE, make_config, migrated_sqlite
from storage.db import make_engine


@pytest.fixture
def portal_db(tmp_path: Path) -> Iterator[tuple[Config, Engine]]:
    url = migrated_sqlite(tmp_path / "portal.db")
    engine = make_engine(url)
    port = free_port()
    config = make_config(url, base_url=f"http://127.0.0.1:{port}", listen_port=port)
    yield config, engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _portal_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    monkeypatch.setenv("MAILBOT_SECRET", "browser-test-instance-secret-0123456789")  # the desk
