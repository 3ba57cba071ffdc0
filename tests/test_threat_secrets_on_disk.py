"""Threat: a reset link left on the disk. A used reset link opened the account while it was
valid; its clear copy stayed in the SQLite -wal file after the outbox row was redacted.

Through the real path: the form over HTTP, mailbot's outbox, delivery over SMTP into Dovecot
(where the person reads the link), the link used over HTTP; then the bytes of the database
file and of its -wal file are read.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mailservers import MailEnv, parse_message
from sqlalchemy import Engine
from sqlmodel import Session, select

from mailbot.config import Config
from mailbot.loop.delivery import deliver_pending
from mailbot.loop.outbox import OutboxPortalMailer
from portal_stub.testing import (
    SECRET_ENV,
    SECRET_VALUE,
    Clock,
    WebEnv,
    form_token,
    make_config,
    sign_in,
    web_env,
)
from storage.db import checkpoint_wal, make_engine
from storage.models import OutboxMail

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PASSWORD = "une phrase de passe solide"
NEW = "girafe tulipe horloge 1957"


def outbox_mailer(config: Config, engine: Engine, clock: Clock) -> OutboxPortalMailer:
    return OutboxPortalMailer(config, engine, now=clock)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WebEnv:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    return web_env(tmp_path, NOW, mailer=outbox_mailer)


def disk_bytes(env: WebEnv) -> bytes:
    """The database file and its -wal file, as anyone who copies the folder gets them."""
    path = Path(str(env.engine.url.database))
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def reset_token(raw: bytes) -> str:
    message = parse_message(raw)
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(r"/mot-de-passe/reinitialiser/([\w-]{40,})", body.get_content())
    assert found
    return found.group(1)


def leaked(token: str, data: bytes) -> list[str]:
    """Pieces of `token` found in `data`: any 12 characters of it (72 random bits) count, as
    quoted-printable cuts a link across lines."""
    pieces = {token[i : i + 12] for i in range(len(token) - 11)}
    return sorted(p for p in pieces if p.encode() in data)


def deliver(env: WebEnv, mail_env: MailEnv) -> None:
    config = make_config(
        str(env.engine.url),
        smtp={"host": mail_env.smtp.host, "port": mail_env.smtp.port, "tls": "plain"},
    )
    report = asyncio.run(deliver_pending(env.engine, config, now=env.clock))
    assert report.sent == 1


def test_a_used_reset_link_leaves_no_clear_copy_on_disk(env: WebEnv, mail_env: MailEnv) -> None:
    alice = mail_env.requesters[0]
    env.add_account(alice.address, PASSWORD)
    env.client.post(
        "/mot-de-passe-oublie",
        data={
            "csrf_token": form_token(env.client, "/mot-de-passe-oublie"),
            "identifiant": alice.address,
        },
    )
    with Session(env.engine) as session:
        [row] = session.exec(select(OutboxMail)).all()
    token = reset_token(row.raw)
    # An automatic checkpoint may copy the page into the database file before the mail goes
    # out: do it, so that the clear copy is in both files, as the worst case.
    checkpoint_wal(env.engine)
    assert leaked(token, disk_bytes(env))  # the check below sees a token when there is one

    deliver(env, mail_env)
    [received] = mail_env.wait_for(alice)
    body = received.get_body(("plain",))
    assert body is not None and token in body.get_content()  # the person has it
    link = f"/mot-de-passe/reinitialiser/{token}"
    data = {"csrf_token": form_token(env.client, link), "nouveau": NEW, "confirmation": NEW}
    assert env.client.post(link, data=data, follow_redirects=False).status_code == 303
    assert sign_in(env.client, alice.address, NEW).status_code == 303

    with Session(env.engine) as session:
        assert not leaked(token, session.exec(select(OutboxMail)).one().raw)  # row redacted
    assert leaked(token, disk_bytes(env)) == []


def test_every_sqlite_connection_zeroes_deleted_content(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'secure.db'}")
    first, second = engine.raw_connection(), engine.raw_connection()  # two pooled connections
    try:
        for conn in (first, second):
            cur = conn.cursor()
            assert cur.execute("PRAGMA secure_delete").fetchone() == (1,)
            cur.close()
    finally:
        first.close()
        second.close()
        engine.dispose()
