"""TLS against real servers: mailbot's IMAP side (`Mailbox.connect`) against Dovecot and its
SMTP side (`deliver_pending`) against aiosmtpd, in both TLS modes, with certificates from a
private CA made for the run (tests/tlsutil.py).

What must hold (docs/tls.md): with the right CA the session is encrypted and works; a
certificate that cannot be verified (unknown CA, name not in its subjectAltName) stops the
connection before a password or an envelope is sent; a server that does not offer STARTTLS is
never talked to in clear text when STARTTLS was configured.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import smtplib
import sqlite3
import ssl
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import pytest
from imapclient.exceptions import CapabilityError
from mailservers import Dovecot
from sqlalchemy import Engine
from sqlmodel import Session
from tlsutil import MemorySMTP, TestPki, TlsFiles

from mailbot.config import Config, ConfigError, parse_config
from mailbot.loop.delivery import DeliveryReport, deliver_pending
from mailbot.loop.mailbox import Mailbox
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import OutboxMail

pytestmark = [
    pytest.mark.integration,
    # aiosmtpd counts only STARTTLS as TLS, so the implicit-TLS server with AUTH warns; that
    # port is encrypted from the first byte (see tlsutil.MemorySMTP).
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

Mode = Literal["implicit", "starttls"]
MODES: tuple[Mode, ...] = ("implicit", "starttls")
TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")
IMAP_PASSWORD_ENV = "MAILBOT_TLS_TEST_IMAP_PASSWORD"
SMTP_PASSWORD_ENV = "MAILBOT_TLS_TEST_SMTP_PASSWORD"
SMTP_USER, SMTP_PASSWORD = "bot@example.test", "smtp-secret"
# OpenSSL's X509_V_ERR_* codes, as ssl.SSLCertVerificationError.verify_code reports them.
UNKNOWN_ISSUER = 20  # unable to get local issuer certificate
HOSTNAME_MISMATCH = 62  # a DNS name not among the certificate's dNSName entries
IP_ADDRESS_MISMATCH = 64  # an address not among its iPAddress entries

_users = itertools.count(1)


# ---------------------------------------------------------------------------- configuration


def tls_config(
    *,
    mailbox: dict[str, Any] | None = None,
    smtp: dict[str, Any] | None = None,
    db_url: str = "sqlite:///:memory:",
) -> Config:
    """A complete configuration whose [mailbox] and [smtp] are `mailbox` and `smtp` (host,
    port, tls, ca_file, user…); the rest is the least `parse_config` accepts."""
    mailbox_section = {"port": 1, "tls": "plain", "host": "127.0.0.1", "user": "bot"}
    smtp_section = {"port": 1, "tls": "plain", "host": "127.0.0.1", "retry_base_seconds": 60}
    return parse_config(
        {
            "instance": {"domain": "example.test", "generic_address": "bot@example.test"},
            "portal": {"base_url": "http://127.0.0.1:8999"},
            "reviewers": {
                "groups": {
                    "accueil": {
                        "members": ["relecteur@example.test"],
                        "handles": ["subscription", "question:unclassified"],
                    }
                }
            },
            "admins": {"addresses": ["admin@example.test"]},
            "mailbox": {**mailbox_section, "password_env": IMAP_PASSWORD_ENV, **(mailbox or {})},
            "smtp": {**smtp_section, **(smtp or {})},
            "database": {"url": db_url},
        }
    )


# ---------------------------------------------------------------------------- IMAP fixtures


@pytest.fixture(scope="module")
def pki() -> Iterator[TestPki]:
    material = TestPki.create()
    yield material
    material.cleanup()


@pytest.fixture(scope="module")
def tls_dovecots(pki: TestPki) -> Iterator[dict[str, Dovecot]]:
    """One Dovecot per server certificate of `pki`, by its attribute name."""
    servers = {
        "trusted": Dovecot(tls=pki.trusted),
        "localhost_only": Dovecot(tls=pki.localhost_only),
        "ip_only": Dovecot(tls=pki.ip_only),
        "untrusted": Dovecot(tls=pki.untrusted),
    }
    try:
        for server in servers.values():
            server.start()
        yield servers
    finally:
        for server in servers.values():
            server.cleanup()


@dataclass(frozen=True)
class ImapAccount:
    dovecot: Dovecot
    address: str
    password: str

    def deliver(self, subject: str) -> None:
        """Put a message in the INBOX over LMTP (plain on loopback, no IMAP involved)."""
        raw = f"From: alice@example.test\r\nTo: {self.address}\r\nSubject: {subject}\r\n\r\nBonjour\r\n"
        with smtplib.LMTP(self.dovecot.host, self.dovecot.lmtp_port, timeout=10) as lmtp:
            lmtp.sendmail("alice@example.test", [self.address], raw.encode())

    def logged_in(self) -> bool:
        """Whether Dovecot's log shows a login of this user (it writes one line per login)."""
        return f"Login: user=<{self.address}>" in self.dovecot.log_file.read_text()


