"""Business days with French public holidays, and dates written the French way, on the Paris
calendar whatever the input's zone and the server's (`test_server_zone.py` runs this module
again with TZ=UTC and TZ=Pacific/Auckland)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import pytest

from workflows.calendar import (
    add_business_days,
    french_date,
    french_datetime,
    is_business_day,
    paris_day,
)

ROOT = Path(__file__).resolve().parent.parent
PARIS = ZoneInfo("Europe/Paris")


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 30) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (at(2026, 11, 6), 2, at(2026, 11, 10)),  # Friday + 2: the weekend is skipped
        (at(2026, 11, 10), 2, at(2026, 11, 13)),  # 11 November (Armistice) is skipped
        (at(2026, 11, 10), 5, at(2026, 11, 18)),  # escalation: 12, 13, 16, 17, 18
        (at(2026, 12, 24), 2, at(2026, 12, 29)),  # Christmas (Friday) and the weekend
        (at(2026, 12, 31), 1, at(2027, 1, 4)),  # New Year's Day, then the weekend
        (at(2026, 5, 13), 1, at(2026, 5, 15)),  # Ascension Thursday 14 May 2026
        (at(2026, 11, 7), 1, at(2026, 11, 9)),  # from a Saturday: Monday
        (at(2026, 11, 10), 0, at(2026, 11, 10)),
    ],
)
def test_add_business_days_skips_weekends_and_french_holidays(
    start: datetime, days: int, expected: datetime
) -> None:
    assert add_business_days(start, days) == expected


def test_add_business_days_keeps_the_paris_time_of_day_and_answers_in_paris() -> None:
    start = datetime(2026, 11, 10, 17, 45, 12, tzinfo=timezone(timedelta(hours=1)))
    result = add_business_days(start, 2)
    assert (result.hour, result.minute, result.second) == (17, 45, 12)
    assert result.tzinfo == PARIS and result.date() == date(2026, 11, 13)
    assert add_business_days(start, 0) == start


def utc(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


# Inputs in UTC (the runner's clock), expected Paris wall-clock results.
@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # The cases: 23:30 UTC on Tuesday 10 November is Wednesday 11 (a holiday) in
        # Paris, so + 2 is Friday 13, not Saturday 14.
        (utc(2026, 11, 10, 23, 30), 2, at(2026, 11, 13, 0, 30)),
        # Saturday 7 November 00:30 Paris (Friday 23:30 UTC) + 2: Tuesday 10, not Wednesday 11.
        (utc(2026, 11, 6, 23, 30), 2, at(2026, 11, 10, 0, 30)),
        # Around midnight Paris in winter (UTC+1) and in summer (UTC+2).
        (utc(2026, 11, 6, 22, 59), 1, at(2026, 11, 9, 23, 59)),  # Friday 23:59 Paris
        (utc(2026, 11, 8, 23, 0), 1, at(2026, 11, 10, 0, 0)),  # Monday 00:00 Paris
        (utc(2026, 11, 8, 22, 59), 1, at(2026, 11, 9, 23, 59)),  # still Sunday in Paris
        (utc(2026, 7, 3, 22, 30), 1, at(2026, 7, 6, 0, 30)),  # Saturday 00:30 CEST
        (utc(2026, 7, 3, 21, 59), 1, at(2026, 7, 6, 23, 59)),  # Friday 23:59 CEST
        (utc(2026, 7, 13, 22, 30), 1, at(2026, 7, 15, 0, 30)),  # 14 July at 00:30
        # Friday before Easter Monday and Whit Monday, 2026-2028.
        (utc(2026, 4, 3, 8), 1, at(2026, 4, 7, 10, 0)),
        (utc(2026, 4, 3, 22, 30), 1, at(2026, 4, 7, 0, 30)),  # Saturday 00:30 in Paris
        (utc(2026, 5, 22, 8), 1, at(2026, 5, 26, 10, 0)),
        (utc(2026, 5, 22, 8), 2, at(2026, 5, 27, 10, 0)),
        (utc(2027, 3, 26, 9), 1, at(2027, 3, 30, 10, 0)),  # Easter Monday and the DST change
        (utc(2027, 5, 14, 8), 1, at(2027, 5, 18, 10, 0)),
        (utc(2028, 4, 14, 8), 1, at(2028, 4, 18, 10, 0)),
        (utc(2028, 6, 2, 8), 1, at(2028, 6, 6, 10, 0)),
        # Ascension Thursday, then the bridge Friday is a business day.
        (utc(2026, 5, 13, 8), 2, at(2026, 5, 18, 10, 0)),
        # Spring change (Sunday 29 March 2026, 02:00 CET → 03:00 CEST): 10:00 stays 10:00.
        (utc(2026, 3, 27, 9), 1, at(2026, 3, 30, 10, 0)),
        (utc(2026, 3, 28, 23, 30), 1, at(2026, 3, 30, 0, 30)),  # Sunday 00:30 CET
        # Autumn change (Sunday 25 October 2026, 03:00 CEST → 02:00 CET).
        (utc(2026, 10, 23, 8), 1, at(2026, 10, 26, 10, 0)),
        (utc(2026, 10, 24, 21, 59), 1, at(2026, 10, 26, 23, 59)),  # Saturday 23:59 CEST
        (utc(2026, 10, 24, 22, 30), 1, at(2026, 10, 26, 0, 30)),  # Sunday 00:30 CEST
        (utc(2026, 10, 25, 23, 30), 1, at(2026, 10, 27, 0, 30)),  # Monday 00:30 CET
    ],
)
def test_business_days_are_counted_on_the_paris_calendar(
    start: datetime, days: int, expected: datetime
) -> None:
    result = add_business_days(start, days)
    assert result == expected
    assert result.replace(tzinfo=None) == expected.replace(tzinfo=None)  # Paris wall clock


def test_the_changes_happen_on_sundays_so_a_result_never_falls_in_them() -> None:
    # 02:30 does not exist on Sunday 29 March 2026 and happens twice on Sunday 25 October;
    # business days are never Sundays, so 02:30 on the Friday before is 02:30 on Monday.
    assert add_business_days(utc(2026, 3, 27, 1, 30), 1) == at(2026, 3, 30, 2, 30)
    assert add_business_days(utc(2026, 10, 23, 0, 30), 1) == at(2026, 10, 26, 2, 30)
    # Starting inside the changes (a Sunday in Paris) counts from that Sunday.
    assert add_business_days(utc(2026, 3, 29, 1, 30), 1) == at(2026, 3, 30, 3, 30)
    assert add_business_days(utc(2026, 10, 25, 1, 30), 1) == at(2026, 10, 26, 2, 30)


# Every French public holiday of 2026-2028, written out (the official list; Whit Monday kept).
FRENCH_HOLIDAYS = [
    date(y, m, d)
    for y, days in {
        2026: ((1, 1), (4, 6), (5, 1), (5, 8), (5, 14), (5, 25), (7, 14), (8, 15), (11, 1)),
        2027: ((1, 1), (3, 29), (5, 1), (5, 6), (5, 8), (5, 17), (7, 14), (8, 15), (11, 1)),
        2028: ((1, 1), (4, 17), (5, 1), (5, 8), (5, 25), (6, 5), (7, 14), (8, 15), (11, 1)),
    }.items()
    for m, d in (*days, (11, 11), (12, 25))
]


def test_the_holidays_package_knows_the_same_french_holidays() -> None:
    known = holidays.country_holidays("FR", years=[2026, 2027, 2028])
    assert sorted(known) == sorted(FRENCH_HOLIDAYS)


def _next_business_day(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5 or day in FRENCH_HOLIDAYS:
        day += timedelta(days=1)
    return day


@pytest.mark.parametrize("holiday", FRENCH_HOLIDAYS, ids=str)
def test_every_holiday_is_skipped_from_a_utc_clock(holiday: date) -> None:
    assert not is_business_day(holiday)
    # 23:30 UTC the evening before is 00:30 (or 01:30) on the holiday itself in Paris.
    evening_before = datetime.combine(holiday - timedelta(days=1), datetime.min.time(), UTC)
    start = evening_before.replace(hour=23, minute=30)
    assert paris_day(start) == holiday
    result = add_business_days(start, 1)
    assert result.date() == _next_business_day(holiday)
    # The last business day before the holiday, at 10:00 Paris, + 1: after the holiday.
    before = holiday - timedelta(days=1)
    while not is_business_day(before):
        before -= timedelta(days=1)
    result = add_business_days(datetime.combine(before, datetime.min.time(), PARIS), 1)
    assert result.date() == _next_business_day(before) != holiday


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 11), False),  # Armistice
        (date(2026, 7, 14), False),  # Fête nationale
        (date(2026, 4, 6), False),  # Easter Monday
        (date(2026, 11, 14), False),  # Saturday
        (date(2026, 11, 12), True),
    ],
)
def test_is_business_day(day: date, expected: bool) -> None:
    assert is_business_day(day) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2026, 12, 28), "28 décembre 2026"),
        (datetime(2027, 1, 1, 8, 0, tzinfo=PARIS), "1er janvier 2027"),
        ("2026-08-15T10:00:00+02:00", "15 août 2026"),
        ("2026-02-03", "3 février 2026"),
        (None, ""),
    ],
)
def test_french_date(value: object, expected: str) -> None:
    assert french_date(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected_date", "expected_time"),
    [
        (utc(2026, 12, 27, 23, 30), "28 décembre 2026", "28 décembre 2026 à 0 h 30"),
        ("2026-08-14T22:30:00+00:00", "15 août 2026", "15 août 2026 à 0 h 30"),
        ("2026-08-14T22:30:00", "15 août 2026", "15 août 2026 à 0 h 30"),  # naive: UTC
        (utc(2026, 3, 29, 1, 0), "29 mars 2026", "29 mars 2026 à 3 h 00"),  # just after the change
        (
            datetime(2026, 6, 30, 23, 0, tzinfo=ZoneInfo("Pacific/Auckland")),
            "30 juin 2026",
            "30 juin 2026 à 13 h 00",
        ),
    ],
)
def test_dates_users_see_are_paris_days(
    value: object, expected_date: str, expected_time: str
) -> None:
    assert french_date(value) == expected_date  # type: ignore[arg-type]
    assert french_datetime(value) == expected_time  # type: ignore[arg-type]


def test_french_date_with_weekday_and_time() -> None:
    assert french_date(date(2026, 12, 28), weekday=True) == "lundi 28 décembre 2026"
    assert french_datetime(at(2026, 12, 28, 14, 5)) == "28 décembre 2026 à 14 h 05"


def test_the_calendar_loads_france_only_and_knows_its_holidays() -> None:
    """The daemon keeps one country of the holidays package resident, not all of them, and the
    list is the package's own (read after the whole package in the same process)."""
    script = (
        "import sys\n"
        "from workflows.calendar import _holidays_of\n"
        "ours = {y: sorted(_holidays_of(y)) for y in (2026, 2027, 2028)}\n"
        "others = [m for m in sys.modules if m.startswith('holidays.countries.')]\n"
        "assert others == ['holidays.countries.france'], others\n"
        "import holidays\n"
        "from holidays.countries import Germany\n"
        "for y, days in ours.items():\n"
        "    assert days == sorted(holidays.country_holidays('FR', years=y)), y\n"
        "print(len(ours[2027]))\n"
    )
    done = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "11"
