"""Recurring jobs as data (`mailbot.loop.jobs`): a slot's work is committed once, in the
transaction that claims it, on SQLite and on PostgreSQL with two runners racing; a failing job
rolls back and stays due; `run_now` counts as its slot's run. `test_server_zone.py` runs this
module again with TZ=UTC and TZ=Pacific/Auckland."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pgutil import postgres_database
from sqlalchemy import Engine
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from mailbot.cli import app
from mailbot.loop.jobs import RETRY_AFTER_FAILURE, JobRunner, RecurringJob, UnknownJob
from mailbot.wflog import WorkflowLog
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import NoticeSent, ScheduledJob
from workflows.schedule import Daily, Weekly

PARIS = ZoneInfo("Europe/Paris")
ROOT = Path(__file__).resolve().parent.parent


def paris(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=PARIS).astimezone(UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def note(session: Session, now: datetime) -> int:
    """A job's work that writes in its transaction: one `notice_sent` row per run."""
    recipient = f"{uuid.uuid4().hex}@example.test"
    session.add(
        NoticeSent(recipient=recipient, case_ref="job", version=0, channel="x", sent_at=now)
    )
    return 1


def notes(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(NoticeSent)).one())


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path}/jobs.db"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_a_daily_job_runs_once_per_slot_and_once_after_days_down(
    engine: Engine, tmp_path: Path
) -> None:
    clock = Clock(paris(2026, 12, 7, 6, 0))
    wflog = WorkflowLog(str(tmp_path / "w.log"), "text")
    runner = JobRunner(engine, [RecurringJob("note", Daily(7), note, "essai")], wflog, clock)
    assert runner.run_due() == {}  # new to the database: it starts at its next slot
    clock.now = paris(2026, 12, 7, 6, 59)
    assert runner.run_due() == {}
    clock.now = paris(2026, 12, 7, 7, 0)
    assert runner.run_due() == {"note": 1}
    assert runner.run_due() == {}
    clock.now = paris(2026, 12, 11, 9, 0)  # down from Monday to Friday: once
    assert runner.run_due() == {"note": 1}
    assert runner.run_due() == {}
    assert notes(engine) == 2
    with Session(engine) as s:
        row = s.get(ScheduledJob, "note")
        assert row is not None
        assert row.last_slot == paris(2026, 12, 11, 7) and row.runs == 2
        assert row.last_run_at == clock.now and row.last_result == "1"
    log = (tmp_path / "w.log").read_text(encoding="utf-8")
    assert log.count("job_run") == 2 and "slot=2026-12-11T06:00+00:00" in log


def test_a_new_runner_sees_the_slot_another_process_ran(engine: Engine) -> None:
    clock = Clock(paris(2026, 12, 7, 6, 0))
    jobs = [RecurringJob("note", Daily(7), note, "essai")]
    assert JobRunner(engine, jobs, None, clock).run_due() == {}
    clock.now = paris(2026, 12, 7, 8, 0)
    assert JobRunner(engine, jobs, None, clock).run_due() == {"note": 1}
    assert JobRunner(engine, jobs, None, clock).run_due() == {}  # a restart: nothing again
    assert notes(engine) == 1


def test_a_failing_job_rolls_back_stays_due_and_is_retried_later(engine: Engine) -> None:
    clock = Clock(paris(2026, 12, 7, 8, 0))
    fail = [True]

    def flaky(session: Session, now: datetime) -> int:
        note(session, now)
        if fail[0]:
            raise RuntimeError("portal unreachable")
        return 1

    runner = JobRunner(engine, [RecurringJob("flaky", Daily(7), flaky, "essai")], None, clock)
    assert runner.run_due() == {}  # new: starts at its next slot
    clock.now = paris(2026, 12, 8, 8, 0)
    assert runner.run_due() == {}
    assert notes(engine) == 0  # its work rolled back with the claim
    with Session(engine) as s:
        row = s.get(ScheduledJob, "flaky")
        assert row is not None and row.last_slot == paris(2026, 12, 7, 7) and row.runs == 0
    fail[0] = False
    assert runner.run_due() == {}  # not at every turn
    clock.now += RETRY_AFTER_FAILURE
    assert runner.run_due() == {"flaky": 1}
    assert notes(engine) == 1


