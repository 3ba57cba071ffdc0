"""Subscription requests end to end on Dovecot: the annex mailed, the acknowledgement, the
reviewer's notification, a decision by reply (Outlook and Gmail quoting), the invitations whose
credentials log in to the portal stand-in; partial approval, refusal, a correction round trip,
and forged approvals that must create no account."""

from __future__ import annotations

import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from harness import Bot, annex_xlsx, body_text, compose, make_bot, person, reply_to, submit
from mailservers import MailEnv, fetch_folder, wait_for_messages
from sqlmodel import Session, select

from mailbot.portal import Portal
from portal_stub.service import StubPortal
from storage.models import Case, OutboxMail, PortalOperation

pytestmark = pytest.mark.integration
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def bot(mail_env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-abo-"))
    return make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)


def request(
    bot: Bot, people: list[dict[str, str]], filename: str = "annexe.xlsx", no_mailbox: int = 0
) -> None:
    """Mail the annex; the last `no_mailbox` people get no mailbox (their mail is refused)."""
    env = bot.env
    for p in people[: len(people) - no_mailbox]:
        if not env.dovecot.has_user(p["Courriel"]):
            env.dovecot.add_user(p["Courriel"], "pw-invitee")
    alice = env.requesters[0]
    msg = compose(
        alice.address,
        env.bot.address,
        "Demande d'abonnement au portail",
        "Bonjour,\n\nVeuillez trouver ci-joint notre tableau.\n\nCordialement,\nAlice",
        attachments=[(filename, XLSX, annex_xlsx(people))],
    )
    submit(env, msg)
    bot.run_once()


def case_of(bot: Bot) -> Case:
    with Session(bot.engine) as s:
        return s.exec(select(Case)).one()


def notification(bot: Bot):  # type: ignore[no-untyped-def]
    [notif] = bot.env.wait_for(bot.env.reviewers["abonnements"])
    return notif


def invitation_password(bot: Bot, address: str) -> str:
    [inv] = wait_for_messages(bot.env.dovecot, address, "pw-invitee", "INBOX", 1)
    text = body_text(inv)
    assert f"Identifiant : {address}" in text
    match = re.search(r"Mot de passe temporaire : (\S+)", text)
    assert match, text
    return match.group(1)


def can_log_in(bot: Bot, address: str, password: str) -> bool:
    return StubPortal(bot.engine, bot.config.portal.base_url).check_login(address, password)


@pytest.mark.parametrize("style", ["outlook", "gmail"])
def test_approval_by_reply_creates_accounts_and_invitations_that_log_in(
    bot: Bot, style: str
) -> None:
    env = bot.env
    people = [person(env, "durand"), person(env, "lefevre", **{"Espace ANTAI": "Oui"})]
    request(bot, people)
    [ack] = env.wait_for(env.requesters[0])
    ref = case_of(bot).ref
    assert ref in ack["Subject"] and "durand" in body_text(ack).lower()
    notif = notification(bot)
    assert ref in notif["Subject"]
    # the annex goes out as its values-only copy (test_threat_formulas.py)
    assert any(p.get_filename() == "annexe-valeurs.xlsx" for p in notif.iter_attachments())
    reviewer = env.reviewers["abonnements"].address
    submit(env, reply_to(notif, reviewer, "APPROUVER", style=style))
    bot.run_once()
    for p in people:
        password = invitation_password(bot, p["Courriel"])
        assert can_log_in(bot, p["Courriel"], password)
        assert not can_log_in(bot, p["Courriel"], password + "x")
    assert case_of(bot).state == "invited"
    # The requester is told who was invited; the reviewer gets a confirmation.
    requester_mails = env.wait_for(env.requesters[0], count=2)
    assert any("durand" in body_text(m).lower() for m in requester_mails[1:])
    assert len(env.wait_for(env.reviewers["abonnements"], count=2)) == 2
    # The password is never in the log, and the stored copy was redacted after sending.
    log = "\n".join(bot.log_lines())
    assert password not in log

    with Session(bot.engine) as s:
        invitations = s.exec(select(OutboxMail).where(OutboxMail.template == "invitation")).all()
        assert invitations and all(r.state == "sent" for r in invitations)
        assert all(password.encode() not in r.raw for r in invitations)


