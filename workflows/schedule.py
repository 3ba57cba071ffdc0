"""When recurring jobs are due: daily or weekly at a Paris wall-clock time.

Pure calendar arithmetic (`mailbot.loop.jobs` runs the jobs and records their last run). A
schedule has slots, the moments it is due: `latest_slot(now)` is the last one at or before
`now`, `next_slot(now)` the first one after it. A job is due when its latest slot is later than
the slot it last ran for, so a day of downtime gives one run (the latest slot), not one per
missed day. Slots are computed on the Paris calendar and returned as aware UTC datetimes;
across the daylight-saving changes a 07:00 job stays at 07:00 Paris time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from workflows.calendar import at_paris_time, paris_day

WEEKDAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def _clock_fr(hour: int, minute: int) -> str:
    return f"{hour} h {minute:02d}"


@dataclass(frozen=True)
class Daily:
    """Every day at `hour:minute`, Paris time."""

    hour: int
    minute: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.hour < 24 and 0 <= self.minute < 60):
            raise ValueError(f"no such time of day: {self.hour}:{self.minute}")

    def latest_slot(self, now: datetime) -> datetime:
        day = paris_day(now)
        slot = at_paris_time(day, self.hour, self.minute)
        if slot > now:
            slot = at_paris_time(day - timedelta(days=1), self.hour, self.minute)
        return slot

    def next_slot(self, now: datetime) -> datetime:
        day = paris_day(self.latest_slot(now))
        return at_paris_time(day + timedelta(days=1), self.hour, self.minute)

    def describe(self) -> str:
        """For admins, in French: « tous les jours à 7 h 00 (heure de Paris) »."""
        return f"tous les jours à {_clock_fr(self.hour, self.minute)} (heure de Paris)"


@dataclass(frozen=True)
class Weekly:
    """Every week on `weekday` (0 = Monday) at `hour:minute`, Paris time."""

    weekday: int
    hour: int
    minute: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.weekday < 7:
            raise ValueError(f"no such weekday: {self.weekday}")
        Daily(self.hour, self.minute)  # the same checks of the time of day

    def latest_slot(self, now: datetime) -> datetime:
        today = paris_day(now)
        day = today - timedelta(days=(today.weekday() - self.weekday) % 7)
        slot = at_paris_time(day, self.hour, self.minute)
        if slot > now:
            slot = at_paris_time(day - timedelta(days=7), self.hour, self.minute)
        return slot

    def next_slot(self, now: datetime) -> datetime:
        day = paris_day(self.latest_slot(now))
        return at_paris_time(day + timedelta(days=7), self.hour, self.minute)

    def describe(self) -> str:
        """For admins, in French: « chaque lundi à 8 h 00 (heure de Paris) »."""
        name = WEEKDAYS_FR[self.weekday]
        return f"chaque {name} à {_clock_fr(self.hour, self.minute)} (heure de Paris)"


Schedule = Daily | Weekly


def due_slot(schedule: Schedule, last_slot: datetime | None, now: datetime) -> datetime | None:
    """The slot to run now, or None: the latest slot when the job has not run for it yet (a
    job that never ran is due at once for its latest slot)."""
    slot = schedule.latest_slot(now)
    if last_slot is None or last_slot < slot:
        return slot
    return None


def next_run(schedule: Schedule, last_slot: datetime | None, now: datetime) -> datetime:
    """When the job runs next: its latest slot when that is still due, else the next one."""
    return due_slot(schedule, last_slot, now) or schedule.next_slot(now)
