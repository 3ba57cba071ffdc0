"""Announcing publications (`mailbot.loop.notices`): immediate mails and the daily digest,
through the outbox, never twice for the same person and version; what was published comes from
mailbot's own record, who to tell from `Portal.subscribers`."""

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
from mailbot.loop.notices import (
    notify_publication,
    record_publication,
    record_withdrawal,
    send_daily_digest,
)
from mailbot.portal import Frequency, Subscriber
from portal_stub.models import PortalAccount, PortalNotificationPreference
from portal_stub.service import StubPortal
from portal_stub.testing import Clock, cheap_hasher, make_config, migrated_sqlite
from storage.db import make_engine
from storage.models import NoticeSent, OutboxMail, Publication

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
    return StubPortal(session.get_bind(), config.portal.base_url, clock, hasher=cheap_hasher())


class Publisher:
    """What the portal worker and `Decider.on_portal_result` do: publish on the portal, then
    record it in mailbot's tables."""

    def __init__(self, session: Session, portal: StubPortal, clock: Clock) -> None:
        self.session, self.portal, self.clock = session, portal, clock
        self.calls = 0

    def publish(self, space: str, question: str, answer: str, case_ref: str) -> None:
        self.calls += 1
        key = f"{case_ref}:publish:{self.calls}"
        self.session.commit()  # the portal works in its own transactions
        url, version = self.portal.publish(space, question, answer, case_ref, key)
        record_publication(self.session, case_ref, space, question, url, version, self.clock())

    def withdraw(self, case_ref: str) -> None:
        self.calls += 1
        self.session.commit()
        self.portal.withdraw(case_ref, f"{case_ref}:withdraw:{self.calls}")
        record_withdrawal(self.session, case_ref, self.clock())


@pytest.fixture
def pub(session: Session, portal: StubPortal, clock: Clock) -> Publisher:
    return Publisher(session, portal, clock)


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
    session.commit()  # the portal reads accounts in its own transactions
    session.refresh(acc)
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
    session: Session, config: Config, portal: StubPortal, pub: Publisher
) -> None:
    account(session, "vite@ville.fr", ["desta"], desta="immediate")
    account(session, "jour@ville.fr", ["desta"])  # daily by default
    account(session, "sans@ville.fr", ["accueil"], accueil="immediate")  # no access to desta
    pub.publish("desta", "Quel format pour les flux <FPS> ?", "XML.", "Q-2026-000001")
    assert notify_publication(session, config, portal, "Q-2026-000001", NOW) == 1
    assert notify_publication(session, config, portal, "Q-2026-000001", NOW) == 0
    [mail] = outbox(session, "portal_publication")
    assert mail.recipients == ["vite@ville.fr"] and mail.case_ref is None
    text = text_of(mail)
    assert "Nouvelle réponse publiée dans l’espace DESTA" in text
    assert "Quel format pour les flux <FPS> ?" in text
    assert "http://portail.test/espaces/desta/questions/Q-2026-000001" in text
    assert "http://portail.test/compte/notifications" in text
    pub.publish("desta", "Quel format pour les flux <FPS> ?", "XML 2.", "Q-2026-000001")
    assert notify_publication(session, config, portal, "Q-2026-000001", NOW) == 1
    assert "Réponse mise à jour" in text_of(outbox(session, "portal_publication")[-1])


def test_withdrawn_or_unknown_publications_notify_nobody(
    session: Session, config: Config, portal: StubPortal, pub: Publisher
) -> None:
    account(session, "vite@ville.fr", ["desta"], desta="immediate")
    pub.publish("desta", "Question ?", "Réponse.", "Q-2026-000001")
    pub.withdraw("Q-2026-000001")
    assert notify_publication(session, config, portal, "Q-2026-000001", NOW) == 0
    assert notify_publication(session, config, portal, "Q-2026-999999", NOW) == 0


def test_daily_digest_lists_what_is_new_once(
    session: Session, config: Config, portal: StubPortal, pub: Publisher, clock: Clock
) -> None:
    account(session, "jour@ville.fr", ["desta"])
    account(session, "vite@ville.fr", ["desta"], desta="immediate", accueil="daily")
    account(session, "rien@ville.fr", ["desta"], desta="none", accueil="none")
    pub.publish("desta", "Première question DESTA ?", "R1.", "Q-2026-000001")
    pub.publish("accueil", "Question Accueil ?", "R2.", "Q-2026-000002")
    assert send_daily_digest(session, config, portal, NOW + timedelta(hours=1)) == 2
    assert send_daily_digest(session, config, portal, NOW + timedelta(hours=2)) == 0
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
    pub.publish("desta", "Deuxième question DESTA ?", "R3.", "Q-2026-000003")
    assert send_daily_digest(session, config, portal, clock() + timedelta(hours=1)) == 1
    last = text_of(outbox(session, "portal_digest")[-1])
    assert (
        "Deuxième question DESTA ?" in last
        and "Première" not in last
        and "1 nouvelle publication" in last
    )


def test_mail_already_sent_immediately_is_not_repeated_in_the_digest(
    session: Session, config: Config, portal: StubPortal, pub: Publisher
) -> None:
    acc = account(session, "vite@ville.fr", ["desta"], desta="immediate")
    pub.publish("desta", "Question ?", "Réponse.", "Q-2026-000001")
    notify_publication(session, config, portal, "Q-2026-000001", NOW)
    pref = session.get(PortalNotificationPreference, (acc.id, "desta"))
    assert pref is not None
    pref.frequency = "daily"
    session.add(pref)
    assert send_daily_digest(session, config, portal, NOW + timedelta(hours=1)) == 0