def test_partial_approval_invites_only_the_numbers_given(bot: Bot) -> None:
    env = bot.env
    people = [person(env, "un"), person(env, "deux"), person(env, "trois")]
    request(bot, people)
    notif = notification(bot)
    reviewer = env.reviewers["abonnements"].address
    submit(env, reply_to(notif, reviewer, "APPROUVER 1,3"))
    bot.run_once()
    assert can_log_in(bot, people[0]["Courriel"], invitation_password(bot, people[0]["Courriel"]))
    assert can_log_in(bot, people[2]["Courriel"], invitation_password(bot, people[2]["Courriel"]))
    assert fetch_folder(env.dovecot, people[1]["Courriel"], "pw-invitee") == []
    portal = StubPortal(bot.engine, bot.config.portal.base_url)
    assert portal.find_accounts([people[1]["Courriel"]]) == {}


def test_refusal_tells_the_requester_the_reason_and_creates_nothing(bot: Bot) -> None:
    env = bot.env
    people = [person(env, "refuse")]
    request(bot, people)
    notif = notification(bot)
    reviewer = env.reviewers["abonnements"].address
    submit(
        env,
        reply_to(
            notif,
            reviewer,
            "REFUSER adresse personnelle, merci d'utiliser une adresse professionnelle",
            style="gmail",
        ),
    )
    bot.run_once()
    mails = env.wait_for(env.requesters[0], count=2)
    assert "adresse professionnelle" in body_text(mails[-1])
    assert case_of(bot).state == "refused"
    portal = StubPortal(bot.engine, bot.config.portal.base_url)
    assert portal.find_accounts([people[0]["Courriel"]]) == {}
    # A second decision on the closed case changes nothing and says so.
    submit(env, reply_to(notif, reviewer, "APPROUVER"))
    bot.run_once()
    assert case_of(bot).state == "refused"
    replies = env.wait_for(env.reviewers["abonnements"], count=3)
    assert any("déjà" in body_text(m) for m in replies[1:])


def test_invalid_table_then_corrected_reply_resumes_the_case(bot: Bot) -> None:
    env = bot.env
    bad = [person(env, "faux", SIREN="123456789", Courriel="pas-une-adresse")]
    request(bot, bad)
    [answer] = env.wait_for(env.requesters[0])
    text = body_text(answer)
    assert "SIREN" in text and "Courriel" in text
    assert case_of(bot).state == "incomplete"
    assert env.fetch(env.reviewers["abonnements"]) == []
    good = [person(env, "corrige")]
    env.dovecot.add_user(good[0]["Courriel"], "pw-invitee")
    alice = env.requesters[0]
    fixed = reply_to(answer, alice.address, "Voici le tableau corrigé.", style="gmail")
    fixed.add_attachment(
        annex_xlsx(good),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename="annexe-corrigee.xlsx",
    )
    submit(env, fixed)
    bot.run_once()
    assert case_of(bot).state == "under_review"
    notif = notification(bot)
    reviewer = env.reviewers["abonnements"].address
    submit(env, reply_to(notif, reviewer, "APPROUVER"))
    bot.run_once()
    address = good[0]["Courriel"]
    assert can_log_in(bot, address, invitation_password(bot, address))


def test_intent_without_table_gets_the_blank_template(bot: Bot) -> None:
    env = bot.env
    alice = env.requesters[0]
    msg = compose(
        alice.address,
        env.bot.address,
        "Demande d'accès au portail",
        "Bonjour, nous souhaitons créer un compte sur le portail pour notre service.",
    )
    submit(env, msg)
    bot.run_once()
    [reply] = env.wait_for(alice)
    names = [p.get_filename() for p in reply.iter_attachments()]
    assert any(n and n.endswith(".xlsx") for n in names)


