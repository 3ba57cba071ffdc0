"""Kill campaign: `mailbot run` SIGKILLed at random moments while it works through mixed mail
(questions, subscriptions with an annex, auto-replies, bounces), restarted each time, on SQLite
and on PostgreSQL. Afterwards every mail is in exactly one folder, every case was acknowledged
(twice only for a row `sending` at a kill), case numbers are gapless and in arrival order, and
no outbox row is left `sending` or `unknown`.

`make test` runs the short variant (60 mails, 8 kills); `make test-long` (MAILBOT_LONG=1) the
full one (300 mails, 30 kills)."""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from daemons import (
    Daemon,
    check_acks,
    check_case_numbers,
    check_folders,
    final_journal,
    mixed_mails,
    outbox_idle,
    sending_ids,
    submit_all,
    wait_until,
)
from harness import Bot, make_bot
from mailservers import MailEnv
from pgutil import postgres_database
from sqlmodel import Session, col, select

from storage.models import OutboxMail

pytestmark = [pytest.mark.integration, pytest.mark.campaign]

LONG = os.environ.get("MAILBOT_LONG") == "1"
MAILS, KILLS = (300, 30) if LONG else (60, 8)
# A short send lease: a row a kill left `sending` is sent again by the next daemon itself.
OVERRIDES = {
    "limits.auto_replies_per_address_per_day": 10_000,
    "limits.auto_replies_ceiling_per_address_per_day": 10_001,
    "smtp.timeout_seconds": 2,
    "smtp.send_lease_seconds": 4,
}


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir}/mailbot.db"
    else:
        with postgres_database() as url:
            yield url


def campaign(bot: Bot, mails: int, kills: int, seed: int) -> tuple[set[int], int]:
    """Kill `mailbot run` `kills` times at random moments after it connected; then let the
    last one finish. Returns the outbox rows `sending` at the kills, and the kills made while
    mail was still being processed."""
    rng = random.Random(seed)
    interrupted: set[int] = set()
    mid_batch = 0
    for n in range(kills):
        daemon = Daemon(bot, f"run{n}")
        try:
            daemon.wait_log("connected to", timeout=60)
            time.sleep(rng.uniform(0.0, 1.5))
        finally:
            daemon.kill()
        interrupted |= sending_ids(bot)
        mid_batch += final_journal(bot) < mails
    last = Daemon(bot, "last")
    try:
        # Started for real before it may be stopped: when the kills left nothing to do, the
        # waits below pass at once, and a SIGTERM during start-up (before the daemon's handler
        # is installed) would end it with -15.
        last.wait_log("connected to", timeout=60)
        wait_until(lambda: final_journal(bot) == mails, 240 if LONG else 90, "every mail")
        wait_until(lambda: not bot.env.fetch(bot.env.bot), 30, "an empty INBOX")
        wait_until(lambda: outbox_idle(bot), 120, "the outbox drained")
    finally:
        last.stop()
    assert last.proc.returncode == 0, last.stderr[-3000:]
    assert "Traceback" not in last.stderr, last.stderr[-4000:]
    return interrupted, mid_batch


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_kill_campaign(mail_env: MailEnv, backend: str) -> None:
    workdir = Path(tempfile.mkdtemp(prefix=f"mailbot-kill-{backend}-"))
    with database(backend, workdir) as url:
        bot = make_bot(mail_env, url, workdir, **OVERRIDES)
        try:
            mails = mixed_mails(mail_env, MAILS)
            submit_all(mail_env, mails)
            seed = int(os.environ.get("MAILBOT_KILL_SEED", str(time.time_ns() % 10_000)))
            interrupted, mid_batch = campaign(bot, MAILS, KILLS, seed)
            check_folders(mail_env, mails)
            twice = check_acks(bot, interrupted)
            check_case_numbers(bot, mails)
            with Session(bot.engine) as s:
                stuck = s.exec(
                    select(OutboxMail).where(col(OutboxMail.state).in_(("sending", "unknown")))
                ).all()
            assert not stuck, [(r.id, r.state) for r in stuck]
            print(
                f"{backend} seed {seed}: {KILLS} kills ({mid_batch} mid-batch), "
                f"{len(interrupted)} rows sending at a kill, {twice} acknowledgements sent twice"
            )
        finally:
            bot.engine.dispose()