def new_account(dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> ImapAccount:
    number = next(_users)
    # Own prefix: the session's plain Dovecot also holds MailEnv's bot-<n> users.
    account = ImapAccount(dovecot, f"tls-bot-{number}@{dovecot.domain}", f"pw-{number}")
    dovecot.add_user(account.address, account.password)
    monkeypatch.setenv(IMAP_PASSWORD_ENV, account.password)
    return account


def mailbox_config(
    account: ImapAccount, mode: Literal["implicit", "starttls", "plain"], host: str, ca: Path | None
) -> Config:
    dovecot = account.dovecot
    port = dovecot.imaps_port if mode == "implicit" else dovecot.imap_port
    return tls_config(
        mailbox={
            "host": host,
            "port": port,
            "tls": mode,
            "user": account.address,
            "ca_file": str(ca) if ca is not None else None,
        }
    )


def issuer_names(sock: ssl.SSLSocket) -> dict[str, str]:
    """The issuer of the peer's certificate, e.g. {"commonName": "private-ca", …}."""
    cert = sock.getpeercert()
    assert cert is not None
    rdns = cast("tuple[tuple[tuple[str, str], ...], ...]", cert["issuer"])
    return {key: value for rdn in rdns for key, value in rdn}


def unclosed_sockets_to(port: int, caught: list[warnings.WarningMessage]) -> list[str]:
    """The ResourceWarnings among `caught` about a socket to 127.0.0.1:`port`."""
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, ResourceWarning)
        and f"raddr=('127.0.0.1', {port})" in str(w.message)
    ]


def tls_socket(mailbox: Mailbox) -> ssl.SSLSocket:
    assert mailbox.client is not None
    sock = mailbox.client.socket()
    assert isinstance(sock, ssl.SSLSocket), f"not encrypted: {sock!r}"
    return sock


# ---------------------------------------------------------------------------- IMAP tests


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
@pytest.mark.parametrize("mode", MODES)
def test_mailbox_over_tls_with_the_private_ca_reads_the_inbox(
    tls_dovecots: dict[str, Dovecot],
    pki: TestPki,
    monkeypatch: pytest.MonkeyPatch,
    mode: Mode,
    host: str,
) -> None:
    account = new_account(tls_dovecots["trusted"], monkeypatch)
    account.deliver("Question sur l'abonnement")
    mailbox = Mailbox(mailbox_config(account, mode, host, pki.ca.cert))

    mailbox.connect()
    try:
        sock = tls_socket(mailbox)
        version = sock.version()
        issuer = issuer_names(sock)
        messages = list(mailbox.fetch(mailbox.inbox_uids()))
    finally:
        mailbox.close()

    assert version in TLS_VERSIONS
    assert issuer["commonName"] == "private-ca"
    assert len(messages) == 1
    assert b"Subject: Question sur l'abonnement" in messages[0][1]


@dataclass(frozen=True)
class BadCertificate:
    server: str  # key of tls_dovecots / smtp certificate
    host: str
    trust_private_ca: bool
    verify_code: int
    reason: str


