"""Business days with French public holidays, and dates written the French way."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from workflows.calendar import add_business_days, french_date, french_datetime, is_business_day

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


def test_add_business_days_keeps_time_of_day_and_zone() -> None:
    start = datetime(2026, 11, 10, 17, 45, 12, tzinfo=timezone(timedelta(hours=1)))
    result = add_business_days(start, 2)
    assert (result.hour, result.minute, result.second) == (17, 45, 12)
    assert result.tzinfo == start.tzinfo


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


def test_french_date_with_weekday_and_time() -> None:
    assert french_date(date(2026, 12, 28), weekday=True) == "lundi 28 décembre 2026"
    assert french_datetime(at(2026, 12, 28, 14, 5)) == "28 décembre 2026 à 14 h 05"
