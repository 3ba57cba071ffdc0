"""A person already listed in another open subscription request is flagged in the reviewer's
notification (« Figure aussi dans la demande en cours … »), on SQLite and PostgreSQL. The lookup
reads only the open requests whose stored record mentions the address (a drain used to decode
every open request for every new one); an address with `_` or `%` (LIKE wildcards) still
matches exactly."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import Bot, annex_xlsx, body_text, compose, make_bot, person, submit
from mailservers import MailEnv
from pgutil import postgres_database

pytestmark = pytest.mark.integration

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(params=["sqlite", "postgresql"])
def bot(request: pytest.FixtureRequest, mail_env: MailEnv) -> Iterator[Bot]:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-open-"))
    if request.param == "sqlite":
        yield make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)
    else:
        with postgres_database() as url:
            b = make_bot(mail_env, url, workdir)
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
