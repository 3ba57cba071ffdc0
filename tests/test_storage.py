"""The schema and its migrations on SQLite and PostgreSQL; gap-free case numbering."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pgutil import postgres_database
from sqlalchemy import inspect as sa_inspect
from typer.testing import CliRunner

from mailbot.cli import app
from mailbot.loop.cases import next_ref
from storage.db import make_engine, session_scope
from storage.migrate import SchemaOutdated, check_schema, head_revision, upgrade
from storage.urls import sqlite_path

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/m.db"
    else:
        with postgres_database() as url:
            yield url


def test_upgrade_creates_every_table_and_passes_the_check(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    tables = set(sa_inspect(engine).get_table_names())
    assert {
        "inbound_message",
        "mail_case",
        "case_event",
        "outbox_mail",
        "timer",
        "case_counter",
    } <= tables
    check_schema(engine)
    engine.dispose()


def test_empty_database_is_refused_until_upgraded(db_url: str) -> None:
    engine = make_engine(db_url)
    with pytest.raises(SchemaOutdated, match="mailbot db upgrade"):
        check_schema(engine)
    engine.dispose()


def test_run_refuses_to_start_on_an_old_schema(tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "old.db"
    config = (
        (ROOT / "config.toml")
        .read_text(encoding="utf-8")
        .replace('url = "sqlite:///var/mailbot.db"', f'url = "sqlite:///{db}"')
    )
    (tmp_path / "config.toml").write_text(config, encoding="utf-8")
    upgrade(f"sqlite:///{db}", "0001_core")
    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", "demo")
    result = CliRunner().invoke(app, ["run", "--once", "--config", str(tmp_path / "config.toml")])
    if head_revision() != "0001_core":
        assert result.exit_code == 2
        assert "mailbot db upgrade" in result.output
    result = CliRunner().invoke(app, ["db", "upgrade", "--config", str(tmp_path / "config.toml")])
    assert result.exit_code == 0
    check_schema(make_engine(f"sqlite:///{db}"))


def test_references_are_numbered_without_gaps_per_kind_and_year(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        assert next_ref(s, "question", 2026) == "Q-2026-000001"
        assert next_ref(s, "question", 2026) == "Q-2026-000002"
        assert next_ref(s, "subscription", 2026) == "ABO-2026-000001"
        assert next_ref(s, "question", 2027) == "Q-2027-000001"
    # A rolled-back transaction gives its number back.
    with pytest.raises(RuntimeError), session_scope(engine) as s:
        assert next_ref(s, "question", 2026) == "Q-2026-000003"
        raise RuntimeError("rollback")
    with session_scope(engine) as s:
        assert next_ref(s, "question", 2026) == "Q-2026-000003"
    engine.dispose()


@pytest.mark.postgres
def test_two_instances_on_postgresql_never_share_or_skip_a_number() -> None:
    with postgres_database() as url:
        upgrade(url)
        engines = [make_engine(url), make_engine(url)]
        refs: list[str] = []
        lock = threading.Lock()

        def instance(engine) -> None:  # type: ignore[no-untyped-def]
            for _ in range(25):
                with session_scope(engine) as s:
                    ref = next_ref(s, "question", 2026)
                with lock:
                    refs.append(ref)

        threads = [threading.Thread(target=instance, args=(e,)) for e in engines]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(refs) == [f"Q-2026-{n:06d}" for n in range(1, 51)]
        for e in engines:
            e.dispose()


def test_a_sqlite_url_names_one_file_whatever_its_query_string() -> None:
    """The engine, the single-instance lock and the sqlite3 readers take the file from
    `sqlite_path`: a query string does not make it another file; other databases have none."""
    assert sqlite_path("sqlite:///var/mailbot.db") == Path("var/mailbot.db")
    assert sqlite_path("sqlite:////srv/mailbot.db?timeout=5") == Path("/srv/mailbot.db")
    assert sqlite_path("sqlite:///") is None
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("postgresql+psycopg://u@h/db") is None
