"""Mail refused for its size or its form, on the real servers: the sender gets a French answer
(never an automatic mail), the admins get one alert per quarter of an hour listing every new
quarantined mail, and an admin lists and deletes quarantined mail after review."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import Bot, body_text, compose, make_bot
from mailservers import MailEnv, count_folder
from sqlmodel import Session, select

from storage.models import InboundMessage

pytestmark = pytest.mark.integration

LIMIT = 6000  # bytes: a mail of a few Ko is "too big" here, as 28 Mo is in production
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def new_bot(env: MailEnv) -> tuple[Bot, list[datetime]]:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-rejected-"))
    bot = make_bot(
        env, f"sqlite:///{workdir}/mailbot.db", workdir, **{"limits.max_message_bytes": LIMIT}
    )
    now = [START]
    bot.ingest.clock = lambda: now[0]
    bot.daemon.clock = lambda: now[0]
    return bot, now


def send_big(env: MailEnv, sender: str, subject: str, **headers: str) -> None:
    msg = compose(sender, env.bot.address, subject, "Bonjour,\n" + "Pièce volumineuse. " * 800)
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    env.send(sender, [env.bot.address], msg.as_bytes())


def quarantine_alerts(env: MailEnv) -> list[str]:
    return [
        body_text(m) for m in env.fetch(env.admin) if "quarantaine" in str(m["Subject"]).lower()
    ]


def test_oversized_mail_answered_in_french_and_admins_alerted_once(mail_env: MailEnv) -> None:
    bot, now = new_bot(mail_env)
    alice, bob = mail_env.requesters
    send_big(mail_env, alice.address, "Délibération et annexes")
    bot.run_once()

    [answer] = mail_env.wait_for(alice)
    text = body_text(answer)
    assert str(answer["Subject"]) == "Votre message n'a pas pu être traité"
    assert "« Délibération et annexes » n'a pas pu être traité : il pèse" in text
    assert "au-delà de la limite de 6 Ko" in text
    assert "allégeant les pièces jointes" in text
    assert answer["Auto-Submitted"] == "auto-replied"
    [alert] = mail_env.wait_for(mail_env.admin)
    assert "Un message reçu sur la boîte générique n'a pas pu être traité" in body_text(alert)
    assert alice.address in body_text(alert) and "Délibération et annexes" in body_text(alert)

    # Two more within the quarter of an hour: answered, but no second alert yet.
    now[0] = START + timedelta(minutes=5)
    send_big(mail_env, bob.address, "Tableau des agents")
    send_big(mail_env, alice.address, "Deuxième envoi")
    bot.run_once()
    mail_env.wait_for(bob)
    assert len(quarantine_alerts(mail_env)) == 1

    # After the quarter of an hour, one alert lists both.
    now[0] = START + timedelta(minutes=16)
    bot.run_once()
    alerts = mail_env.wait_for(mail_env.admin, count=2)
    second = body_text(alerts[-1])
    assert "2 messages reçus sur la boîte générique n'ont pas pu être traités" in second
    assert "Tableau des agents" in second and "Deuxième envoi" in second
    assert "Délibération et annexes" not in second  # already reported
    now[0] = START + timedelta(minutes=40)
    bot.run_once()
    assert len(quarantine_alerts(mail_env)) == 2  # nothing new: no alert


def test_automatic_mail_too_big_is_not_answered(mail_env: MailEnv) -> None:
    bot, _now = new_bot(mail_env)
    alice = mail_env.requesters[0]
    send_big(mail_env, alice.address, "Absence du bureau", Auto_Submitted="auto-replied")
    bot.run_once()
    mail_env.wait_for(mail_env.admin)  # the admins still know
    assert mail_env.fetch(alice) == []
    assert any("refusal_skipped" in line for line in bot.log_lines())


def test_quarantine_list_and_delete_after_review(mail_env: MailEnv) -> None:
    bot, _now = new_bot(mail_env)
    alice = mail_env.requesters[0]
    send_big(mail_env, alice.address, "Pièces du dossier")
    bot.run_once()
    bot_account = mail_env.bot
    assert (
        count_folder(mail_env.dovecot, bot_account.address, bot_account.password, "Quarantine") == 1
    )

    listed = bot.cli("quarantine", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)["quarantine"]
    assert row["sender"] == alice.address
    assert row["subject"] == "Pièces du dossier"
    assert row["reason"].startswith("le message pèse ")
    assert "Error" not in row["reason"]

    refused = bot.cli("quarantine", "delete", str(row["journal"]), "--as", "intrus@example.org")
    assert refused.returncode == 2
    admin = bot.config.admins.addresses[0]
    deleted = bot.cli("quarantine", "delete", str(row["journal"]), "--as", admin)
    assert deleted.returncode == 0, deleted.stderr
    assert f"{row['journal']} : supprimé" in deleted.stdout
    assert (
        count_folder(mail_env.dovecot, bot_account.address, bot_account.password, "Quarantine") == 0
    )
    with Session(bot.engine) as s:
        entry = s.exec(select(InboundMessage)).one()
        assert (entry.fate, entry.raw, entry.subject) == ("deleted", b"", "Pièces du dossier")
    assert any("quarantine_deleted" in line and admin in line for line in bot.log_lines())
    assert json.loads(bot.cli("quarantine", "list", "--json").stdout)["quarantine"] == []
    again = bot.cli("replay", str(row["journal"]))
    assert "supprimé" in again.stdout + again.stderr
