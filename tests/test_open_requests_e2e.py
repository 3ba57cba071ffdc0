"""A person already listed in another open subscription request is flagged in the reviewer's
notification (« Figure aussi dans la demande en cours … »), on SQLite and PostgreSQL. The lookup
reads the `case_person` index (a drain used to decode every open request for every new one):
an address with `_` or `%` matches exactly, a closed request is not reported, a replaced table
reports its new people and not the removed ones, the oldest open request is the one named, and
migration 0015 fills the index from the requests already in the database."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from harness import Bot, annex_xlsx, body_text, compose, make_bot, person, reply_to, submit
from mailservers import Account, MailEnv
from pgutil import postgres_database
from sqlmodel import Session, col, select

from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import Case, CasePerson
from workflows.records import Person, SubscriptionRecord

pytestmark = pytest.mark.integration

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="mailbot-open-"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, workdir: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{workdir}/mailbot.db"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def bot(db_url: str, workdir: Path, mail_env: MailEnv) -> Iterator[Bot]:
    b = make_bot(mail_env, db_url, workdir)
    yield b
    b.engine.dispose()


def send(bot: Bot, sender: str, people: list[dict[str, str]]) -> None:
    msg = compose(
        sender,
        bot.env.bot.address,
        "Demande d'abonnement au portail",
        "Bonjour,\n\nVeuillez trouver ci-joint notre tableau.\n\nCordialement",
        attachments=[("annexe.xlsx", XLSX, annex_xlsx(people))],
    )
    submit(bot.env, msg)
    bot.run_once()


def refs(bot: Bot) -> list[str]:
    """The subscription requests, oldest first."""
    with Session(bot.engine) as s:
        return list(s.exec(select(Case.ref).order_by(col(Case.id))).all())


def notification_of(bot: Bot, ref: str, count: int) -> EmailMessage:
    """The reviewers' notification of new request `ref`, once their mailbox holds `count`."""
    mails = bot.env.wait_for(bot.env.reviewers["abonnements"], count=count)
    [notif] = [m for m in mails if str(m["Subject"]).startswith(f"[{ref}] Demande d'abonnement à")]
    return notif


PERSON_LINE = re.compile(r"^\d+\. .* — (\S+@\S+)$")
FLAG_LINE = re.compile(r"^\s+⚠ Figure aussi dans la demande en cours (ABO-\d{4}-\d{6})\.$")


def flags(notif: EmailMessage) -> dict[str, str]:
    """Address → the other open request the notification names for that person."""
    found: dict[str, str] = {}
    email = None
    for line in body_text(notif).splitlines():
        if m := PERSON_LINE.match(line):
            email = m.group(1)
        elif (m := FLAG_LINE.match(line)) and email is not None:
            found[email] = m.group(1)
    return found


def reply_with_table(bot: Bot, requester: Account, people: list[dict[str, str]]) -> None:
    """The requester answers the acknowledgement with a new table, which replaces the old."""
    [ack] = bot.env.wait_for(requester)
    corrected = reply_to(ack, requester.address, "Voici le tableau corrigé.", style="gmail")
    corrected.add_attachment(
        annex_xlsx(people),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename="annexe-v2.xlsx",
    )
    submit(bot.env, corrected)
    bot.run_once()


def test_a_person_in_another_open_request_is_flagged(bot: Bot) -> None:
    env = bot.env
    shared = person(env, "dupont")
    shared["Courriel"] = f"jean_dupont%{env.number}@{env.domain}"  # LIKE wildcards
    lookalike = person(env, "dupont")
    lookalike["Courriel"] = f"jeanXdupontY{env.number}@{env.domain}"  # what `_`/`%` would match
    send(bot, env.requesters[0].address, [shared, person(env, "martin")])
    send(bot, env.requesters[1].address, [shared, lookalike])
    notifications = env.wait_for(env.reviewers["abonnements"], count=2)
    second = body_text(notifications[-1])
    assert second.count("Figure aussi dans la demande en cours ABO-") == 1
    flagged = second.split("Figure aussi dans la demande en cours")[0]
    assert shared["Courriel"] in flagged
    first = body_text(notifications[0])
    assert "Figure aussi dans la demande en cours" not in first


