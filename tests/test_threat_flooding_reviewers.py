"""Threat: flooding the reviewers through a case (issue 10: « Reviewer notifications are capped
per case per hour »).

Before, every follow-up in a case's thread — 50 from a requester or from anyone who guessed the
tag — sent each reviewer one more mail. End to end on Dovecot + SMTP with a cap of 2: of six
follow-ups sent within the hour (the requester's and a spoofer's), the reviewer gets two one by
one; all six are kept in the case, and at the end of the hour one digest lists every one of
them with its sender (workflows/followup_cap.py)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import Bot, annex_xlsx, body_text, compose, make_bot, person, submit
from mailservers import MailEnv
from sqlmodel import Session, select

from storage.models import Case

pytestmark = pytest.mark.integration
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MALLORY = "mallory@attacker.example.org"


@pytest.fixture
def bot(mail_env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-flood-"))
    return make_bot(
        mail_env,
        f"sqlite:///{workdir}/mailbot.db",
        workdir,
        **{"limits.reviewer_notifications_per_case_per_hour": 2},
    )


def test_follow_ups_past_the_cap_are_kept_and_sent_as_one_digest(bot: Bot) -> None:
    env = bot.env
    alice = env.requesters[0]
    # two hours ago, five past the hour: the outbox (on the real clock) sends at once
    start = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=5, second=0, microsecond=0)
    bot.ingest.clock = lambda: start
    people = [person(env, "flot")]
    submit(
        env,
        compose(
            alice.address,
            env.bot.address,
            "Demande d'abonnement au portail",
            "Bonjour,\n\nVoici notre tableau.\n\nCordialement",
            attachments=[("annexe.xlsx", XLSX, annex_xlsx(people))],
        ),
    )
    bot.run_once()
    with Session(bot.engine) as s:
        ref = s.exec(select(Case)).one().ref
    reviewer = env.reviewers["abonnements"]
    env.wait_for(reviewer)
    for i in range(6):
        sender = alice.address if i % 2 == 0 else MALLORY
        msg = compose(sender, env.bot.address, f"RE: [{ref}] précision {i}", f"Précision n° {i}.")
        env.send(sender, [env.bot.address], msg.as_bytes())
    bot.run_once()
    with Session(bot.engine) as s:
        notes = s.exec(select(Case)).one().data["notes"]
    assert [n["text"] for n in notes] == [f"Précision n° {i}." for i in range(6)]
    inbox = env.wait_for(reviewer, count=3)
    assert len(inbox) == 3  # the notification and two follow-ups, not seven mails
    log = "\n".join(bot.log_lines())
    assert log.count("  follow_up_held  ") == 4

    bot.ingest.clock = lambda: start + timedelta(hours=1)
    bot.run_once()
    inbox = env.wait_for(reviewer, count=4)
    assert len(inbox) == 4
    digest = inbox[-1]
    assert "récapitulatif de 6 messages reçus" in str(digest["Subject"])
    text = body_text(digest)
    for i in range(6):
        assert f"Précision n° {i}." in text
    assert text.count(f"message d'un tiers : {MALLORY}") == 3
    assert "  follow_up_digest  " in "\n".join(bot.log_lines())
