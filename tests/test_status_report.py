"""`mailbot status` reads with SQLAlchemy Core (`mailbot.loop.status_report`, start-up): its
report is the one the ORM code gives (`lease_report`, `backlog`, the counts), on SQLite and
PostgreSQL, with cases, an outbox in every state, a journal and instances; so are the figures
that `mailbot health` reads with the same queries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pgutil import postgres_database
from sqlalchemy import func
from sqlmodel import select
from typer.testing import CliRunner

from mailbot.cli import app
from mailbot.loop.lease import POLL, lease_report
from mailbot.loop.lease import db_now as orm_db_now
from mailbot.loop.lease import last_poll as orm_last_poll
from mailbot.loop.sending import backlog as orm_backlog
from mailbot.loop.status_report import (
    backlog,
    db_now,
    engine_reader,
    file_reader,
    last_poll,
    lease,
    quarantined,
    sqlite_file,
    status_from_file,
    status_report,
)
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models import Case, InboundMessage, InstanceLease, OutboxMail
from storage.schema import SchemaOutdated


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/m.db"
    else:
        with postgres_database() as url:
            yield url


def _orm_report(session: Any, now: datetime) -> dict[str, Any]:
    """What `mailbot status` computed before, with the ORM."""
    return {
        "cases": {
            f"{k}:{s}": n
            for k, s, n in session.exec(
                select(Case.kind, Case.state, func.count()).group_by(Case.kind, Case.state)
            ).all()
        },
        "outbox": dict(
            session.exec(select(OutboxMail.state, func.count()).group_by(OutboxMail.state)).all()
        ),
        "outbox_backlog": orm_backlog(session, now),
        "journal": dict(
            session.exec(
                select(InboundMessage.fate, func.count()).group_by(InboundMessage.fate)
            ).all()
        ),
        "instance": lease_report(session),
    }


def _outbox(n: int, state: str, created: datetime, due: datetime) -> OutboxMail:
    return OutboxMail(
        idempotency_key=f"k{n}",
        template="question_ack",
        envelope_from="b@x.test",
        bounce_token=f"t{n}",
        message_id=f"<{n}@x.test>",
        raw=b"",
        state=state,
        created_at=created,
        next_attempt_at=due,
    )


def _populate(url: str, now: datetime) -> None:
    hour = timedelta(hours=1)
    with session_scope(make_engine(url)) as session:
        cases = ["question:awaiting_review", "question:answered", "question:answered"]
        for n, (kind, _, state) in enumerate(c.partition(":") for c in [*cases, "subscription:x"]):
            session.add(Case(ref=f"Q-{n}", kind=kind, state=state, requester="a@x.test"))
        session.add(_outbox(1, "pending", now - 3 * hour, now))
        session.add(_outbox(2, "pending", now - 2 * hour, now))
        session.add(_outbox(3, "sending", now, now - hour))  # its lease ran out
        session.add(_outbox(4, "sending", now, now + hour))
        session.add(_outbox(5, "failed", now, now))
        session.add(_outbox(6, "sent", now, now))
        for n, fate in enumerate(["processed", "processed", "quarantined"]):
            session.add(InboundMessage(sha256=f"{n:064d}", raw=b"x", fate=fate))
        for name, beat, expires in [
            ("active", now - timedelta(seconds=7), now + hour),
            ("standby:b", now - timedelta(seconds=3), now + hour),
            ("standby:c", now - hour, now - timedelta(seconds=1)),  # lapsed: not shown
        ]:
            session.add(
                InstanceLease(
                    name=name,
                    holder=f"h:{name}",
                    acquired_at=now - 2 * hour,
                    heartbeat_at=beat,
                    expires_at=expires,
                )
            )


def _without_ages(report: dict[str, Any]) -> dict[str, Any]:
    """The heartbeat ages are measured on the database's clock at each read: compared apart."""
    instance = report["instance"]
    active = dict(instance["active"])
    age = active.pop("heartbeat_age_seconds")
    standby = [e["holder"] for e in instance["standby"]]
    return {**report, "instance": {"active": active, "standby": standby, "age": age}}


