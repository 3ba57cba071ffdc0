"""The daemon's scheduler (APScheduler 3): the timer sweep, portal-operation and outbox
retries between turns, the triage model (at start-up once the first fetch is done, and at
06:30, on every instance: each keeps its own); and `serve_forever`, which runs the daemon until
SIGTERM/SIGINT.

Recurring jobs done once by the active instance at a time of day (the 07:00 digest) are not
APScheduler's: they are rows of `scheduled_job`, run by every turn of the daemon and by
`run --once` (`mailbot.loop.jobs`), so a restart or a cron-driven deployment misses none."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from mailbot.config import Config
from mailbot.loop.daemon import Daemon
from mailbot.loop.faults import is_database_fault
from mailbot.loop.triage_model import retrain

log = logging.getLogger(__name__)
FIRST_FETCH_WAIT_SECONDS = 10.0


def guarded(daemon: Daemon, job: Callable[[], object]) -> Callable[[], None]:
    """A job whose database faults are reported to the daemon's outage (one warning per
    outage) instead of a traceback at every tick; the main loop waits them out."""

    def run() -> None:
        try:
            job()
        except Exception as err:
            if not is_database_fault(err):
                raise
            daemon.outage.noticed(err)

    return run


def after_first_fetch(daemon: Daemon, job: Callable[[], object]) -> Callable[[], None]:
    """The job, its first run waiting (at most `FIRST_FETCH_WAIT_SECONDS`) for the daemon's
    first turn: at start-up the connection and the first fetch do not share the CPU with it.
    (A question triaged before the model is learnt learns it: `triage_model.model_for`.)"""
    first = threading.Event()

    def run() -> None:
        if not first.is_set():
            first.set()
            daemon.fetched.wait(FIRST_FETCH_WAIT_SECONDS)
        job()

    return run


def start_scheduler(config: Config, daemon: Daemon) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="Europe/Paris")
    scheduler.add_job(
        guarded(daemon, daemon.when_active(daemon.ingest.sweep_timers)),
        "interval",
        seconds=config.timers.sweep_interval_seconds,
        id="timers",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        guarded(daemon, daemon.when_active(daemon.ingest.run_portal_operations)),
        "interval",
        seconds=30,
        id="portal",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        guarded(daemon, daemon.when_active(daemon.drain_outbox)),
        "interval",
        seconds=30,
        id="outbox",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(  # every instance keeps its own model: not only the active one
        guarded(daemon, after_first_fetch(daemon, lambda: retrain(daemon.engine, config))),
        "cron",
        hour=6,
        minute=30,
        id="triage_model",
        coalesce=True,
        next_run_time=datetime.now(UTC),  # and once at start-up
    )
    scheduler.start()
    return scheduler


def serve_forever(daemon: Daemon, scheduler: BackgroundScheduler) -> None:
    def _stop(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signum)
        daemon.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(
        f"mailbot is watching {daemon.config.mailbox.user}; workflow log: {daemon.config.log.file}",
        flush=True,
    )
    try:
        daemon.run_forever()
    finally:
        scheduler.shutdown(wait=False)
