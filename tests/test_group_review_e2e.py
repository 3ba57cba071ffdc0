"""Reviewers in a group, end to end on Dovecot + SMTP: when one member approves, the other gets
« pris en charge par … » threaded under their own notification; a member's out-of-office reply
is never answered, and makes the other member (or, for a reviewer alone in the group, the
admin) take the case at once."""

from __future__ import annotations

import tempfile
from email.message import EmailMessage
from pathlib import Path

import pytest
from harness import Bot, annex_xlsx, body_text, compose, make_bot, person, reply_to, submit
from mailservers import Account, MailEnv
from sqlmodel import Session, col, select

from storage.models import Case

pytestmark = pytest.mark.integration
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def second_member(env: MailEnv) -> Account:
    address = f"second.abonnements-{env.number}@{env.domain}"
    env.dovecot.add_user(address, "pw-second")
    return Account(address, "pw-second")


@pytest.fixture
def bot(mail_env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-group-"))
    members = [mail_env.reviewers["abonnements"].address, second_member(mail_env).address]
    return make_bot(
        mail_env,
        f"sqlite:///{workdir}/mailbot.db",
        workdir,
        **{"reviewers.groups.abonnements.members": members},
    )


def request(bot: Bot, name: str) -> str:
    env = bot.env
    alice = env.requesters[0]
    msg = compose(
        alice.address,
        env.bot.address,
        f"Demande d'abonnement {name}",
        "Bonjour,\n\nVoici notre tableau.\n\nCordialement",
        attachments=[("annexe.xlsx", XLSX, annex_xlsx([person(env, name)]))],
    )
    submit(env, msg)
    bot.run_once()
    with Session(bot.engine) as s:
        return s.exec(select(Case).order_by(col(Case.id).desc())).first().ref  # type: ignore[union-attr]


def out_of_office(notif: EmailMessage, reviewer: str, to: str) -> bytes:
    """What Outlook's automatic reply sends: RFC 3834 header, usual subject and wording."""
    msg = compose(
        reviewer,
        to,
        f"Réponse automatique : {notif['Subject']}",
        "Bonjour,\n\nJe suis absent du bureau jusqu'au 4 janvier, avec un accès limité à ma "
        "messagerie.\n\nCordialement",
        in_reply_to=str(notif["Message-ID"]),
        references=[str(notif["Message-ID"])],
        headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
    )
    return msg.as_bytes()


def test_the_other_member_is_told_it_is_taken_and_asked_when_one_is_away(bot: Bot) -> None:
    env = bot.env
    first = env.reviewers["abonnements"]
    second = Account(f"second.abonnements-{env.number}@{env.domain}", "pw-second")
    ref = request(bot, "prise")
    [notif_first] = env.wait_for(first)
    [notif_second] = env.wait_for(second)
    submit(env, reply_to(notif_first, first.address, "Je valide, merci."))
    bot.run_once()
    _, taken = env.wait_for(second, count=2)
    assert f"pris en charge par {first.address}" in str(taken["Subject"])
    assert taken["In-Reply-To"] == notif_second["Message-ID"]
    assert ref in body_text(taken) and "Vous n'avez rien à faire" in body_text(taken)
    before_first = len(env.fetch(first))  # the notification and the confirmation

    ref2 = request(bot, "absence")
    notif_first = env.wait_for(first, count=before_first + 1)[-1]
    assert ref2 in str(notif_first["Subject"])
    env.send("", [env.bot.address], out_of_office(notif_first, first.address, env.bot.address))
    bot.run_once()
    asked = env.wait_for(second, count=4)[-1]
    assert "message d'absence de" in str(asked["Subject"]) and ref2 in str(asked["Subject"])
    assert first.address in body_text(asked)
    # the out-of-office reply itself is never answered, and goes to Ignored
    assert len(env.fetch(first)) == before_first + 1
    assert len(env.fetch(env.bot, "Ignored")) == 1
    assert any("  reviewer_away  " in line for line in bot.log_lines())
    # a reply to the request mail by the second member decides, with their own token
    submit(env, reply_to(asked, second.address, "APPROUVER"))
    bot.run_once()
    with Session(bot.engine) as s:
        case = s.exec(select(Case).where(Case.ref == ref2)).one()
    assert case.state in ("approved", "invited") and case.assignee == second.address


def test_a_lone_reviewers_out_of_office_reply_alerts_the_admin(bot: Bot) -> None:
    env = bot.env
    alice = env.requesters[0]
    submit(
        env, compose(alice.address, env.bot.address, "Question", "Quel est le texte du décret ?")
    )
    bot.run_once()
    with Session(bot.engine) as s:
        case = s.exec(select(Case)).one()
    reviewer = env.reviewers[case.group or "accueil"]
    [notif] = env.wait_for(reviewer)
    env.send("", [env.bot.address], out_of_office(notif, reviewer.address, env.bot.address))
    bot.run_once()
    [alert] = env.wait_for(env.admin)
    assert "message d'absence d'un relecteur" in str(alert["Subject"])
    assert reviewer.address in body_text(alert)
    assert len(env.fetch(reviewer)) == 1  # never answered