def test_the_core_report_is_the_orm_report(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    empty_now = datetime.now(UTC)
    with session_scope(engine) as session:
        assert status_report(engine, empty_now) == _orm_report(session, empty_now)
    now = datetime.now(UTC).replace(microsecond=0)
    _populate(db_url, now)
    fast = status_report(engine, now)
    with session_scope(engine) as session:
        slow = _orm_report(session, now)
    fast_seen, slow_seen = _without_ages(fast), _without_ages(slow)
    # read a moment apart: the ages may differ by the time between the two reads
    assert abs(fast_seen["instance"].pop("age") - slow_seen["instance"].pop("age")) < 5
    assert fast_seen == slow_seen
    assert fast["outbox_backlog"]["pending"] == 2
    assert fast["outbox_backlog"]["sending_lease_expired"] == 1
    assert fast["outbox_backlog"]["oldest_pending_age_seconds"] == 3 * 3600
    assert fast["cases"]["question:answered"] == 2 and fast["cases"]["subscription:x"] == 1
    assert [e["holder"] for e in fast["instance"]["standby"]] == ["h:standby:b"]
    engine.dispose()


def test_the_health_figures_read_with_core_are_the_orm_ones(db_url: str, tmp_path: Path) -> None:
    """`mailbot health` reads the last poll, the quarantine, the outbox and the instances with
    the same Core queries (start-up): the same figures as the ORM functions."""
    upgrade(db_url)
    engine = make_engine(db_url)
    with engine_reader(engine) as db:
        assert last_poll(db) is None and quarantined(db) == 0
    now = datetime.now(UTC).replace(microsecond=0)
    _populate(db_url, now)
    with session_scope(engine) as session:
        session.add(
            InstanceLease(
                name=POLL,
                holder="h:poll",
                acquired_at=now - timedelta(hours=2),
                heartbeat_at=now - timedelta(seconds=90),
                expires_at=now + timedelta(hours=1),
            )
        )
    readers = [engine_reader(engine)]
    if db_url.startswith("sqlite"):
        readers.append(file_reader(tmp_path / "m.db"))  # what the command reads a file with
    for reader in readers:
        with session_scope(engine) as session, reader as db:
            orm_at, orm_age = orm_last_poll(session) or (None, 0.0)
            core_at, core_age = last_poll(db) or (None, 0.0)
            assert core_at == orm_at == now - timedelta(seconds=90)
            assert abs(core_age - orm_age) < 5 and core_age >= 90
            assert quarantined(db) == 1
            assert backlog(db, now) == orm_backlog(session, now)
            core_lease = _without_ages({"instance": lease(db)})["instance"]
            orm_lease = _without_ages({"instance": lease_report(session)})["instance"]
            assert abs(core_lease.pop("age") - orm_lease.pop("age")) < 5
            assert core_lease == orm_lease
            assert abs((db_now(db) - orm_db_now(session)).total_seconds()) < 5
    engine.dispose()


def test_a_sqlite_file_read_with_sqlite3_gives_the_engines_report(tmp_path: Path) -> None:
    """`mailbot status` reads a SQLite file with the standard library: the same report as
    through the engine, every figure (ages apart, read a moment apart), and the same schema
    check: a file at another revision is refused, a URL it cannot take goes to the engine."""
    url = f"sqlite:///{tmp_path}/m.db"
    upgrade(url)
    now = datetime.now(UTC).replace(microsecond=0)
    _populate(url, now)
    path = sqlite_file(url)
    assert path == tmp_path / "m.db"
    engine = make_engine(url)
    through_engine = _without_ages(status_report(engine, now))
    from_file = _without_ages(status_from_file(path, now))
    assert abs(from_file["instance"].pop("age") - through_engine["instance"].pop("age")) < 5
    assert from_file == through_engine
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'older'")
    engine.dispose()
    with pytest.raises(SchemaOutdated, match="older"):
        status_from_file(path, now)
    assert sqlite_file(f"sqlite:///{tmp_path}/missing.db") is None
    assert sqlite_file(f"{url}?timeout=5") is None
    assert sqlite_file("postgresql://u@h/db") is None


def test_status_on_a_sqlite_file_refuses_an_old_schema_and_a_broken_file(tmp_path: Path) -> None:
    """Through the command: a file at another revision ends with exit 2 and the upgrade to
    run; a file that is not a database with one line and exit 75, never a traceback."""
    db = tmp_path / "m.db"
    config = tmp_path / "config.toml"
    text = (Path(__file__).parent.parent / "config.toml").read_text(encoding="utf-8")
    config.write_text(text.replace("sqlite:///var/mailbot.db", f"sqlite:///{db}"), "utf-8")
    upgrade(f"sqlite:///{db}")
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001_core'")
    engine.dispose()
    old = CliRunner().invoke(app, ["status", "-c", str(config)])
    assert old.exit_code == 2, old.output
    assert "0001_core" in old.output and "mailbot db upgrade" in old.output
    db.unlink()
    db.write_bytes(b"not a database, " * 512)
    broken = CliRunner().invoke(app, ["status", "--json", "-c", str(config)])
    assert broken.exit_code == 75, broken.output
    assert "Database unavailable" in broken.output and "Traceback" not in broken.output