FORGERIES = {
    "subject_tag_without_token": lambda notif, reviewer, _other: compose(
        reviewer, str(notif["Reply-To"]), f"RE: {notif['Subject']}", "APPROUVER"
    ),
    "token_from_another_case": lambda _notif, reviewer, other: reply_to(
        other, reviewer, "APPROUVER", headers=None
    ),
    "valid_token_wrong_sender": lambda notif, _reviewer, _other: reply_to(
        notif, "intrus@example.test", "APPROUVER"
    ),
    "trusted_authres_dmarc_fail": lambda notif, reviewer, _other: reply_to(
        notif,
        reviewer,
        "APPROUVER",
        headers={"Authentication-Results": "mx.example.test; dmarc=fail header.from=example.test"},
    ),
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_forged_approval_creates_no_account(mail_env: MailEnv, forgery: str) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-forge-"))
    bot = make_bot(
        mail_env,
        f"sqlite:///{workdir}/mailbot.db",
        workdir,
        **{"authentication_results.trusted_authserv_ids": ["mx.example.test"]},
    )
    env = bot.env
    people = [person(env, "cible")]
    request(bot, people)
    request(bot, [person(env, "autre")])  # a second case, whose notification is replayed
    notifs = env.wait_for(env.reviewers["abonnements"], count=2)
    refs = sorted({re.search(r"ABO-\d{4}-\d{6}", str(n["Subject"])).group(0) for n in notifs})  # type: ignore[union-attr]
    first = next(n for n in notifs if refs[0] in str(n["Subject"]))
    second = next(n for n in notifs if refs[1] in str(n["Subject"]))
    reviewer = env.reviewers["abonnements"].address
    forged = FORGERIES[forgery](first, reviewer, second)
    if forgery == "token_from_another_case":
        del forged["Subject"]
        forged["Subject"] = f"RE: {first['Subject']}"
    if forgery == "valid_token_wrong_sender" and not env.dovecot.has_user("intrus@example.test"):
        env.dovecot.add_user("intrus@example.test", "pw-intrus")  # the Dovecot is shared
    submit(env, forged)
    bot.run_once()
    with Session(bot.engine) as s:
        portal = StubPortal(bot.engine, bot.config.portal.base_url)
        assert portal.find_accounts([people[0]["Courriel"]]) == {}
        assert all(c.state == "under_review" for c in s.exec(select(Case)).all())
    assert any("reviewer_auth_failed" in line for line in bot.log_lines())
    alerts = env.wait_for(env.admin)
    assert alerts


def test_forged_authres_from_untrusted_server_is_ignored(mail_env: MailEnv) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-forge-"))
    bot = make_bot(
        mail_env,
        f"sqlite:///{workdir}/mailbot.db",
        workdir,
        **{
            "authentication_results.trusted_authserv_ids": ["mx.example.test"],
            "authentication_results.require_pass": True,
        },
    )
    env = bot.env
    people = [person(env, "pass")]
    request(bot, people)
    notif = notification(bot)
    reviewer = env.reviewers["abonnements"].address
    forged = reply_to(
        notif,
        reviewer,
        "APPROUVER",
        headers={"Authentication-Results": "evil.example.org; dmarc=pass"},
    )
    submit(env, forged)
    bot.run_once()
    portal = StubPortal(bot.engine, bot.config.portal.base_url)
    assert portal.find_accounts([people[0]["Courriel"]]) == {}
    # The same reply with the trusted server's pass is accepted.
    domain = reviewer.rpartition("@")[2]  # the trusted pass is for the From domain
    genuine = reply_to(
        notif,
        reviewer,
        "APPROUVER",
        headers={"Authentication-Results": f"mx.example.test; dmarc=pass header.from={domain}"},
    )
    submit(env, genuine)
    bot.run_once()
    address = people[0]["Courriel"]
    assert can_log_in(bot, address, invitation_password(bot, address))


def test_person_in_another_open_request_is_flagged_to_the_reviewer(bot: Bot) -> None:
    env = bot.env
    shared = person(env, "double")
    request(bot, [shared])
    request(bot, [shared, person(env, "seule")])
    notifs = env.wait_for(env.reviewers["abonnements"], count=2)
    with Session(bot.engine) as s:
        first, second = sorted(c.ref for c in s.exec(select(Case)).all())
    first_text = next(body_text(n) for n in notifs if first in str(n["Subject"]))
    second_text = next(body_text(n) for n in notifs if second in str(n["Subject"]))
    assert f"demande en cours {first}" in second_text
    assert "demande en cours" not in first_text


def test_invitation_refused_by_the_relay_is_marked_failed_and_the_admins_told(bot: Bot) -> None:
    """A 5xx from our relay reaches the workflow as the same `DeliveryFailed` as a bounce:
    that invitation is marked failed in the case, the others stay sent, the admins are told."""
    env = bot.env
    people = [person(env, "present"), person(env, "absent")]
    request(bot, people, no_mailbox=1)  # the relay refuses the second invitee with a 550
    notif = notification(bot)
    submit(env, reply_to(notif, env.reviewers["abonnements"].address, "APPROUVER"))
    bot.run_once()

    with Session(bot.engine) as s:
        rows = s.exec(select(OutboxMail).where(OutboxMail.template == "invitation")).all()
        states = {r.recipient: r.state for r in rows}
    assert states == {people[0]["Courriel"]: "sent", people[1]["Courriel"]: "failed"}
    data = case_of(bot).data
    assert data["invitations"][people[1]["Courriel"]]["status"] == "failed"
    assert data["invitations"][people[0]["Courriel"]]["status"] == "sent"
    assert any("delivery_failed" in line and "via=smtp" in line for line in bot.log_lines())
    bot.run_once()  # the alert queued in the failure's transaction goes out
    alerts = env.wait_for(env.admin)
    assert any(people[1]["Courriel"] in body_text(a) for a in alerts)


class FlakyPortal:
    """The stand-in behind a network that fails the first `failures` account creations."""

    def __init__(self, portal: Portal, failures: int) -> None:
        self.portal = portal
        self.failures = failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self.portal, name)

    def create_accounts(self, *args: Any) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("portail injoignable")
        return self.portal.create_accounts(*args)


