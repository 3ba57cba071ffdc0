"""Held answers end to end on Dovecot and SMTP, on a controlled clock (`publish_delay_minutes`
= 15): the reviewer's answer gets a preview and nothing goes out; at the end of the hold it is
mailed and published and the reviewer gets a one-line confirmation. ANNULER, a replacing
text, PUBLIER, CORRIGER (version 2, mailed to the asker), RETIRER, CLASSER, and a restart of
mailbot during the hold (the hold is a timer row in the database)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from harness import INSTANCE_DOMAIN, Bot, body_text, compose, make_bot, reply_to, submit
from mailservers import MailEnv
from pgutil import postgres_database
from sqlmodel import Session, select
from starlette.testclient import TestClient

from mailbot.mail.tokens import parse_our_message_id
from portal_stub.app import create_app
from portal_stub.models import PortalPublication as Publication
from portal_stub.testing import (
    SECRET_ENV,
    SECRET_VALUE,
    RecordingMailer,
    WebEnv,
    cheap_hasher,
    make_config,
    sign_in,
)
from portal_stub.testing import Clock as PortalClock
from storage.models import Case

pytestmark = pytest.mark.integration

QUESTION = (
    "Bonjour,\n\nDans le cycle complet proposé par l'ANTAI, qui envoie l'avis de paiement du FPS "
    "à l'usager ? Vous pouvez me joindre au 06 12 34 56 78.\n\nCordialement,\nSophie Bernard\n"
)
ANSWER = (
    "Bonjour Madame Bernard,\n\nDans le cycle complet, l'ANTAI édite et envoie l'avis de "
    "paiement à l'usager pour le compte de la collectivité."
)
# Monday 7 December 2026, 14:17 in Paris: the hold ends at 14 h 32.
START = datetime(2026, 12, 7, 13, 17, tzinfo=UTC)
READER = "lecteur@ville-exemple.test"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)


def _bot(env: MailEnv, workdir: Path, clock: Clock, db_url: str | None = None) -> Bot:
    url = db_url or f"sqlite:///{workdir}/mailbot.db"
    bot = make_bot(env, url, workdir, **{"questions.publish_delay_minutes": 15})
    bot.ingest.clock = clock
    bot.daemon.clock = clock
    return bot


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bot(mail_env: MailEnv, clock: Clock) -> Bot:
    return _bot(mail_env, Path(tempfile.mkdtemp(prefix="mailbot-hold-")), clock)


def the_case(bot: Bot) -> Case:
    with Session(bot.engine) as s:
        return s.exec(select(Case)).one()


def publications(bot: Bot) -> list[Publication]:
    with Session(bot.engine) as s:
        return sorted(s.exec(select(Publication)).all(), key=lambda p: p.version)


def answered_and_previewed(bot: Bot, answer: str = ANSWER) -> EmailMessage:
    """A question asked and answered: returns the preview the reviewer got."""
    env = bot.env
    asker = env.requesters[0]
    submit(env, compose(asker.address, env.bot.address, "Avis de paiement", QUESTION))
    bot.run_once()
    [notif] = env.wait_for(env.reviewers["antai"])
    submit(env, reply_to(notif, env.reviewers["antai"].address, answer))
    bot.run_once()
    notif_and_preview = env.wait_for(env.reviewers["antai"], count=2)
    return notif_and_preview[-1]


def reply_as_reviewer(bot: Bot, to: EmailMessage, text: str) -> None:
    submit(bot.env, reply_to(to, bot.env.reviewers["antai"].address, text, style="gmail"))
    bot.run_once()


def asker_mails(bot: Bot) -> list[EmailMessage]:
    return bot.env.fetch(bot.env.requesters[0])


def test_answer_is_previewed_then_mailed_and_published_when_the_hold_ends(
    bot: Bot, clock: Clock
) -> None:
    env = bot.env
    preview = answered_and_previewed(bot)
    text = body_text(preview)
    assert "Aperçu" in str(preview["Subject"])
    assert "sera envoyée et publiée à 14\u00a0h\u00a032" in text and "ANTAI" in text
    assert "ANNULER" in text and "PUBLIER" in text
    published_part = text.split("TEXTE QUI SERA PUBLIÉ")[1].split("MESSAGE QUI SERA ENVOYÉ")[0]
    assert "06 12 34 56 78" not in published_part and "Bernard" not in published_part
    asker_part = text.split("MESSAGE QUI SERA ENVOYÉ AU DEMANDEUR")[1]
    assert "Bonjour Madame Bernard," in asker_part and "Madame, Monsieur" not in asker_part
    assert the_case(bot).state == "held"
    assert len(asker_mails(bot)) == 1 and publications(bot) == []  # only the acknowledgement

    clock.advance(14)
    bot.run_once()
    assert len(asker_mails(bot)) == 1 and publications(bot) == []  # still held

    clock.advance(2)
    bot.run_once()
    answer = env.wait_for(env.requesters[0], count=2)[-1]
    answer_text = body_text(answer)
    assert "l'ANTAI édite et envoie" in answer_text
    assert answer_text.count("Bonjour") == 1 and "Madame, Monsieur" not in answer_text
    assert parse_our_message_id(str(answer["Message-ID"]), INSTANCE_DOMAIN).token is None  # type: ignore[union-attr]
    assert parse_our_message_id(str(preview["Message-ID"]), INSTANCE_DOMAIN).token  # type: ignore[union-attr]
    [pub] = publications(bot)
    assert pub.space == "antai" and "l'ANTAI édite et envoie" in pub.answer
    assert "Bernard" not in pub.answer and "Bonjour" not in pub.answer
    confirmation = env.wait_for(env.reviewers["antai"], count=3)[-1]
    assert "publiée" in body_text(confirmation) and pub.case_ref in body_text(confirmation)
    assert the_case(bot).state == "answered"
    assert any("hold_ended" in line for line in bot.log_lines())


def test_annuler_during_the_hold_sends_nothing(bot: Bot, clock: Clock) -> None:
    preview = answered_and_previewed(bot)
    reply_as_reviewer(bot, preview, "ANNULER")
    assert the_case(bot).state == "open"
    clock.advance(30)
    bot.run_once()
    assert len(asker_mails(bot)) == 1 and publications(bot) == []
    told = bot.env.wait_for(bot.env.reviewers["antai"], count=3)[-1]
    assert "annulée" in body_text(told)
    assert any("hold_cancelled" in line for line in bot.log_lines())


def test_a_new_text_replaces_the_held_answer(bot: Bot, clock: Clock) -> None:
    env = bot.env
    preview = answered_and_previewed(bot, "Je me renseigne et je reviens vers vous.")
    reply_as_reviewer(bot, preview, ANSWER)
    second = env.wait_for(env.reviewers["antai"], count=3)[-1]
    assert "remplace la réponse" in body_text(second)
    clock.advance(16)
    bot.run_once()
    mails = env.wait_for(env.requesters[0], count=2)
    clock.advance(30)
    bot.run_once()
    assert len(asker_mails(bot)) == 2  # one answer only, the replacing one
    assert "l'ANTAI édite et envoie" in body_text(mails[-1])
    assert "Je me renseigne" not in body_text(mails[-1])
    [pub] = publications(bot)
    assert "Je me renseigne" not in pub.answer and "l'ANTAI édite" in pub.answer


@pytest.mark.parametrize("command", ["PUBLIER", "Ok pour moi"])
def test_publier_sends_at_once(bot: Bot, command: str) -> None:
    preview = answered_and_previewed(bot)
    reply_as_reviewer(bot, preview, command)
    answer = bot.env.wait_for(bot.env.requesters[0], count=2)[-1]
    assert "l'ANTAI édite et envoie" in body_text(answer)
    assert len(publications(bot)) == 1 and the_case(bot).state == "answered"


def released(bot: Bot, clock: Clock) -> EmailMessage:
    """An answer held, then sent: returns the reviewer's confirmation."""
    answered_and_previewed(bot)
    clock.advance(16)
    bot.run_once()
    return bot.env.wait_for(bot.env.reviewers["antai"], count=3)[-1]


