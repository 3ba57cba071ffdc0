"""`mailbot cases …` against a database filled by the real workflows (mail through Dovecot and
the SMTP relay, the daemon's `run --once`), run as the admins run it: a subprocess. The admin's
decisions go through the reviewer's path and leave `by=<admin>` in the log and the timeline."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from harness import Bot, annex_xlsx, body_text, compose, make_bot, person, submit
from mailservers import MailEnv
from sqlmodel import Session, select

from storage.models import Case, TriageExample

pytestmark = pytest.mark.integration
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def bot(mail_env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-cases-"))
    return make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)


def subscribe(bot: Bot, names: tuple[str, ...] = ("durand", "lefevre"), no_mailbox: int = 0) -> str:
    """Mail an annex for `names`; the last `no_mailbox` of them get no mailbox."""
    env = bot.env
    people = [person(env, n) for n in names]
    for p in people[: len(people) - no_mailbox]:
        env.dovecot.add_user(p["Courriel"], "pw-invitee")
    alice = env.requesters[0]
    msg = compose(
        alice.address,
        env.bot.address,
        "Demande d'abonnement au portail",
        "Bonjour,\n\nVeuillez trouver ci-joint notre tableau.\n\nCordialement,\nAlice",
        attachments=[("annexe.xlsx", XLSX, annex_xlsx(people))],
    )
    submit(env, msg)
    bot.run_once()
    return only_case(bot, "subscription").ref


def ask(bot: Bot, subject: str, body: str) -> str:
    env = bot.env
    alice = env.requesters[0]
    submit(env, compose(alice.address, env.bot.address, subject, body))
    bot.run_once()
    return only_case(bot, "question").ref


def only_case(bot: Bot, kind: str) -> Case:
    with Session(bot.engine) as s:
        return s.exec(select(Case).where(Case.kind == kind)).one()


def as_json(bot: Bot, *args: str) -> Any:
    result = bot.cli("cases", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_list_filters_search_and_french_states(bot: Bot) -> None:
    abo = subscribe(bot)
    q = ask(bot, "Flux CCSP", "Bonjour, où trouver le schéma des flux de l'interface CCSP ?")
    rows = as_json(bot, "list")["cases"]
    assert [r["ref"] for r in rows] == [q, abo]  # the most recent first
    labels = {r["ref"]: r["state_label"] for r in rows}
    assert labels == {abo: "En attente de relecture", q: "En attente de réponse"}
    assert [r["ref"] for r in as_json(bot, "list", "--kind", "subscription")["cases"]] == [abo]
    assert [r["ref"] for r in as_json(bot, "list", "--state", "open")["cases"]] == [q]
    assert [r["ref"] for r in as_json(bot, "list", "--space", "desta")["cases"]] == [q]
    desta = bot.env.reviewers["desta"].address
    assert [r["ref"] for r in as_json(bot, "list", "--reviewer", desta)["cases"]] == [q]
    assert as_json(bot, "list", "--overdue")["cases"] == []
    # search: organisation of the annex, words of the question (accents and case ignored)
    assert [r["ref"] for r in as_json(bot, "list", "-q", "testville")["cases"]] == [abo]
    assert [r["ref"] for r in as_json(bot, "list", "-q", "SCHEMA flux")["cases"]] == [q]
    text = bot.cli("cases", "list")
    assert text.returncode == 0 and "En attente de relecture" in text.stdout


def test_show_gives_the_timeline_the_annex_and_the_people(bot: Bot) -> None:
    ref = subscribe(bot)
    detail = as_json(bot, "show", ref)
    kinds = [item["type"] for item in detail["timeline"]]
    assert kinds[0] == "in" and "out" in kinds and "event" in kinds
    incoming = detail["timeline"][0]
    assert "Veuillez trouver ci-joint notre tableau" in incoming["text"]
    outgoing = [i for i in detail["timeline"] if i["type"] == "out"]
    assert any("Durand" in (i["text"] or "") for i in outgoing)  # the notification lists them
    assert detail["annex"]["columns"][:3] == ["N°", "Nom", "Prénom"]
    assert [row[1] for row in detail["annex"]["rows"]] == ["Durand", "Lefevre"]
    assert [p["number"] for p in detail["people"]] == [1, 2]
    assert all(p["account"] is None for p in detail["people"])
    missing = bot.cli("cases", "show", "ABO-2026-999999")
    assert missing.returncode == 1 and "n’existe pas" in missing.stderr


def test_an_admin_approves_some_people_for_the_reviewer(bot: Bot) -> None:
    ref = subscribe(bot, ("un", "deux"))
    admin = bot.env.admin.address
    refused = bot.cli("cases", "approve", ref, "--as", "intrus@example.test")
    assert refused.returncode == 2 and "[admins] addresses" in refused.stderr
    wrong = bot.cli("cases", "answer", ref, "Bonjour", "--as", admin)
    assert wrong.returncode == 1 and "ne concerne que les questions" in wrong.stderr
    result = bot.cli("cases", "approve", ref, "--people", "1", "--as", admin)
    assert result.returncode == 0, result.stderr
    log = "\n".join(bot.log_lines())
    assert f"reviewer_command  verb=APPROUVER by={admin}" in log
    assert f"desk_action  action=approve by={admin}" in log
    bot.run_once()  # the portal creates the account, the invitation goes out
    bot.run_once()
    assert only_case(bot, "subscription").state == "invited"
    detail = as_json(bot, "show", ref)
    decisions = [i for i in detail["timeline"] if i["type"] == "decision"]
    assert any(i["event"] == "desk_action" and i["who"] == admin for i in decisions)
    first, second = detail["people"]
    assert first["account"] is not None and first["invitation"]["status"] == "sent"
    assert second["account"] is None
    # the admin got the reviewer's confirmation
    assert any(ref in str(m["Subject"]) for m in bot.env.wait_for(bot.env.admin))


def test_an_admin_reassigns_a_question_then_answers_it(bot: Bot) -> None:
    ref = ask(bot, "Flux CCSP", "Bonjour, où trouver le schéma des flux de l'interface CCSP ?")
    admin = bot.env.admin.address
    antai = bot.env.reviewers["antai"]
    result = bot.cli("cases", "reassign", ref, "--group", "antai", "--as", admin)
    assert result.returncode == 0, result.stderr
    assert any(
        "reassigned  from=desta to=antai" in line and f"by={admin}" in line
        for line in bot.log_lines()
    )
    case = only_case(bot, "question")
    assert (case.group, case.space) == ("antai", "antai")
    with Session(bot.engine) as s:
        example = s.exec(select(TriageExample)).one()
    assert (example.label, example.source, example.by) == ("antai", "reassigned", admin)
    bot.run_once()
    [notified] = bot.env.wait_for(antai)
    assert admin in body_text(notified)
    answer = "Bonjour,\n\nLe schéma est dans l'espace documentaire.\n\nCordialement"
    result = bot.cli("cases", "answer", ref, answer, "--as", admin)
    assert result.returncode == 0, result.stderr
    bot.run_once()  # published (no hold in this configuration), then mailed
    bot.run_once()
    assert only_case(bot, "question").state == "answered"
    mails = bot.env.wait_for(bot.env.requesters[0], count=2)
    assert any("espace documentaire" in body_text(m) for m in mails)
    withdrawn = bot.cli("cases", "withdraw", ref, "--as", admin)
    assert withdrawn.returncode == 0, withdrawn.stderr
    again = bot.cli("cases", "withdraw", ref, "--as", admin)
    assert again.returncode == 1 and "aucune réponse n’est en ligne" in again.stderr
    bot.run_once()  # the portal withdraws the answer
    asked = len(bot.env.wait_for(bot.env.requesters[0], count=2))
    assert only_case(bot, "question").data.get("withdrawn_at")
    republished = bot.cli("cases", "publish", ref, "--as", admin)
    assert republished.returncode == 0, republished.stderr
    bot.run_once()
    data = only_case(bot, "question").data
    assert [p["version"] for p in data["publications"]] == [1, 2]
    assert data.get("withdrawn_at") is None  # omitted from the JSON when not set
    assert any("republish_submitted" in line and f"by={admin}" in line for line in bot.log_lines())
    assert len(bot.env.wait_for(bot.env.requesters[0], count=asked)) == asked  # not re-mailed
