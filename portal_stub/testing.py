"""Helpers for tests of the portal (and of mailbot with the portal): a configuration, a
migrated database, a cheap password hasher. Not used by the running service."""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import psycopg
from argon2 import PasswordHasher
from httpx import Response
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.testclient import TestClient

from mailbot.config import Config, parse_config
from mailbot.portal import PortalMailer
from portal_stub.app import create_app
from portal_stub.models import PortalAccount
from portal_stub.service import StubPortal
from storage.db import make_engine
from storage.migrate import upgrade

SECRET_ENV = "MAILBOT_PORTAL_TEST_SECRET"
SECRET_VALUE = "portal-test-secret-0123456789"
POSTGRES_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
_template_db: Path | None = None


def cheap_hasher() -> PasswordHasher:
    """argon2id with small costs: the same code path, a few milliseconds per hash."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def make_config(
    database_url: str,
    base_url: str = "http://portail.test",
    *,
    listen_port: int = 8000,
    **extra: Any,
) -> Config:
    data: dict[str, Any] = {
        "instance": {
            "domain": "mailbot.test",
            "generic_address": "decentralisation-stationnement@demo.test",
        },
        "portal": {
            "base_url": base_url,
            "listen_host": "127.0.0.1",
            "listen_port": listen_port,
            "secret_env": SECRET_ENV,
        },
        "reviewers": {
            "groups": {
                "abonnements": {
                    "members": ["relecteur.abonnements@demo.test"],
                    "handles": ["subscription"],
                },
                "accueil": {
                    "members": ["relecteur.accueil@demo.test"],
                    "handles": ["question:accueil", "question:unclassified"],
                },
            }
        },
        "admins": {"addresses": ["admin.stationnement@demo.test"]},
        "mailbox": {
            "host": "127.0.0.1",
            "port": 1143,
            "tls": "plain",
            "user": "bot@demo.test",
            "password_env": "MAILBOT_IMAP_PASSWORD",
        },
        "smtp": {"host": "127.0.0.1", "port": 2525, "tls": "plain"},
        "database": {"url": database_url},
        **extra,
    }
    return parse_config(data)


def migrated_sqlite(path: Path) -> str:
    """A SQLite database at `path` at the head revision (copied from one migrated template)."""
    global _template_db
    if _template_db is None:
        folder = Path(tempfile.mkdtemp(prefix="portal-template-"))
        _template_db = folder / "template.db"
        upgrade(f"sqlite:///{_template_db}")
    shutil.copyfile(_template_db, path)
    return f"sqlite:///{path}"


@contextmanager
def postgres_database(prefix: str = "mailbot_portal_test") -> Iterator[Engine]:
    """A fresh PostgreSQL database (127.0.0.1:5432, user postgres) at the head revision,
    dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    engine = None
    try:
        upgrade(url)
        engine = make_engine(url)
        yield engine
    finally:
        if engine is not None:
            engine.dispose()
        with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Clock:
    """A settable clock for the web application and `StubPortal`."""

    def __init__(self, start: datetime) -> None:
        self.value = start

    def __call__(self) -> datetime:
        return self.value

    def advance(self, **delta: float) -> None:
        self.value += timedelta(**delta)


@dataclass(frozen=True)
class QueuedMail:
    template: str
    to: tuple[str, ...]
    context: dict[str, Any]
    key: str
    sensitive: bool


@dataclass
class RecordingMailer:
    """A `PortalMailer` that keeps what the portal queued (once per key), for tests."""

    mails: list[QueuedMail] = field(default_factory=list)

    def queue(
        self,
        template: str,
        to: Sequence[str],
        context: Mapping[str, Any],
        key: str,
        *,
        sensitive: bool = False,
    ) -> None:
        if all(m.key != key for m in self.mails):
            self.mails.append(QueuedMail(template, tuple(to), dict(context), key, sensitive))


MailerFactory = Callable[[Config, Engine, "Clock"], PortalMailer]


@dataclass
class WebEnv:
    """A migrated SQLite database, its configuration, the app and a test client."""

    config: Config
    engine: Engine
    clock: Clock
    hasher: PasswordHasher
    client: TestClient
    mailer: PortalMailer

    def new_client(self) -> TestClient:
        return TestClient(self.client.app, base_url=self.config.portal.base_url)

    def add_account(
        self,
        email: str,
        password: str,
        spaces: tuple[str, ...] = ("accueil",),
        *,
        admin: bool = False,
        must_change: bool = False,
        temp_expires_at: datetime | None = None,
    ) -> int:
        with Session(self.engine) as session:
            account = PortalAccount(
                email=email,
                first_name="Claire",
                last_name="Martin",
                organisation="Ville d’Exemple",
                spaces=list(spaces),
                password_hash=self.hasher.hash(password),
                must_change_password=must_change,
                temp_password_expires_at=temp_expires_at,
                is_admin=admin,
                created_at=self.clock(),
            )
            session.add(account)
            session.commit()
            assert account.id is not None
            return account.id

    def portal(self) -> StubPortal:
        return StubPortal(self.engine, self.config.portal.base_url, self.clock, hasher=self.hasher)


def web_env(
    path: Path,
    start: datetime,
    base_url: str = "http://portail.test",
    *,
    mailer: MailerFactory | None = None,
) -> WebEnv:
    """Everything an HTTP-level test of the portal needs (the session secret must be set in
    the environment variable `SECRET_ENV`). `mailer` builds the portal's mailer (default: a
    `RecordingMailer`)."""
    url = migrated_sqlite(path / "portal.db")
    engine = make_engine(url)
    config = make_config(url, base_url)
    clock, hasher = Clock(start), cheap_hasher()
    portal_mailer = mailer(config, engine, clock) if mailer else RecordingMailer()
    app = create_app(config, engine, mailer=portal_mailer, now=clock, hasher=hasher)
    client = TestClient(app, base_url=base_url)
    return WebEnv(config, engine, clock, hasher, client, portal_mailer)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(client: TestClient, path: str) -> str:
    """The CSRF token of the form on the page at `path`."""
    found = _CSRF.search(client.get(path).text)
    assert found, f"no form token on {path}"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str, **extra: str) -> Response:
    data = {
        "csrf_token": form_token(client, "/connexion"),
        "identifiant": email,
        "mot_de_passe": password,
        **extra,
    }
    # starlette types TestClient against httpx2 (not installed), so mypy sees its methods as Any.
    return cast(Response, client.post("/connexion", data=data, follow_redirects=False))
