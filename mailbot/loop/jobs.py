"""Recurring jobs are data: each job's last run is a row of `scheduled_job`.

A job has a name, a schedule (`workflows.schedule`: daily or weekly at a Paris time) and a
callable run in one transaction with the claim of its slot. Every `mailbot run` turn (daemon
and `--once`, on the active instance only: both hold the lease when they get here) calls
`JobRunner.run_due`, which runs each job whose latest slot is later than the slot it last ran
for. A day of downtime therefore gives one run on the next start, not one per missed day.

The claim is `UPDATE scheduled_job SET last_slot = :slot … WHERE name = :name AND (last_slot
IS NULL OR last_slot < :slot)`, in the same transaction as the job's work (the digest queues
its mails in the outbox there). On PostgreSQL a second instance's UPDATE waits for the row
lock, then finds the slot taken and does nothing; if the job fails, its transaction (claim
included) rolls back and the slot is still due. So a slot's work is committed once.

Adding a job (a weekly summary, a retention purge): append a `RecurringJob` to the list in
`recurring_jobs`, the one place they are built. Work each instance must do for itself (the
in-memory triage model) is not a recurring job: it stays on the scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from mailbot.config import Config
from mailbot.loop.faults import is_database_fault
from mailbot.loop.notices import send_daily_digest
from mailbot.loop.reports import send_weekly_summary
from mailbot.loop.retention import purge
from mailbot.portal import Portal
from mailbot.wflog import WorkflowLog
from storage.db import session_scope
from storage.models import ScheduledJob
from storage.upsert import insert_ignore
from workflows.schedule import Daily, Schedule, Weekly, due_slot, next_run

log = logging.getLogger(__name__)

# What a job does, in the transaction that claims its slot; returns a count for the log
# (mails queued, rows purged…).
JobWork = Callable[[Session, datetime], int]

RETRY_AFTER_FAILURE = timedelta(minutes=5)  # a failing job is not retried at every turn


@dataclass(frozen=True)
class RecurringJob:
    name: str  # the row's key and `mailbot jobs run NAME`
    schedule: Schedule
    work: JobWork
    label: str  # what it does, in French, for `mailbot jobs`


def recurring_jobs(config: Config, portal: Portal) -> list[RecurringJob]:
    """Every recurring job of mailbot, built here and only here."""

    def digest(session: Session, now: datetime) -> int:
        return send_daily_digest(session, config, portal, now)

    def weekly_summary(session: Session, now: datetime) -> int:
        return send_weekly_summary(session, config, now)

    def retention(session: Session, now: datetime) -> int:
        return len(purge(session, config, now, actor="scheduler"))

    return [
        RecurringJob(
            "digest",
            Daily(7, 0),
            digest,
            "récapitulatif quotidien des questions-réponses publiées",
        ),
        RecurringJob(
            "weekly_summary",
            Weekly(0, 8, 0),
            weekly_summary,
            "bilan hebdomadaire envoyé aux administrateurs",
        ),
        RecurringJob(
            "purge",
            Daily(config.retention.purge_hour, 0),
            retention,
            "effacement des données personnelles arrivées à échéance (conservation)",
        ),
    ]


class UnknownJob(LookupError):
    pass


class JobRunner:
    """Runs the due jobs; `clock` is the daemon's (tests move it)."""

    def __init__(
        self,
        engine: Engine,
        jobs: Iterable[RecurringJob],
        wflog: WorkflowLog | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.jobs = {job.name: job for job in jobs}
        self.wflog = wflog
        self.clock = clock
        self._rows_ready = False
        self._failed_until: dict[str, datetime] = {}

    def _ensure_rows(self) -> None:
        if self._rows_ready:
            return
        now = self.clock()
        with session_scope(self.engine) as session:
            for name, job in self.jobs.items():
                # A job new to the database starts at its next slot: deploying at 10:00 does
                # not send a digest at once (its last slot counts as done, with no run).
                values = {"name": name, "runs": 0, "last_slot": job.schedule.latest_slot(now)}
                insert_ignore(session, ScheduledJob, values, ["name"])
        self._rows_ready = True

    def _last_slots(self) -> dict[str, datetime | None]:
        with session_scope(self.engine) as session:
            rows = session.exec(select(ScheduledJob)).all()
            return {row.name: row.last_slot for row in rows}

    def run_due(self) -> dict[str, int]:
        """Run every job whose slot has come since its last run; {name: count} of those run
        here (a slot another instance claimed first is not in it)."""
        self._ensure_rows()
        now = self.clock()
        done: dict[str, int] = {}
        last = self._last_slots()
        for name, job in self.jobs.items():
            slot = due_slot(job.schedule, last.get(name), now)
            if slot is None or self._failed_until.get(name, now) > now:
                continue
            count = self._run(job, slot, now)
            if count is not None:
                done[name] = count
        return done

    def run_now(self, name: str) -> int:
        """Run one job at once (`mailbot jobs run NAME`), whatever its schedule. It counts as
        the run of its latest slot when that one had not run yet (no second run at its time)."""
        job = self.jobs.get(name)
        if job is None:
            raise UnknownJob(name)
        self._ensure_rows()
        now = self.clock()
        with session_scope(self.engine) as session:
            row = session.exec(
                select(ScheduledJob).where(ScheduledJob.name == name).with_for_update()
            ).one()
            latest = job.schedule.latest_slot(now)
            if row.last_slot is None or row.last_slot < latest:
                row.last_slot = latest
            count = job.work(session, now)
            self._note(row, now, count)
            session.add(row)
        self._log(name, row.last_slot, count, manual=True)
        return count

    def _run(self, job: RecurringJob, slot: datetime, now: datetime) -> int | None:
        """Claim `slot` and do the job's work in one transaction; None when another instance
        claimed it first or the job failed (then it stays due)."""
        try:
            with session_scope(self.engine) as session:
                claimed = session.connection().execute(
                    update(ScheduledJob)
                    .where(
                        col(ScheduledJob.name) == job.name,
                        or_(
                            col(ScheduledJob.last_slot).is_(None),
                            col(ScheduledJob.last_slot) < slot,
                        ),
                    )
                    .values(last_slot=slot)
                )
                if claimed.rowcount != 1:
                    return None
                count = job.work(session, now)
                row = session.get(ScheduledJob, job.name)
                assert row is not None
                self._note(row, now, count)
                session.add(row)
        except Exception as err:
            if is_database_fault(err):
                raise  # the daemon's outage handling waits it out; the slot stays due
            log.exception("job %s failed; it stays due", job.name)
            self._failed_until[job.name] = now + RETRY_AFTER_FAILURE
            if self.wflog is not None:
                self.wflog.write(None, "job_failed", {"job": job.name, "error": str(err)}, now)
            return None
        self._failed_until.pop(job.name, None)
        self._log(job.name, slot, count)
        return count

    @staticmethod
    def _note(row: ScheduledJob, now: datetime, count: int) -> None:
        row.last_run_at = now
        row.last_result = str(count)
        row.runs += 1

    def _log(self, name: str, slot: datetime | None, count: int, manual: bool = False) -> None:
        log.info("job %s ran (slot %s): %s", name, slot, count)
        if self.wflog is not None:
            fields: dict[str, Any] = {"job": name, "count": count}
            if slot is not None:
                fields["slot"] = slot.isoformat(timespec="minutes")
            if manual:
                fields["manual"] = True
            self.wflog.write(None, "job_run", fields, self.clock())

    def report(self) -> list[dict[str, Any]]:
        """Each job with its schedule, last run and next run (aware UTC datetimes)."""
        self._ensure_rows()
        now = self.clock()
        with session_scope(self.engine) as session:
            rows = {row.name: row for row in session.exec(select(ScheduledJob)).all()}
        out = []
        for name, job in self.jobs.items():
            row = rows.get(name)
            last_slot = row.last_slot if row else None
            out.append(
                {
                    "name": name,
                    "label": job.label,
                    "schedule": job.schedule.describe(),
                    "last_run": row.last_run_at if row else None,
                    "last_slot": last_slot,
                    "last_result": row.last_result if row else None,
                    "runs": row.runs if row else 0,
                    "next_run": next_run(job.schedule, last_slot, now),
                    "due": due_slot(job.schedule, last_slot, now) is not None,
                }
            )
        return out