def test_corriger_publishes_version_2_and_mails_the_asker(bot: Bot, clock: Clock) -> None:
    env = bot.env
    confirmation = released(bot, clock)
    fix = "CORRIGER\n\nEn cycle complet, l'ANTAI envoie l'avis de paiement ; en cycle partiel, la collectivité."
    reply_as_reviewer(bot, confirmation, fix)
    first, second = publications(bot)
    assert (first.version, second.version) == (1, 2) and second.is_current
    assert "Réponse corrigée le 7 décembre 2026." in second.answer
    assert "en cycle partiel, la collectivité" in second.answer
    correction = env.wait_for(env.requesters[0], count=3)[-1]
    text = body_text(correction)
    assert "corrigée" in str(correction["Subject"]) and "en cycle partiel" in text
    assert "CORRIGER" not in text
    told = env.wait_for(env.reviewers["antai"], count=4)[-1]
    assert "version 2" in body_text(told)


def test_a_new_text_after_the_hold_gets_help_pointing_to_corriger(bot: Bot, clock: Clock) -> None:
    env = bot.env
    confirmation = released(bot, clock)
    reply_as_reviewer(bot, confirmation, "Finalement, c'est la collectivité.")
    told = env.wait_for(env.reviewers["antai"], count=4)[-1]
    text = body_text(told)
    assert "CORRIGER" in text and "prenez contact avec" not in text
    assert len(publications(bot)) == 1 and len(asker_mails(bot)) == 2


