"""When recurring jobs are due (`workflows.schedule`): Paris wall-clock slots from a UTC clock,
across midnight and both daylight-saving changes, one catch-up after any downtime.
`test_server_zone.py` runs this module again with TZ=UTC and TZ=Pacific/Auckland."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from workflows.schedule import Daily, Weekly, due_slot, next_run

PARIS = ZoneInfo("Europe/Paris")


def utc(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


def paris(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=PARIS).astimezone(UTC)


SEVEN = Daily(7, 0)


@pytest.mark.parametrize(
    ("now", "latest", "following"),
    [
        (utc(2026, 12, 7, 6, 0), paris(2026, 12, 7, 7), paris(2026, 12, 8, 7)),  # 07:00 CET
        (utc(2026, 12, 7, 5, 59), paris(2026, 12, 6, 7), paris(2026, 12, 7, 7)),
        (utc(2026, 12, 6, 23, 30), paris(2026, 12, 6, 7), paris(2026, 12, 7, 7)),  # 00:30 Paris
        (utc(2026, 7, 1, 5, 0), paris(2026, 7, 1, 7), paris(2026, 7, 2, 7)),  # 07:00 CEST
        (utc(2026, 7, 1, 4, 59), paris(2026, 6, 30, 7), paris(2026, 7, 1, 7)),
        # Spring change (Sunday 29 March 2026): 07:00 is 06:00 UTC before, 05:00 UTC after.
        (utc(2026, 3, 29, 5, 30), paris(2026, 3, 29, 7), paris(2026, 3, 30, 7)),
        (utc(2026, 3, 28, 6, 30), paris(2026, 3, 28, 7), paris(2026, 3, 29, 7)),
        # Autumn change (Sunday 25 October 2026): 05:00 UTC before, 06:00 UTC after.
        (utc(2026, 10, 25, 5, 30), paris(2026, 10, 24, 7), paris(2026, 10, 25, 7)),
        (utc(2026, 10, 25, 6, 0), paris(2026, 10, 25, 7), paris(2026, 10, 26, 7)),
    ],
)
def test_daily_slots_are_paris_wall_clock(
    now: datetime, latest: datetime, following: datetime
) -> None:
    assert SEVEN.latest_slot(now) == latest
    assert SEVEN.next_slot(now) == following
    assert latest.astimezone(PARIS).hour == following.astimezone(PARIS).hour == 7


def test_the_spring_change_day_is_23_hours_and_the_autumn_one_25() -> None:
    assert paris(2026, 3, 30, 7) - paris(2026, 3, 29, 7) == timedelta(hours=24)
    assert paris(2026, 3, 29, 7) - paris(2026, 3, 28, 7) == timedelta(hours=23)
    assert paris(2026, 10, 25, 7) - paris(2026, 10, 24, 7) == timedelta(hours=25)
    assert SEVEN.next_slot(paris(2026, 3, 28, 7)) == paris(2026, 3, 29, 7)


def test_a_slot_in_the_skipped_hour_still_happens_once_that_day() -> None:
    night = Daily(2, 30)  # 02:30 does not exist on 29 March 2026
    slot = night.latest_slot(utc(2026, 3, 29, 12))
    assert slot == utc(2026, 3, 29, 1, 30)  # 03:30 CEST, an hour on
    assert night.next_slot(utc(2026, 3, 28, 12)) == slot


@pytest.mark.parametrize(
    ("now", "latest"),
    [
        (paris(2026, 12, 7, 8), paris(2026, 12, 7, 8)),  # Monday 08:00 itself
        (paris(2026, 12, 7, 7, 59), paris(2026, 11, 30, 8)),
        (paris(2026, 12, 13, 23, 59), paris(2026, 12, 7, 8)),  # Sunday night
        (utc(2026, 12, 13, 23, 30), paris(2026, 12, 7, 8)),  # Monday 00:30 Paris, Sunday UTC
        (paris(2026, 3, 30, 9), paris(2026, 3, 30, 8)),  # the Monday after the spring change
    ],
)
def test_weekly_slots(now: datetime, latest: datetime) -> None:
    monday = Weekly(0, 8, 0)
    assert monday.latest_slot(now) == latest
    assert monday.next_slot(now) == paris_week_after(latest)


def paris_week_after(slot: datetime) -> datetime:
    local = slot.astimezone(PARIS)
    return datetime.combine(local.date() + timedelta(days=7), local.time(), PARIS).astimezone(UTC)


def test_a_job_runs_once_per_slot_and_catches_up_once_after_downtime() -> None:
    now = paris(2026, 12, 7, 7, 1)
    assert due_slot(SEVEN, None, now) == paris(2026, 12, 7, 7)  # never ran: due at once
    assert due_slot(SEVEN, paris(2026, 12, 7, 7), now) is None  # ran for this slot
    assert due_slot(SEVEN, paris(2026, 12, 7, 7), paris(2026, 12, 8, 6, 59)) is None
    assert due_slot(SEVEN, paris(2026, 12, 7, 7), paris(2026, 12, 8, 7)) == paris(2026, 12, 8, 7)
    # Down from Monday 08:00 to Thursday 10:00: one run, for Thursday's slot.
    assert due_slot(SEVEN, paris(2026, 12, 7, 7), paris(2026, 12, 10, 10)) == paris(2026, 12, 10, 7)
    assert next_run(SEVEN, paris(2026, 12, 7, 7), now) == paris(2026, 12, 8, 7)
    assert next_run(SEVEN, paris(2026, 12, 5, 7), now) == paris(2026, 12, 7, 7)  # overdue


def test_schedules_say_when_in_french_and_refuse_impossible_times() -> None:
    assert SEVEN.describe() == "tous les jours à 7 h 00 (heure de Paris)"
    assert Weekly(0, 8, 30).describe() == "chaque lundi à 8 h 30 (heure de Paris)"
    with pytest.raises(ValueError, match="time of day"):
        Daily(24, 0)
    with pytest.raises(ValueError, match="weekday"):
        Weekly(7, 8)
