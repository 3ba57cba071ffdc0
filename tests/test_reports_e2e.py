"""Reports and retention on a database filled by the real workflows (Dovecot, SMTP, the real
`mailbot` command): the xlsx export reopened with openpyxl, the weekly summary job landing in
the admin's mailbox, and the retention purge with a controlled clock (what goes, what stays,
--dry-run changes nothing)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import Bot, annex_xlsx, body_text, compose, make_bot, person, reply_to, submit
from mailservers import MailEnv
from openpyxl import load_workbook
from pgutil import postgres_database
from sqlmodel import Session, select

from mailbot.desk.export import CASE_HEADERS, PEOPLE_HEADERS, QA_HEADERS, SHEETS
from mailbot.loop.retention import periods_of, plan, purge
from portal_stub.models import PortalPublication
from storage.models import (
    Case,
    CaseEvent,
    CasePerson,
    InboundMessage,
    OutboxMail,
    Publication,
)
from workflows.retention import ANONYMISED, ANONYMOUS_ADDRESS

pytestmark = pytest.mark.integration

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_SUBJECT = '=HYPERLINK("http://evil.example/";"Cliquez")'
QUESTION = (
    "Bonjour,\n\nDans le cycle complet proposé par l'ANTAI, qui envoie l'avis de paiement du FPS "
    "à l'usager ? Vous pouvez me joindre au 06 12 34 56 78.\n\nCordialement,\nSophie Bernard\n"
)
ANSWER = "Dans le cycle complet, l'ANTAI envoie l'avis de paiement pour la collectivité."


@pytest.fixture
def bot(mail_env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-reports-"))
    return make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_bot(request: pytest.FixtureRequest, mail_env: MailEnv) -> Iterator[Bot]:
    """A bot on SQLite, then on PostgreSQL (the purge's queries and JSON updates on both)."""
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-reports-"))
    if request.param == "sqlite":
        bot = make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)
        yield bot
        bot.engine.dispose()
        return
    with postgres_database() as url:
        bot = make_bot(mail_env, url, workdir)
        yield bot
        bot.engine.dispose()


def answered_question(bot: Bot, subject: str = FORMULA_SUBJECT) -> str:
    """Alice asks, the ANTAI reviewer answers: the Q&A is mailed and published."""
    env = bot.env
    alice = env.requesters[0]
    submit(env, compose(alice.address, env.bot.address, subject, QUESTION, sender_name="Sophie"))
    bot.run_once()
    [notif] = env.wait_for(env.reviewers["antai"])
    submit(env, reply_to(notif, env.reviewers["antai"].address, ANSWER))
    bot.run_once()
    env.wait_for(alice, count=2)
    return ref_of(bot, subject)


def subscription(bot: Bot, name: str, command: str) -> str:
    """Bob sends an annex with one person; the subscription reviewer replies `command`."""
    env = bot.env
    row = person(env, name)
    env.dovecot.add_user(row["Courriel"], "pw-invitee")
    bob = env.requesters[1]
    subject = f"Demande d'abonnement {name}"
    msg = compose(
        bob.address,
        env.bot.address,
        subject,
        "Bonjour,\n\nVoici notre tableau.\n\nBob",
        attachments=[("annexe.xlsx", XLSX, annex_xlsx([row]))],
    )
    submit(env, msg)
    bot.run_once()
    ref = ref_of(bot, subject)
    notifs = env.wait_for(env.reviewers["abonnements"])
    notif = next(n for n in notifs if ref in str(n["Subject"]))
    submit(env, reply_to(notif, env.reviewers["abonnements"].address, command))
    bot.run_once()
    return ref


def in_terminal(bot: Bot, *args: str) -> str:
    """Run `mailbot` with a pseudo-terminal as its stdout and stderr; everything it wrote."""
    master, slave = pty.openpty()
    cmd = [sys.executable, "-m", "mailbot", *args, "--config", str(bot.config_path)]
    proc = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
        cmd,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=bot.subprocess_env(TERM="xterm-256color", COLUMNS="120"),
        cwd=bot.workdir,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=60) == 0, b"".join(chunks).decode(errors="replace")
    os.close(master)
    return b"".join(chunks).decode(errors="replace")


def ref_of(bot: Bot, subject: str) -> str:
    with Session(bot.engine) as s:
        return s.exec(select(Case.ref).where(Case.subject == subject)).one()


