"""End to end on Dovecot: an outsider who writes `RE: [ABO-…]` with an annex listing herself
changes nothing of the case; the reviewer is told « message d'un tiers » naming her, and an
approval creates accounts only for the people the requester asked for."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from harness import Bot, annex_xlsx, body_text, compose, make_bot, person, reply_to, submit
from mailservers import MailEnv
from sqlmodel import Session, select

from portal_stub.service import StubPortal
from storage.models import Case

pytestmark = pytest.mark.integration
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def bot(mail_env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-tiers-"))
    return make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)


def case_of(bot: Bot) -> Case:
    with Session(bot.engine) as s:
        return s.exec(select(Case)).one()


def test_an_outsiders_table_is_forwarded_and_changes_nothing(bot: Bot) -> None:
    env = bot.env
    alice, outsider = env.requesters
    people = [person(env, "durand"), person(env, "lefevre")]
    for p in people:
        if not env.dovecot.has_user(p["Courriel"]):
            env.dovecot.add_user(p["Courriel"], "pw-invitee")
    submit(
        env,
        compose(
            alice.address,
            env.bot.address,
            "Demande d'abonnement au portail",
            "Bonjour,\n\nVeuillez trouver ci-joint notre tableau.\n\nCordialement,\nAlice",
            attachments=[("annexe.xlsx", XLSX, annex_xlsx(people))],
        ),
    )
    bot.run_once()
    case = case_of(bot)
    ref, before = case.ref, case.data["people"]
    reviewers = env.reviewers["abonnements"]
    [notif] = env.wait_for(reviewers)

    herself = person(env, "intruse", **{"Courriel": outsider.address})
    submit(
        env,
        compose(
            outsider.address,
            env.bot.address,
            f"RE: [{ref}] tableau corrigé",
            "Bonjour,\n\nVoici le tableau corrigé.\n\nCordialement",
            sender_name="Mallory",
            attachments=[("annexe-corrigee.xlsx", XLSX, annex_xlsx([herself]))],
        ),
    )
    bot.run_once()
    case = case_of(bot)
    assert case.state == "under_review" and case.data["people"] == before
    assert case.data["notes"][-1]["from"] == outsider.address
    _, told = env.wait_for(reviewers, count=2)
    assert "message d'un tiers" in told["Subject"]
    text = body_text(told)
    assert outsider.address in text and "n'a rien modifié au dossier" in text
    # a spreadsheet goes out only as its values-only copy (test_threat_formulas.py)
    assert any(p.get_filename() == "annexe-corrigee-valeurs.xlsx" for p in told.iter_attachments())
    assert len(env.wait_for(alice)) == 1  # the requester's acknowledgement only
    assert "follow_up_third_party" in "\n".join(bot.log_lines())

    submit(env, reply_to(notif, reviewers.address, "APPROUVER"))
    bot.run_once()
    portal = StubPortal(bot.engine, bot.config.portal.base_url)
    assert set(portal.find_accounts([p["Courriel"] for p in people])) == {
        p["Courriel"] for p in people
    }
    assert portal.find_accounts([outsider.address]) == {}
