"""Business days (French public holidays) and dates written the French way.

Reviewer delays count business days: Saturdays, Sundays and the French public holidays of
metropolitan France (`holidays.France`, the national list: Alsace-Moselle's extra days are not
counted) are skipped. Invitation validity counts calendar days and needs nothing from here.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays

_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


@lru_cache(maxsize=64)
def _holidays_of(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("FR", years=year).keys())


def is_business_day(day: date) -> bool:
    """True on a weekday that is not a French public holiday."""
    return day.weekday() < 5 and day not in _holidays_of(day.year)


def add_business_days(start: datetime, days: int) -> datetime:
    """`start` moved forward by `days` business days, keeping its time of day (and zone).

    Friday 10:00 + 2 is Tuesday 10:00; Saturday + 1 is Monday; Tuesday 10 November 2026 + 2 is
    Friday 13 (11 November is a holiday). `days` <= 0 returns `start` unchanged.
    """
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_business_day(current.date()):
            remaining -= 1
    return current


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip())
    if isinstance(value, datetime):
        return value.date()
    return value


def french_date(value: date | datetime | str | None, weekday: bool = False) -> str:
    """« 28 décembre 2026 », « 1er janvier 2027 » (the Jinja filter `date_fr`).

    Accepts a date, a datetime (its own zone's calendar day) or an ISO 8601 string (case data
    is JSON); None gives an empty string. `weekday=True` prefixes the day: « lundi 28 décembre
    2026 ».
    """
    if value is None or value == "":
        return ""
    day = _as_date(value)
    number = "1er" if day.day == 1 else str(day.day)
    text = f"{number} {_MONTHS[day.month - 1]} {day.year}"
    if weekday:
        text = f"{_WEEKDAYS[day.weekday()]} {text}"
    return text


def french_datetime(value: datetime | str | None) -> str:
    """« 28 décembre 2026 à 14 h 05 » (typographic convention of the Imprimerie nationale)."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value.strip()) if isinstance(value, str) else value
    return f"{french_date(moment)} à {moment.hour} h {moment.minute:02d}"