BAD_CERTIFICATES = {
    "no ca_file: system store only": BadCertificate(
        "trusted", "localhost", False, UNKNOWN_ISSUER, "unable to get local issuer certificate"
    ),
    "certificate from another CA": BadCertificate(
        "untrusted", "localhost", True, UNKNOWN_ISSUER, "unable to get local issuer certificate"
    ),
    "address not in subjectAltName": BadCertificate(
        "localhost_only", "127.0.0.1", True, IP_ADDRESS_MISMATCH, "IP address mismatch"
    ),
    "host name not in subjectAltName": BadCertificate(
        "ip_only", "localhost", True, HOSTNAME_MISMATCH, "Hostname mismatch"
    ),
}


@pytest.mark.parametrize("case", BAD_CERTIFICATES.values(), ids=BAD_CERTIFICATES.keys())
@pytest.mark.parametrize("mode", MODES)
def test_mailbox_refuses_a_certificate_it_cannot_verify_before_logging_in(
    tls_dovecots: dict[str, Dovecot],
    pki: TestPki,
    monkeypatch: pytest.MonkeyPatch,
    mode: Mode,
    case: BadCertificate,
) -> None:
    account = new_account(tls_dovecots[case.server], monkeypatch)
    ca = pki.ca.cert if case.trust_private_ca else None
    mailbox = Mailbox(mailbox_config(account, mode, case.host, ca))

    with pytest.raises(ssl.SSLCertVerificationError) as err:
        mailbox.connect()

    assert err.value.verify_code == case.verify_code
    assert case.reason in str(err.value)
    assert mailbox.client is None
    assert not account.logged_in()