def test_a_portal_outage_delays_the_accounts_and_loses_nothing(bot: Bot) -> None:
    """Approval while the portal is down: the decision is committed, the operation waits and
    is retried with its key; when the portal is back the invitations go out, once."""
    env = bot.env
    people = [person(env, "patient")]
    request(bot, people)
    flaky = FlakyPortal(bot.ingest.portal, failures=2)
    bot.ingest.portal = bot.ingest.decider.portal = flaky  # type: ignore[assignment]
    submit(env, reply_to(notification(bot), env.reviewers["abonnements"].address, "APPROUVER"))
    stats = bot.run_once()
    assert stats["portal"] == 0 and case_of(bot).state == "approved"
    with Session(bot.engine) as s:
        [op] = s.exec(select(PortalOperation)).all()
        assert (op.kind, op.state, op.attempts) == ("create_accounts", "pending", 1)
        assert "portail injoignable" in (op.last_error or "")
    later = datetime.now(UTC)
    for _ in range(2):  # the second try fails too, the third succeeds
        later += timedelta(hours=7)  # past any backoff
        bot.ingest.clock = bot.daemon.clock = lambda t=later: t  # type: ignore[misc]
        bot.run_once()
    assert flaky.failures == 0 and case_of(bot).state == "invited"
    password = invitation_password(bot, people[0]["Courriel"])
    assert can_log_in(bot, people[0]["Courriel"], password)
    with Session(bot.engine) as s:
        [op] = s.exec(select(PortalOperation)).all()
        assert (op.state, op.attempts) == ("done", 3)
    assert any("portal_queued" in line for line in bot.log_lines())