def test_retirer_withdraws_without_mailing_the_asker(bot: Bot, clock: Clock) -> None:
    env = bot.env
    confirmation = released(bot, clock)
    reply_as_reviewer(bot, confirmation, "RETIRER")
    [pub] = publications(bot)
    assert pub.withdrawn_at is not None
    told = env.wait_for(env.reviewers["antai"], count=4)[-1]
    assert "n'est plus publiée" in body_text(told)
    assert len(asker_mails(bot)) == 2  # the acknowledgement and the answer only
    assert any("answer_withdrawn" in line for line in bot.log_lines())


def test_classer_with_a_message_closes_without_publication(bot: Bot, clock: Clock) -> None:
    env = bot.env
    asker = env.requesters[0]
    submit(env, compose(asker.address, env.bot.address, "Avis de paiement", QUESTION))
    bot.run_once()
    [notif] = env.wait_for(env.reviewers["antai"])
    reply_as_reviewer(bot, notif, "CLASSER : Votre question a été traitée par téléphone.")
    preview = env.wait_for(env.reviewers["antai"], count=2)[-1]
    assert "sera classé à 14\u00a0h\u00a032" in body_text(preview)
    assert len(asker_mails(bot)) == 1
    clock.advance(16)
    bot.run_once()
    closed = env.wait_for(asker, count=2)[-1]
    assert "traitée par téléphone" in body_text(closed)
    assert publications(bot) == [] and the_case(bot).state == "answered"


def _restart_during_the_hold(env: MailEnv, clock: Clock, db_url: str | None) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-hold-"))
    first = _bot(env, workdir, clock, db_url)
    answered_and_previewed(first)
    first.engine.dispose()
    clock.advance(20)
    again = _bot(env, workdir, clock, db_url)  # a new process on the same database
    again.run_once()
    answer = env.wait_for(env.requesters[0], count=2)[-1]
    assert "l'ANTAI édite et envoie" in body_text(answer)
    assert len(publications(again)) == 1
    again.run_once()
    assert len(env.fetch(env.requesters[0])) == 2  # fired once
    again.engine.dispose()


def test_the_hold_survives_a_restart(mail_env: MailEnv, clock: Clock) -> None:
    _restart_during_the_hold(mail_env, clock, None)


@pytest.mark.postgres
def test_the_hold_survives_a_restart_on_postgresql(mail_env: MailEnv, clock: Clock) -> None:
    with postgres_database() as url:
        _restart_during_the_hold(mail_env, clock, url)


def portal_pages(bot: Bot) -> WebEnv:
    """The portal stand-in's web pages on the bot's database, with a reader of DESTA/ANTAI."""
    base = bot.config.portal.base_url
    config = make_config(bot.config.database.url, base)
    clock, hasher = PortalClock(START), cheap_hasher()
    mailer = RecordingMailer()
    app = create_app(config, bot.engine, mailer=mailer, now=clock, hasher=hasher)
    web = WebEnv(config, bot.engine, clock, hasher, TestClient(app, base_url=base), mailer)
    web.add_account(READER, "une phrase de passe solide", ("accueil", "antai"))
    assert sign_in(web.client, READER, "une phrase de passe solide").status_code == 303
    return web


def test_the_portal_shows_the_correction_mark_then_nothing_once_withdrawn(
    bot: Bot, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    confirmation = released(bot, clock)
    reply_as_reviewer(bot, confirmation, "CORRIGER : En cycle complet, c'est l'ANTAI.")
    [pub, *_] = publications(bot)
    path = f"/espaces/antai/questions/{pub.case_ref}"
    web = portal_pages(bot)
    page = web.client.get(path)
    assert page.status_code == 200
    assert "Réponse corrigée le 7 décembre 2026." in page.text and "version 2" in page.text
    told = bot.env.wait_for(bot.env.reviewers["antai"], count=4)[-1]
    reply_as_reviewer(bot, told, "RETIRER")
    assert web.client.get(path).status_code == 410
    assert pub.case_ref not in web.client.get("/espaces/antai").text
