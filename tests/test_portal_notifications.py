"""Announcing publications: immediate mails and the daily digest, through the outbox, never
twice for the same person and version."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from mailbot.config import Config
from portal_stub.models import PortalAccount, PortalNotificationPreference
from portal_stub.notifications import notify_publication, send_daily_digest
from portal_stub.service import StubPortal
from portal_stub.testing import Clock, cheap_hasher, make_config, migrated_sqlite
from storage.db import make_engine
from storage.models import OutboxMail

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(migrated_sqlite(tmp_path / "portal.db"))


@pytest.fixture
def session(config: Config) -> Iterator[Session]:
    engine = make_engine(config.database.url)
    with Session(engine) as s:
        yield s
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def portal(session: Session, config: Config, clock: Clock) -> StubPortal:
    return StubPortal(session, config.portal.base_url, clock, hasher=cheap_hasher())


def account(session: Session, email_address: str, spaces: list[str], **prefs: str) -> PortalAccount:
    acc = PortalAccount(
        email=email_address,
        first_name="Claire",
        last_name="Martin",
        spaces=spaces,
        password_hash="x",
        must_change_password=False,
        created_at=NOW - timedelta(days=1),
    )
    session.add(acc)
    session.flush()
    for space, frequency in prefs.items():
        session.add(
            PortalNotificationPreference(
                account_id=acc.id or 0,
                space=space,
                frequency=frequency,
                updated_at=NOW - timedelta(days=1),
            )
        )
    session.flush()
    return acc


def outbox(session: Session, template: str) -> list[OutboxMail]:
    return list(
        session.exec(
            select(OutboxMail).where(OutboxMail.template == template).order_by(col(OutboxMail.id))
        )
    )


def text_of(mail: OutboxMail) -> str:
    message = email.message_from_bytes(mail.raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    body = message.get_body(("plain",))
    assert body is not None
    return str(message["Subject"]) + "\n" + body.get_content()


def test_immediate_subscribers_get_one_mail_per_version(
    session: Session, config: Config, portal: StubPortal
) -> None:
    account(session, "vite@ville.fr", ["desta"], desta="immediate")
    account(session, "jour@ville.fr", ["desta"])  # daily by default
    account(session, "sans@ville.fr", ["accueil"], accueil="immediate")  # no access to desta
    portal.publish("desta", "Quel format pour les flux <FPS> ?", "XML.", "Q-2026-000001", "k1")
    assert notify_publication(session, config, "Q-2026-000001", now=NOW) == 1
    assert notify_publication(session, config, "Q-2026-000001", now=NOW) == 0
    [mail] = outbox(session, "portal_publication")
    assert mail.recipients == ["vite@ville.fr"] and mail.case_ref is None
    text = text_of(mail)
    assert "Nouvelle réponse publiée dans l’espace DESTA" in text
    assert "Quel format pour les flux <FPS> ?" in text
    assert "http://portail.test/espaces/desta/questions/Q-2026-000001" in text
    assert "http://portail.test/compte/notifications" in text
    portal.publish("desta", "Quel format pour les flux <FPS> ?", "XML 2.", "Q-2026-000001", "k2")
    assert notify_publication(session, config, "Q-2026-000001", now=NOW) == 1
    assert "Réponse mise à jour" in text_of(outbox(session, "portal_publication")[-1])


def test_withdrawn_or_unknown_publications_notify_nobody(
    session: Session, config: Config, portal: StubPortal
) -> None:
    account(session, "vite@ville.fr", ["desta"], desta="immediate")
    portal.publish("desta", "Question ?", "Réponse.", "Q-2026-000001", "k3")
    portal.withdraw("Q-2026-000001", "k4")
    assert notify_publication(session, config, "Q-2026-000001", now=NOW) == 0
    assert notify_publication(session, config, "Q-2026-999999", now=NOW) == 0


def test_daily_digest_lists_what_is_new_once(
    session: Session, config: Config, portal: StubPortal, clock: Clock
) -> None:
    account(session, "jour@ville.fr", ["desta"])
    account(session, "vite@ville.fr", ["desta"], desta="immediate", accueil="daily")
    account(session, "rien@ville.fr", ["desta"], desta="none", accueil="none")
    portal.publish("desta", "Première question DESTA ?", "R1.", "Q-2026-000001", "k5")
    portal.publish("accueil", "Question Accueil ?", "R2.", "Q-2026-000002", "k6")
    assert send_daily_digest(session, config, NOW + timedelta(hours=1)) == 2
    assert send_daily_digest(session, config, NOW + timedelta(hours=2)) == 0
    mails = {m.recipients[0]: text_of(m) for m in outbox(session, "portal_digest")}
    assert set(mails) == {"jour@ville.fr", "vite@ville.fr"}
    assert (
        "Première question DESTA ?" in mails["jour@ville.fr"]
        and "Question Accueil ?" in mails["jour@ville.fr"]
    )
    assert "2 nouvelles publications" in mails["jour@ville.fr"]
    assert (
        "Question Accueil ?" in mails["vite@ville.fr"] and "DESTA ?" not in mails["vite@ville.fr"]
    )
    clock.advance(days=1)
    portal.publish("desta", "Deuxième question DESTA ?", "R3.", "Q-2026-000003", "k7")
    assert send_daily_digest(session, config, clock() + timedelta(hours=1)) == 1
    last = text_of(outbox(session, "portal_digest")[-1])
    assert (
        "Deuxième question DESTA ?" in last
        and "Première" not in last
        and "1 nouvelle publication" in last
    )


def test_mail_already_sent_immediately_is_not_repeated_in_the_digest(
    session: Session, config: Config, portal: StubPortal
) -> None:
    acc = account(session, "vite@ville.fr", ["desta"], desta="immediate")
    portal.publish("desta", "Question ?", "Réponse.", "Q-2026-000001", "k8")
    notify_publication(session, config, "Q-2026-000001", now=NOW)
    pref = session.get(PortalNotificationPreference, (acc.id, "desta"))
    assert pref is not None
    pref.frequency = "daily"
    session.add(pref)
    assert send_daily_digest(session, config, NOW + timedelta(hours=1)) == 0


def test_digest_does_not_reach_back_before_the_choice(
    session: Session, config: Config, portal: StubPortal
) -> None:
    acc = account(session, "tard@ville.fr", ["desta"], desta="none")
    portal.publish("desta", "Ancienne question ?", "Réponse.", "Q-2026-000001", "k9")
    pref = session.get(PortalNotificationPreference, (acc.id, "desta"))
    assert pref is not None
    pref.frequency, pref.updated_at = "daily", NOW + timedelta(minutes=5)
    session.add(pref)
    assert send_daily_digest(session, config, NOW + timedelta(hours=1)) == 0


def test_accounts_that_never_signed_in_get_no_notification(
    session: Session, config: Config, portal: StubPortal
) -> None:
    acc = account(session, "nouveau@ville.fr", ["desta"], desta="immediate", accueil="daily")
    acc.must_change_password = True
    session.add(acc)
    portal.publish("desta", "Question ?", "Réponse.", "Q-2026-000001", "k10")
    portal.publish("accueil", "Question ?", "Réponse.", "Q-2026-000002", "k11")
    assert notify_publication(session, config, "Q-2026-000001", now=NOW) == 0
    assert send_daily_digest(session, config, NOW + timedelta(hours=1)) == 0
