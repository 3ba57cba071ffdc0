"""The daily digest as a recurring job, end to end on Dovecot with the real `mailbot run`:
`run --once` after the digest time sends it and a second run sends nothing; a digest missed
while the daemon was down is sent once on the next start; two daemons on one PostgreSQL
database send it once, also after the active one hands over."""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from daemons import Daemon, kill_quietly, lease_holder_pid, wait_until
from harness import Bot, make_bot
from mailservers import MailEnv
from pgutil import postgres_database
from sqlmodel import Session

from mailbot.loop.notices import record_publication
from portal_stub.models import PortalAccount
from storage.models import ScheduledJob
from workflows.schedule import Daily

pytestmark = pytest.mark.integration

DIGEST = Daily(7, 0)  # the schedule `recurring_jobs` gives the digest


def prepare(bot: Bot, missed_days: int) -> None:
    """A daily subscriber (the first requester), one Q&A published an hour ago, and the digest
    last run `missed_days` slots before the latest one (0: it already ran for it)."""
    now = datetime.now(UTC)
    reader = bot.env.requesters[0].address
    with Session(bot.engine) as s:
        s.add(
            PortalAccount(
                email=reader,
                first_name="Claire",
                last_name="Martin",
                spaces=["accueil"],
                password_hash="x",
                must_change_password=False,
                created_at=now - timedelta(days=10),
            )
        )
        record_publication(
            s,
            "Q-2026-000001",
            "accueil",
            "Quel délai pour contester un FPS ?",
            "http://127.0.0.1:8999/espaces/accueil/questions/Q-2026-000001",
            1,
            now - timedelta(hours=1),
        )
        slot = DIGEST.latest_slot(now)
        for _ in range(missed_days):
            slot = DIGEST.latest_slot(slot - timedelta(minutes=1))
        s.add(ScheduledJob(name="digest", last_slot=slot, last_run_at=slot, runs=1))
        s.commit()


def digests(bot: Bot) -> list[str]:
    """Subjects of the digests in the subscriber's mailbox (the first requester)."""
    subjects = [str(m["Subject"]) for m in bot.env.fetch(bot.env.requesters[0])]
    return [s for s in subjects if s.startswith("Récapitulatif du ")]


def digest_runs(bot: Bot) -> int:
    with Session(bot.engine) as s:
        row = s.get(ScheduledJob, "digest")
        return row.runs if row is not None else 0


def test_run_once_after_the_digest_time_sends_it_and_again_sends_nothing(
    mail_env: MailEnv,
) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-digest-"))
    bot = make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)
    prepare(bot, missed_days=1)  # the digest time has passed since its last run
    first = bot.cli("run", "--once")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["jobs"] == 1
    [subject] = digests(bot)
    assert subject.endswith(": 1 nouvelle publication")
    second = bot.cli("run", "--once")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["jobs"] == 0
    assert len(digests(bot)) == 1 and digest_runs(bot) == 2
    listing = bot.cli("jobs", "--json")
    assert listing.returncode == 0, listing.stderr
    [job] = [j for j in json.loads(listing.stdout) if j["name"] == "digest"]
    assert job["due"] is False and job["runs"] == 2
    bot.engine.dispose()


def test_a_digest_missed_while_down_is_sent_once_on_the_next_start(mail_env: MailEnv) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-digest-"))
    bot = make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)
    prepare(bot, missed_days=3)  # down for three days
    daemon = Daemon(bot, "after-downtime")
    try:
        wait_until(lambda: len(digests(bot)) >= 1, 30, "the missed digest")
        time.sleep(3)  # a few more turns (poll interval 1 s): nothing more
        assert len(digests(bot)) == 1 and digest_runs(bot) == 2
    finally:
        daemon.stop()
    assert daemon.proc.returncode == 0, daemon.stderr[-3000:]
    again = Daemon(bot, "restarted")
    try:
        again.wait_log("connected to")
        time.sleep(3)
        assert len(digests(bot)) == 1 and digest_runs(bot) == 2
    finally:
        again.stop()
    assert "Traceback" not in daemon.stderr + again.stderr
    bot.engine.dispose()


@pytest.mark.postgres
def test_two_instances_on_postgresql_send_the_digest_once(mail_env: MailEnv) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-digest-"))
    with postgres_database() as url:
        bot = make_bot(mail_env, url, workdir)
        prepare(bot, missed_days=1)
        one = Daemon(bot, "one")
        two = Daemon(bot, "two")
        try:
            wait_until(lambda: len(digests(bot)) >= 1, 40, "the digest")
            active = lease_holder_pid(bot)
            first, second = (one, two) if active == one.proc.pid else (two, one)
            time.sleep(3)
            first.stop()  # a clean hand-over: the standby takes the lease and finds it done
            wait_until(lambda: lease_holder_pid(bot) == second.proc.pid, 40, "the takeover")
            time.sleep(3)
            assert len(digests(bot)) == 1 and digest_runs(bot) == 2
            assert "Traceback" not in one.stderr + two.stderr
        finally:
            kill_quietly([one, two])
            bot.engine.dispose()