def test_run_now_runs_at_once_and_counts_for_its_slot(engine: Engine) -> None:
    clock = Clock(paris(2026, 12, 7, 6, 0))
    jobs = [
        RecurringJob("note", Daily(7), note, "essai"),
        RecurringJob("weekly", Weekly(4, 9), note, "hebdomadaire"),
    ]
    runner = JobRunner(engine, jobs, None, clock)
    assert runner.run_due() == {}  # rows created: last slots Sunday 07:00, Friday 4 at 09:00
    clock.now = paris(2026, 12, 7, 8, 0)  # the 07:00 slot has not run yet
    report = {r["name"]: r for r in runner.report()}
    assert report["note"]["due"] is True and report["note"]["last_run"] is None
    assert runner.run_now("note") == 1
    assert runner.run_due() == {}  # the manual run counts for 07:00
    assert runner.run_now("note") == 1  # asked again: runs again
    with pytest.raises(UnknownJob):
        runner.run_now("nope")
    report = {r["name"]: r for r in runner.report()}
    assert report["note"]["runs"] == 2 and report["note"]["last_run"] == clock.now
    assert report["note"]["due"] is False and report["note"]["next_run"] == paris(2026, 12, 8, 7)
    assert report["weekly"]["next_run"] == paris(2026, 12, 11, 9)  # Friday 09:00
    assert report["weekly"]["schedule"] == "chaque vendredi à 9 h 00 (heure de Paris)"
    clock.now = paris(2026, 12, 11, 9, 0)
    assert runner.run_due() == {"note": 1, "weekly": 1}
    assert notes(engine) == 4


@pytest.mark.postgres
def test_two_runners_on_postgresql_commit_a_slot_once() -> None:
    with postgres_database() as url:
        upgrade(url)
        engines = [make_engine(url) for _ in range(2)]
        clock = Clock(paris(2026, 12, 6, 8, 0))
        ran: list[str] = []

        def slow(session: Session, now: datetime) -> int:
            ran.append(threading.current_thread().name)
            time.sleep(0.5)  # the other runner's claim arrives meanwhile and waits
            return note(session, now)

        jobs = [RecurringJob("slow", Daily(7), slow, "essai")]
        runners = [JobRunner(e, jobs, None, clock) for e in engines]
        for runner in runners:
            runner._ensure_rows()  # both rows ready before the race
        clock.now += timedelta(days=1)
        for _ in range(3):
            barrier = threading.Barrier(2)
            results: list[dict[str, int]] = []

            def race(
                runner: JobRunner,
                barrier: threading.Barrier = barrier,
                results: list[dict[str, int]] = results,
            ) -> None:
                barrier.wait()
                results.append(runner.run_due())

            threads = [
                threading.Thread(target=race, args=(r,), name=f"r{i}")
                for i, r in enumerate(runners)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=30)
            assert sorted(results, key=len) == [{}, {"slow": 1}]
            clock.now += timedelta(days=1)
        assert len(ran) == 3 and notes(engines[0]) == 3
        for e in engines:
            e.dispose()


def test_the_jobs_command_lists_in_paris_time_and_runs_one(tmp_path: Path) -> None:
    text = (
        (ROOT / "config.toml")
        .read_text(encoding="utf-8")
        .replace('url = "sqlite:///var/mailbot.db"', f'url = "sqlite:///{tmp_path}/m.db"')
        .replace('file = "var/log/workflow.log"', f'file = "{tmp_path}/w.log"')
    )
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    upgrade(f"sqlite:///{tmp_path}/m.db")
    cli = CliRunner()
    listed = cli.invoke(app, ["jobs", "--json", "--config", str(config)])
    assert listed.exit_code == 0, listed.output
    jobs = {job["name"]: job for job in json.loads(listed.stdout)}
    assert sorted(jobs) == ["digest", "purge", "weekly_summary"]
    digest = jobs["digest"]
    assert digest["last_run"] is None and digest["runs"] == 0
    next_run = datetime.fromisoformat(digest["next_run"])
    assert (next_run.hour, next_run.minute) == (7, 0)  # Paris time, with its offset
    assert next_run.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
    ran = cli.invoke(app, ["jobs", "run", "digest", "--config", str(config)])
    assert ran.exit_code == 0, ran.output
    assert "Tâche «\u00a0digest\u00a0» exécutée (résultat\u00a0: 0)" in ran.stdout
    shown = cli.invoke(app, ["jobs", "--config", str(config)])
    assert "dernière exécution\u00a0: le " in shown.stdout and "(résultat\u00a0: 0)" in shown.stdout
    unknown = cli.invoke(app, ["jobs", "run", "nope", "--config", str(config)])
    assert unknown.exit_code == 2
    assert (
        "Tâche inconnue\u00a0: «\u00a0nope\u00a0». Tâches existantes\u00a0: digest, purge, weekly_summary."
        in unknown.stderr
    )
    log = (tmp_path / "w.log").read_text(encoding="utf-8")
    assert "job_run  job=digest count=0" in log and "manual=True" in log
