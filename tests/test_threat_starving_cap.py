"""Threat: starving the cap on automatic answers (issue 10, « Hostile text »).

A spoofer writes many mails in a victim's name (From: the victim). Before, one per-address daily
cap counted every automatic answer, so the spoofer used it up and the victim got neither the
acknowledgement of her own new case nor the report on her annex. Now (mailbot/loop/outbox.py):
what the spoofer triggers without opening cases is capped per address and case and per address
below a separate, higher ceiling; a new case's acknowledgement and an annex report are limited
only by that ceiling, which also bounds everything the victim receives.

End to end on Dovecot + SMTP, then the outbox's three limits on their own."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import INSTANCE_DOMAIN, Bot, annex_xlsx, compose, make_bot, person, submit
from mailservers import MailEnv
from sqlalchemy import Engine
from sqlmodel import Session, select

from mailbot.config import Config, load_config
from mailbot.loop.outbox import enqueue_mail
from mailbot.mail import tokens
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import Case, OutboxMail
from workflows.core import SendMail

ROOT = Path(__file__).resolve().parent.parent
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ATTACKER = "mallory@attacker.example.org"
LIMITS = {
    "limits.auto_replies_per_case_per_day": 2,
    "limits.auto_replies_per_address_per_day": 3,
    "limits.auto_replies_ceiling_per_address_per_day": 6,
}


@pytest.fixture
def bot(mail_env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-cap-"))
    return make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir, **LIMITS)


def spoof(env: MailEnv, victim: str, subject: str, body: str, **kwargs: object) -> None:
    """A mail whose From is the victim, submitted by the attacker's own server."""
    msg = compose(victim, env.bot.address, subject, body, **kwargs)  # type: ignore[arg-type]
    env.send(ATTACKER, [env.bot.address], msg.as_bytes())


def forged_reply(env: MailEnv, victim: str, ref: str, i: int) -> None:
    """A « reviewer reply » to a notification that does not exist: refused, and the refusal
    is an ordinary automatic answer to the From address, the victim."""
    fake = tokens.reviewer_message_id(INSTANCE_DOMAIN, ref, victim, b"not-the-secret")
    spoof(env, victim, f"RE: [{ref}] Demande", f"APPROUVER {i}", in_reply_to=fake)


def sent_to(bot: Bot, address: str) -> list[OutboxMail]:
    with Session(bot.engine) as s:
        return list(s.exec(select(OutboxMail).where(OutboxMail.recipient == address)).all())


@pytest.mark.integration
def test_a_spoofer_cannot_starve_the_victims_acknowledgement_nor_flood_her(bot: Bot) -> None:
    env = bot.env
    victim = env.requesters[0]
    # Ten mails in her name that each call for an ordinary automatic answer, on two cases.
    for i in range(10):
        forged_reply(env, victim.address, "ABO-2026-000901" if i < 5 else "ABO-2026-000902", i)
    # …and one new question in her name: acknowledged (the spoofer could be her).
    spoof(env, victim.address, "Question", "Bonjour, quel est le délai de contestation ?")
    bot.run_once()
    refused = [m for m in sent_to(bot, victim.address) if m.template == "reviewer_auth_failed"]
    assert len(refused) == 3  # two per case, three per address: the ceiling is not reached
    assert len(sent_to(bot, victim.address)) == 4
    assert sum("auto_reply_suppressed" in line for line in bot.log_lines()) == 7

    # Her own new question is acknowledged, threaded to it.
    question = compose(
        victim.address, env.bot.address, "Délai FPS", "Bonjour, quel délai pour un FPS ?"
    )
    submit(env, question)
    bot.run_once()
    inbox = env.wait_for(victim, count=5)
    assert any(m["In-Reply-To"] == question["Message-ID"] for m in inbox)

    # Her table with an error gets its report.
    bad = person(env, "erreur", SIREN="123")
    submit(
        env,
        compose(
            victim.address,
            env.bot.address,
            "Demande d'abonnement",
            "Bonjour,\n\nVoici notre tableau.\n\nCordialement",
            attachments=[("annexe.xlsx", XLSX, annex_xlsx([bad]))],
        ),
    )
    bot.run_once()
    assert [m.template for m in sent_to(bot, victim.address)][-1] == "subscription_invalid"

    # The ceiling is reached: more spoofed new cases are handled but no longer answered.
    for i in range(3):
        spoof(env, victim.address, f"Question {i}", f"Bonjour, question {i} sur les FPS ?")
    bot.run_once()
    rows = sent_to(bot, victim.address)
    assert len(rows) == 6 and len(env.wait_for(victim, count=6)) == 6
    templates = sorted(m.template for m in rows)
    assert templates == [
        "question_ack",
        "question_ack",
        "reviewer_auth_failed",
        "reviewer_auth_failed",
        "reviewer_auth_failed",
        "subscription_invalid",
    ]
    # every mail was still handled: five questions and the table are cases for the reviewers
    with Session(bot.engine) as s:
        kinds = sorted(c.kind for c in s.exec(select(Case)).all())
    assert kinds == ["question"] * 5 + ["subscription"]


# --------------------------------------------------------------------------- the outbox alone

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def answer(key: str, *, essential: bool = False) -> SendMail:
    return SendMail(
        template="mail_refused",
        to=("Victime@Mairie.example.fr",),
        context={"subject": "s", "reason": "r", "advice": "a", "requester_name": None},
        key=key,
        auto=True,
        essential=essential,
    )


@pytest.fixture
def config() -> Config:
    return load_config(ROOT / "config.toml")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path}/cap.db"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def queued(session: Session, config: Config, mail: SendMail, ref: str | None) -> bool:
    return enqueue_mail(session, config, mail, ref, now=NOW, secret=b"s" * 32) is not None


def test_ordinary_answers_are_capped_per_case_and_address_essential_ones_by_the_ceiling(
    config: Config, engine: Engine
) -> None:
    limits = config.limits
    per_case, per_address = (
        limits.auto_replies_per_case_per_day,
        limits.auto_replies_per_address_per_day,
    )
    ceiling = limits.auto_replies_ceiling_per_address_per_day
    assert per_case < per_address < ceiling  # the shipped values keep the guarantee
    with Session(engine) as s:
        # one case: per_case ordinary answers, then none
        sent = [queued(s, config, answer(f"a{i}"), "Q-2026-000001") for i in range(per_case + 2)]
        assert sent.count(True) == per_case and not any(sent[per_case:])
        # other cases and mail of no case: per_address ordinary answers in all
        refs = [f"Q-2026-{n:06d}" for n in range(2, 2 + per_address)] + [None]
        for n, ref in enumerate(refs):
            queued(s, config, answer(f"b{n}"), ref)
        ordinary = s.exec(select(OutboxMail)).all()
        assert len(ordinary) == per_address
        # essential answers still go, up to the ceiling counting every answer
        essential = [
            queued(s, config, answer(f"e{i}", essential=True), f"Q-2026-{100 + i:06d}")
            for i in range(ceiling)
        ]
        assert essential.count(True) == ceiling - per_address
        assert len(s.exec(select(OutboxMail)).all()) == ceiling
        assert not queued(s, config, answer("late", essential=True), "Q-2026-000999")
        # the next day, the count starts again
        later = enqueue_mail(
            s, config, answer("next-day", essential=True), "Q-2026-000999",
            now=NOW + timedelta(days=1, seconds=1), secret=b"s" * 32,
        )  # fmt: skip
        assert later is not None
        row = s.get(OutboxMail, later)
        assert row is not None and row.essential