def test_export_reopened_with_openpyxl(bot: Bot) -> None:
    qref = answered_question(bot)
    aref = subscription(bot, "durand", "APPROUVER")
    today = datetime.now(UTC).date()
    out = bot.workdir / "export.xlsx"
    result = bot.cli("export", "--since", str(today - timedelta(days=1)), str(out), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # one JSON document, nothing else (no progress bar)
    assert report["sheets"] == {SHEETS[0]: 2, SHEETS[1]: 1, SHEETS[2]: 1}
    book = load_workbook(out)
    assert book.sheetnames == list(SHEETS)
    cases, people, qa = (book[name] for name in SHEETS)
    assert [c.value for c in cases[1]] == list(CASE_HEADERS)
    assert [c.value for c in people[1]] == list(PEOPLE_HEADERS)
    assert [c.value for c in qa[1]] == list(QA_HEADERS)
    rows = {r[0]: r for r in cases.iter_rows(min_row=2, values_only=True)}
    question_row = rows[qref]
    # the formula-looking subject is neutralised: a quote first, never a formula
    assert question_row[CASE_HEADERS.index("Objet")] == "'" + FORMULA_SUBJECT
    assert cases.cell(row=2, column=CASE_HEADERS.index("Objet") + 1).data_type == "s"
    assert question_row[CASE_HEADERS.index("État")] == "répondu, clos"
    assert question_row[CASE_HEADERS.index("Espace")] == "ANTAI"
    assert isinstance(question_row[CASE_HEADERS.index("Première réponse le")], datetime)
    assert rows[aref][CASE_HEADERS.index("Nature")] == "Abonnement"
    [invited] = list(people.iter_rows(min_row=2, values_only=True))
    assert invited[0] == aref and invited[PEOPLE_HEADERS.index("Nom")] == "Durand"
    assert invited[PEOPLE_HEADERS.index("Compte existant")] == "oui"
    assert invited[PEOPLE_HEADERS.index("Espaces")] == "Accueil, DESTA"
    [published] = list(qa.iter_rows(min_row=2, values_only=True))
    assert published[0] == qref and published[QA_HEADERS.index("Espace")] == "ANTAI"
    assert ANSWER in published[QA_HEADERS.index("Réponse publiée")]
    for personal in ("Sophie", "06 12 34 56 78", bot.env.requesters[0].address):
        assert personal not in str(published)
    # a period with nothing in it gives the three sheets with their headers only
    empty = bot.workdir / "vide.xlsx"
    old = bot.cli("export", "--since", "2020-01-01", "--until", "2020-01-31", str(empty))
    assert old.returncode == 0, old.stderr
    assert "Dossiers\u00a0: 0" in old.stdout and "\x1b" not in old.stdout  # not a terminal
    assert [load_workbook(empty)[n].max_row for n in SHEETS] == [1, 1, 1]
    assert "Écriture du classeur" not in old.stdout + old.stderr
    # on a terminal: a progress bar while the rows are written
    shown = in_terminal(bot, "export", "--since", str(today), str(bot.workdir / "tty.xlsx"))
    assert "Écriture du classeur" in shown and "\x1b[" in shown
    assert "Export écrit dans" in shown
    bad = bot.cli("export", "--since", "hier", str(empty))
    assert bad.returncode == 2 and "n’est pas une date" in bad.stderr


def test_weekly_summary_job_lands_in_the_admins_mailbox(bot: Bot) -> None:
    answered_question(bot, "Avis de paiement en cycle complet")
    alice = bot.env.requesters[0]
    submit(bot.env, compose(alice.address, bot.env.bot.address, "Décret", "Quel décret ?"))
    bot.run_once()
    ran = bot.cli("jobs", "run", "weekly_summary")
    assert ran.returncode == 0, ran.stderr
    assert "Tâche «\u00a0weekly_summary\u00a0» exécutée (résultat\u00a0: 1)" in ran.stdout
    bot.run_once()  # the daemon's turn sends the outbox
    [summary] = bot.env.wait_for(bot.env.admin)
    # headers carry plain spaces (the composer folds non-breaking ones)
    assert str(summary["Subject"]).startswith("Bilan hebdomadaire : semaine du ")
    text = body_text(summary)
    assert "Dossiers ouverts\u00a0: 1, dont 0 en retard." in text
    assert "- ANTAI\u00a0: première réponse" in text
    assert "http://127.0.0.1:8999/admin/statistiques" in text
    assert summary["Auto-Submitted"] == "auto-generated"
    again = bot.cli("jobs", "run", "weekly_summary")  # the same week: the same mail, once
    assert again.returncode == 0, again.stderr
    bot.run_once()
    assert len(bot.env.fetch(bot.env.admin)) == 1


def snapshot(bot: Bot) -> tuple[object, ...]:
    with Session(bot.engine) as s:
        cases = [
            (c.ref, c.requester, c.subject, c.data, c.anonymised_at) for c in s.exec(select(Case))
        ]
        inbound = [
            (m.id, len(m.raw), m.sender, m.purged_at) for m in s.exec(select(InboundMessage))
        ]
        outbox = [(m.id, len(m.raw), m.recipients, m.purged_at) for m in s.exec(select(OutboxMail))]
        events = [(e.id, e.data) for e in s.exec(select(CaseEvent))]
    return (cases, inbound, outbox, events)


def test_retention_with_a_controlled_clock(any_bot: Bot) -> None:
    bot = any_bot
    qref = answered_question(bot, "Avis de paiement en cycle complet")
    refused = subscription(bot, "martin", "REFUSER Collectivité inconnue")
    approved = subscription(bot, "durand", "APPROUVER")  # invited: still open
    alice = bot.env.requesters[0].address
    now = datetime.now(UTC)
    with Session(bot.engine) as s:
        assert s.exec(select(Case).where(Case.ref == refused)).one().state == "refused"
        # a month later: nothing is due
        assert plan(s, periods_of(bot.config), now + timedelta(days=30)) == []
        # 93 days later: the raw mail of both closed cases, and the refused request
        items = plan(s, periods_of(bot.config), now + timedelta(days=93))
    kinds = {(i.kind, i.case_ref) for i in items}
    assert ("case", refused) in kinds and ("case", qref) not in kinds
    assert ("journal", qref) in kinds and ("outbox", qref) in kinds
    assert not any(i.case_ref == approved for i in items)  # open: nothing goes
    before = snapshot(bot)
    with Session(bot.engine) as s:
        plan(s, periods_of(bot.config), now + timedelta(days=400))
        s.commit()
    assert snapshot(bot) == before  # planning (dry run) changes nothing

    with Session(bot.engine) as s:
        done = purge(s, bot.config, now + timedelta(days=93), actor="scheduler")
        s.commit()
    assert {(i.kind, i.case_ref) for i in done} == kinds
    with Session(bot.engine) as s:
        gone = s.exec(select(Case).where(Case.ref == refused)).one()
        assert gone.requester == ANONYMOUS_ADDRESS and gone.subject == ANONYMISED
        assert "martin" not in json.dumps(gone.data).lower()
        assert gone.data["people"][0]["organisation"] == "Ville de Testville"
        answered = s.exec(select(Case).where(Case.ref == qref)).one()
        assert answered.requester == alice and answered.anonymised_at is None  # 1 year
        for m in s.exec(select(InboundMessage).where(InboundMessage.case_ref == qref)):
            assert m.raw == b"" and m.purged_at is not None and m.sender is not None
        for m in s.exec(select(InboundMessage).where(InboundMessage.case_ref == approved)):
            assert m.raw != b"" and m.purged_at is None
        events = s.exec(select(CaseEvent).where(CaseEvent.case_ref == refused)).all()
        assert "martin" not in json.dumps([e.data for e in events]).lower()
        # the index of the requests' people forgets the anonymised one, keeps the open one
        indexed = {r for r, _ in s.exec(select(CasePerson.case_ref, CasePerson.email))}
        assert refused not in indexed and approved in indexed
        assert events[-1].event == "anonymised" and events[-1].actor == "scheduler"
        assert plan(s, periods_of(bot.config), now + timedelta(days=93)) == []  # done once
    # a year and more: the answered question too; what was published stays, without people
    with Session(bot.engine) as s:
        later = purge(s, bot.config, now + timedelta(days=400))
        s.commit()
    assert ("case", qref) in {(i.kind, i.case_ref) for i in later}
    with Session(bot.engine) as s:
        case = s.exec(select(Case).where(Case.ref == qref)).one()
        assert case.requester == ANONYMOUS_ADDRESS and "Sophie" not in json.dumps(case.data)
        assert "06 12 34 56 78" not in json.dumps(case.data)
        [pub] = s.exec(select(Publication).where(Publication.case_ref == qref)).all()
        [portal_pub] = s.exec(select(PortalPublication)).all()
        for text in (pub.question, portal_pub.question, portal_pub.answer):
            for personal in ("Sophie", "Bernard", "06 12 34 56 78", alice):
                assert personal not in text
        assert ANSWER in portal_pub.answer


def test_purge_command_dry_run_then_for_real(bot: Bot) -> None:
    refused = subscription(bot, "martin", "REFUSER Collectivité inconnue")
    with Session(bot.engine) as s:  # the refusal was four months ago
        case = s.exec(select(Case).where(Case.ref == refused)).one()
        assert case.closed_at is not None
        case.closed_at -= timedelta(days=120)
        s.add(case)
        s.commit()
    before = snapshot(bot)
    dry = bot.cli("purge", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    listing = json.loads(dry.stdout)
    assert listing["dry_run"] is True and listing["summary"]["case"] == 1
    assert {"kind": "case", "id": refused}.items() <= listing["items"][-1].items()
    assert snapshot(bot) == before
    text = bot.cli("purge", "--dry-run")
    assert "À effacer\u00a0: 1 dossier à anonymiser" in text.stdout
    assert f"anonymisation du dossier — dossier {refused}, clos le " in text.stdout
    assert "Rien n’a été modifié (--dry-run)." in text.stdout
    refused_without_admin = bot.cli("purge")
    assert refused_without_admin.returncode == 2
    assert "--as ADRESSE" in refused_without_admin.stderr
    real = bot.cli("purge", "--as", bot.env.admin.address)
    assert real.returncode == 0, real.stderr
    assert "Effacé\u00a0: 1 dossier anonymisé\u00a0;" in real.stdout
    with Session(bot.engine) as s:
        case = s.exec(select(Case).where(Case.ref == refused)).one()
        assert case.requester == ANONYMOUS_ADDRESS
        last = s.exec(select(CaseEvent).where(CaseEvent.case_ref == refused)).all()[-1]
        assert last.event == "anonymised" and last.actor == bot.env.admin.address
    assert any("retention_purge" in line for line in bot.log_lines())
    nothing = bot.cli("purge", "--dry-run")
    assert "Rien n’est arrivé au terme de sa durée de conservation." in nothing.stdout