def test_digest_does_not_reach_back_before_the_choice(
    session: Session, config: Config, portal: StubPortal, pub: Publisher
) -> None:
    acc = account(session, "tard@ville.fr", ["desta"], desta="none")
    pub.publish("desta", "Ancienne question ?", "Réponse.", "Q-2026-000001")
    pref = session.get(PortalNotificationPreference, (acc.id, "desta"))
    assert pref is not None
    pref.frequency, pref.updated_at = "daily", NOW + timedelta(minutes=5)
    session.add(pref)
    assert send_daily_digest(session, config, portal, NOW + timedelta(hours=1)) == 0


def test_accounts_that_never_signed_in_get_no_notification(
    session: Session, config: Config, portal: StubPortal, pub: Publisher
) -> None:
    acc = account(session, "nouveau@ville.fr", ["desta"], desta="immediate", accueil="daily")
    acc.must_change_password = True
    session.add(acc)
    pub.publish("desta", "Question ?", "Réponse.", "Q-2026-000001")
    pub.publish("accueil", "Question ?", "Réponse.", "Q-2026-000002")
    assert notify_publication(session, config, portal, "Q-2026-000001", NOW) == 0
    assert send_daily_digest(session, config, portal, NOW + timedelta(hours=1)) == 0


# ------------------------------------------------------- mailbot's record, the portal boundary


def test_the_record_keeps_each_version_once_and_the_withdrawal(
    session: Session, pub: Publisher, clock: Clock
) -> None:
    pub.publish("desta", "Question ?", "R1.", "Q-2026-000001")
    record_publication(
        session, "Q-2026-000001", "desta", "Autre ?", "http://x", 1, NOW + timedelta(hours=1)
    )  # the same version again: the first record stays
    clock.advance(hours=2)
    pub.publish("desta", "Question ?", "R2.", "Q-2026-000001")
    clock.advance(hours=1)
    pub.withdraw("Q-2026-000001")
    rows = session.exec(select(Publication).order_by(col(Publication.version))).all()
    assert [(r.version, r.question, r.published_at, r.withdrawn_at) for r in rows] == [
        (1, "Question ?", NOW, None),
        (2, "Question ?", NOW + timedelta(hours=2), NOW + timedelta(hours=3)),
    ]
    assert rows[0].url == "http://portail.test/espaces/desta/questions/Q-2026-000001"


def test_only_the_latest_version_is_announced_and_each_channel_is_recorded(
    session: Session, config: Config, portal: StubPortal, pub: Publisher, clock: Clock
) -> None:
    account(session, "jour@ville.fr", ["desta"])
    account(session, "vite@ville.fr", ["desta"], desta="immediate")
    pub.publish("desta", "Question ?", "R1.", "Q-2026-000001")
    clock.advance(minutes=10)
    pub.publish("desta", "Question ?", "R2.", "Q-2026-000001")
    assert notify_publication(session, config, portal, "Q-2026-000001", clock()) == 1
    assert send_daily_digest(session, config, portal, clock() + timedelta(hours=1)) == 1
    digest = text_of(outbox(session, "portal_digest")[0])
    assert digest.count("Question ?") == 1 and "réponse mise à jour" in digest
    sent = session.exec(select(NoticeSent).order_by(col(NoticeSent.recipient))).all()
    assert [(s.recipient, s.case_ref, s.version, s.channel) for s in sent] == [
        ("jour@ville.fr", "Q-2026-000001", 2, "daily"),
        ("vite@ville.fr", "Q-2026-000001", 2, "immediate"),
    ]


def test_a_missed_digest_is_caught_up_by_the_next_run(
    session: Session, config: Config, portal: StubPortal, pub: Publisher, clock: Clock
) -> None:
    account(session, "jour@ville.fr", ["desta"])
    pub.publish("desta", "Lundi ?", "R.", "Q-2026-000001")
    clock.advance(days=1)
    pub.publish("desta", "Mardi ?", "R.", "Q-2026-000002")
    clock.advance(days=1)  # no digest ran on Tuesday morning
    assert send_daily_digest(session, config, portal, clock()) == 1
    text = text_of(outbox(session, "portal_digest")[0])
    assert "Lundi ?" in text and "Mardi ?" in text and "2 nouvelles publications" in text


class FakePortal:
    """Only what notices need of a portal: `subscribers` (no portal table involved)."""

    def __init__(self, people: dict[tuple[str, str], list[Subscriber]]) -> None:
        self.people = people

    def subscribers(self, space: str, frequency: Frequency) -> list[Subscriber]:
        return self.people.get((space, frequency), [])


def test_notices_need_nothing_of_the_portal_but_its_subscribers(
    session: Session, config: Config
) -> None:
    record_publication(
        session, "Q-2026-000001", "antai", "Avant ?", "https://p/1", 1, NOW - timedelta(days=2)
    )
    record_publication(session, "Q-2026-000002", "antai", "Après ?", "https://p/2", 1, NOW)
    later = Subscriber("Paul@Ville.fr", "Paul", "Durand", NOW - timedelta(days=1))
    portal = FakePortal({("antai", "daily"): [later], ("antai", "immediate"): [later]})
    assert send_daily_digest(session, config, portal, NOW + timedelta(hours=1)) == 1  # type: ignore[arg-type]
    [mail] = outbox(session, "portal_digest")
    text = text_of(mail)
    assert mail.recipients == ["paul@ville.fr"] and "Bonjour Paul Durand" in text
    assert "Après ?" in text and "https://p/2" in text and "Avant ?" not in text
    assert notify_publication(session, config, portal, "Q-2026-000002", NOW) == 0  # type: ignore[arg-type]


def test_notices_do_not_reach_into_the_portal_stand_in() -> None:
    source = (Path(__file__).parents[1] / "mailbot" / "loop" / "notices.py").read_text()
    assert "portal_stub" not in source
