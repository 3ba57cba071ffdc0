"""Shared pytest fixtures: real mail servers (Dovecot, an SMTP relay into it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mailservers import INSTALL_HINT, Dovecot, LmtpRelaySMTP, MailEnv, find_dovecot

_MARKERS = {
    "integration": "talks to real Dovecot/SMTP servers",
    "postgres": "uses the real PostgreSQL server",
    "campaign": "kill campaign (short; MAILBOT_LONG=1 for the full sizes: make test-long)",
}


def pytest_configure(config: pytest.Config) -> None:
    declared = {line.split(":", 1)[0].strip() for line in config.getini("markers")}
    for name, description in _MARKERS.items():
        if name not in declared:
            config.addinivalue_line("markers", f"{name}: {description}")


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One private Dovecot (IMAP + LMTP on 127.0.0.1, free ports) for the whole run.

    Never skipped: a missing Dovecot is a broken setup, not an optional test.
    """
    if find_dovecot() is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    server = Dovecot()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def smtp_relay(dovecot: Dovecot) -> Iterator[LmtpRelaySMTP]:
    """SMTP on 127.0.0.1 (free port, no auth) delivering into `dovecot` over LMTP."""
    relay = LmtpRelaySMTP(dovecot)
    relay.start()
    try:
        yield relay
    finally:
        relay.stop()


@pytest.fixture
def mail_env(dovecot: Dovecot, smtp_relay: LmtpRelaySMTP) -> Iterator[MailEnv]:
    """Fresh mailboxes for this test: see `MailEnv` (bot, requesters, reviewers, admin)."""
    smtp_relay.clear_faults()
    yield MailEnv.create(dovecot, smtp_relay)
    smtp_relay.clear_faults()