def test_starttls_mode_never_logs_in_to_a_server_without_starttls(
    dovecot: Dovecot, pki: TestPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The plain test Dovecot offers no STARTTLS, like a server whose capability was stripped
    # by someone in the middle: mailbot must stop, not carry on in clear text.
    account = new_account(dovecot, monkeypatch)
    mailbox = Mailbox(mailbox_config(account, "starttls", "127.0.0.1", pki.ca.cert))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(CapabilityError, match="does not support STARTTLS"):
            mailbox.connect()
        gc.collect()

    assert mailbox.client is None
    assert not account.logged_in()
    # connect() closed the plain connection itself, not the garbage collector ("unclosed").
    assert unclosed_sockets_to(dovecot.imap_port, caught) == []


def test_implicit_mode_fails_on_a_plain_text_port(
    tls_dovecots: dict[str, Dovecot], pki: TestPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = new_account(tls_dovecots["trusted"], monkeypatch)
    config = mailbox_config(account, "implicit", "localhost", pki.ca.cert)
    plain_port = {**config.mailbox.model_dump(), "port": account.dovecot.imap_port}
    mailbox = Mailbox(tls_config(mailbox=plain_port))

    with pytest.raises(ssl.SSLError):
        mailbox.connect()

    assert not account.logged_in()


# ---------------------------------------------------------------------------- SMTP


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for every test (migrating takes a few tenths of a s)."""
    path = tmp_path_factory.mktemp("tls-db") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def engine(migrated_db: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "mailbot.db"
    with sqlite3.connect(migrated_db) as source, sqlite3.connect(path) as target:
        source.backup(target)  # consistent even with the template's WAL
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def smtp_servers() -> Iterator[list[MemorySMTP]]:
    """Servers a test starts; all stopped at its end."""
    servers: list[MemorySMTP] = []
    yield servers
    for server in servers:
        server.stop()


def start_smtp(
    servers: list[MemorySMTP], mode: Literal["implicit", "starttls", "plain"], **kwargs: Any
) -> MemorySMTP:
    server = MemorySMTP(mode, **kwargs)
    server.start()
    servers.append(server)
    return server


def queue_mail(engine: Engine, subject: str) -> int:
    """Add a pending mail to the outbox; `subject` is ASCII (it is written as is)."""
    raw = (
        f"From: bot@example.test\r\nTo: alice@example.test\r\nSubject: {subject}\r\n"
        "Message-ID: <tls-test@example.test>\r\n\r\nBonjour,\r\n"
    ).encode("ascii")
    row = OutboxMail(
        idempotency_key=f"-:{subject}",
        template="test",
        recipients=["alice@example.test"],
        recipient="alice@example.test",
        envelope_from="bot@example.test",
        bounce_token=f"token-{subject}",
        message_id="<tls-test@example.test>",
        raw=raw,
    )
    with Session(engine) as session:
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


def outbox_row(engine: Engine, row_id: int) -> OutboxMail:
    with Session(engine) as session:
        row = session.get(OutboxMail, row_id)
        assert row is not None
        return row


def deliver(
    engine: Engine,
    server: MemorySMTP,
    host: str,
    ca: Path | None,
    *,
    mode: Mode | None = None,
    login: bool = False,
) -> DeliveryReport:
    """Run mailbot's outbox delivery once against `server`, in `mode` (default: the server's
    TLS mode)."""
    smtp: dict[str, Any] = {
        "host": host,
        "port": server.port,
        "tls": mode or server.mode,
        "ca_file": str(ca) if ca is not None else None,
    }
    if login:
        smtp.update(user=SMTP_USER, password_env=SMTP_PASSWORD_ENV)
    return asyncio.run(deliver_pending(engine, tls_config(smtp=smtp)))


@pytest.fixture(autouse=True)
def _smtp_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SMTP_PASSWORD_ENV, SMTP_PASSWORD)


def certificate(pki: TestPki, name: str) -> TlsFiles:
    files: TlsFiles = getattr(pki, name)
    return files


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
@pytest.mark.parametrize("mode", MODES)
def test_outbox_is_delivered_over_tls_with_the_private_ca(
    pki: TestPki,
    engine: Engine,
    smtp_servers: list[MemorySMTP],
    mode: Mode,
    host: str,
) -> None:
    server = start_smtp(smtp_servers, mode, tls=pki.trusted, credentials=(SMTP_USER, SMTP_PASSWORD))
    row_id = queue_mail(engine, "Reponse chiffree")

    report = deliver(engine, server, host, pki.ca.cert, login=True)

    row = outbox_row(engine, row_id)
    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    assert row.state == "sent"
    (received,) = server.accepted
    assert received.tls_version in TLS_VERSIONS
    # AUTH succeeded (the server requires it; in STARTTLS mode it refuses AUTH before TLS).
    assert received.user == SMTP_USER
    assert (received.mail_from, received.rcpt_tos) == ("bot@example.test", ["alice@example.test"])
    assert received.raw == row.raw


@pytest.mark.parametrize("case", BAD_CERTIFICATES.values(), ids=BAD_CERTIFICATES.keys())
@pytest.mark.parametrize("mode", MODES)
def test_outbox_stays_pending_when_the_certificate_cannot_be_verified(
    pki: TestPki,
    engine: Engine,
    smtp_servers: list[MemorySMTP],
    mode: Mode,
    case: BadCertificate,
) -> None:
    # STARTTLS is offered but not required, and no AUTH: a client falling back to clear text
    # after a failed handshake would get its mail accepted, and this test would see it.
    server = start_smtp(
        smtp_servers, mode, tls=certificate(pki, case.server), require_starttls=False
    )
    row_id = queue_mail(engine, "Jamais en clair")

    report = deliver(engine, server, case.host, pki.ca.cert if case.trust_private_ca else None)

    row = outbox_row(engine, row_id)
    assert (report.sent, report.retried) == (0, 1)
    assert (row.state, row.attempts) == ("pending", 0)
    assert row.last_error is not None and case.reason in row.last_error
    assert server.mail_from_seen == []
    assert server.accepted == []


def test_starttls_mode_never_sends_to_a_server_without_starttls(
    pki: TestPki, engine: Engine, smtp_servers: list[MemorySMTP]
) -> None:
    server = start_smtp(smtp_servers, "plain")
    row_id = queue_mail(engine, "Pas de STARTTLS")  # like a STARTTLS stripped in transit

    report = deliver(engine, server, "127.0.0.1", pki.ca.cert, mode="starttls")

    row = outbox_row(engine, row_id)
    assert (report.sent, report.retried) == (0, 1)
    assert row.state == "pending"
    assert row.last_error is not None and "STARTTLS" in row.last_error
    assert server.mail_from_seen == []


def test_plain_smtp_is_refused_for_a_remote_host() -> None:
    # The [mailbox] case is in test_config.py.
    with pytest.raises(ConfigError, match=r"smtp\.tls: 'plain' is allowed for a loopback host"):
        tls_config(smtp={"host": "smtp.example.org", "tls": "plain"})