def test_a_person_in_a_closed_request_is_not_flagged(bot: Bot) -> None:
    env = bot.env
    reviewers = env.reviewers["abonnements"]
    shared = person(env, "leroy")
    send(bot, env.requesters[0].address, [shared])
    [first] = refs(bot)
    submit(env, reply_to(notification_of(bot, first, 1), reviewers.address, "REFUSER Inconnu"))
    bot.run_once()
    send(bot, env.requesters[1].address, [shared, person(env, "petit")])
    [_, second] = refs(bot)
    # notification, refusal confirmation, second notification
    assert flags(notification_of(bot, second, 3)) == {}


def test_a_replaced_table_reports_its_new_people_not_the_removed_ones(bot: Bot) -> None:
    env = bot.env
    alice = env.requesters[0]
    durand, lefevre, moreau = (person(env, n) for n in ("durand", "lefevre", "moreau"))
    send(bot, alice.address, [durand, lefevre])
    reply_with_table(bot, alice, [durand, moreau])  # lefevre removed, moreau added
    [first] = refs(bot)
    send(bot, env.requesters[1].address, [lefevre, moreau, durand])
    [_, second] = refs(bot)
    # first notification, the notification of the new table, the second request's
    assert flags(notification_of(bot, second, 3)) == {
        moreau["Courriel"]: first,
        durand["Courriel"]: first,
    }


def test_the_oldest_open_request_is_named(bot: Bot) -> None:
    env = bot.env
    shared = person(env, "girard")
    send(bot, env.requesters[0].address, [shared])
    send(bot, env.requesters[1].address, [shared, person(env, "roux")])
    send(bot, env.requesters[0].address, [person(env, "faure"), shared])
    first, second, third = refs(bot)
    assert flags(notification_of(bot, second, 3)) == {shared["Courriel"]: first}
    assert flags(notification_of(bot, third, 3)) == {shared["Courriel"]: first}


def old_case(ref: str, emails: list[str], **fields: object) -> Case:
    record = SubscriptionRecord(
        people=tuple(Person(number=i, email=e) for i, e in enumerate(emails, 1))
    )
    return Case(
        ref=ref,
        kind="subscription",
        state="under_review",
        requester="ancien@example.test",
        data=record.to_json(),
        **fields,
    )


def test_the_migration_indexes_the_requests_already_there(
    db_url: str, workdir: Path, mail_env: MailEnv
) -> None:
    """A database at 0014 with open and closed requests, upgraded by the bot's start: the
    open request made before the upgrade is named in a new request's notification."""
    upgrade(db_url, "0014_retention")
    env = mail_env
    shared, kept = person(env, "blanc"), person(env, "garnier")
    engine = make_engine(db_url)
    with Session(engine) as s:
        s.add(old_case("ABO-2026-000900", [shared["Courriel"].upper(), kept["Courriel"]]))
        closed = datetime.now(UTC) - timedelta(days=3)
        s.add(old_case("ABO-2026-000901", [kept["Courriel"]], closed_at=closed))
        s.add(
            old_case(
                "ABO-2026-000902", [shared["Courriel"]], closed_at=closed, anonymised_at=closed
            )
        )
        s.commit()
    engine.dispose()
    bot = make_bot(env, db_url, workdir)  # upgrades to the head
    try:
        with Session(bot.engine) as s:
            rows = s.exec(select(CasePerson.case_ref, CasePerson.email)).all()
        assert sorted(rows) == [
            ("ABO-2026-000900", shared["Courriel"]),
            ("ABO-2026-000900", kept["Courriel"]),
            ("ABO-2026-000901", kept["Courriel"]),
        ]
        send(bot, env.requesters[0].address, [shared, person(env, "lambert")])
        [new] = [r for r in refs(bot) if not r.startswith("ABO-2026-0009")]
        assert flags(notification_of(bot, new, 1)) == {shared["Courriel"]: "ABO-2026-000900"}
    finally:
        bot.engine.dispose()
