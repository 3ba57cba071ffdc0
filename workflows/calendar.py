"""Business days (French public holidays) and dates written the French way, on one clock.

Every calendar computation a user sees is made in Europe/Paris, whatever the server's zone and
whatever zone the datetime given is in: the database and the runner's clock are UTC, and a mail
received at 00:30 on Saturday in Paris (23:30 UTC on Friday) was received on Saturday. Naive
datetimes are taken as UTC (the database's convention).

Reviewer delays count business days: Saturdays, Sundays and the French public holidays of
metropolitan France (`holidays.France`, the national list: Alsace-Moselle's extra days are not
counted) are skipped. Invitation validity counts calendar days and needs nothing from here.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from holidays.holiday_base import HolidayBase

PARIS = ZoneInfo("Europe/Paris")

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


@lru_cache(maxsize=1)
def _france() -> type[HolidayBase]:
    """`holidays.countries.france.France`, without the 250 other countries: the package
    `holidays.countries` imports every country in its `__init__` (300 modules, 8 MB resident
    in the daemon, docs/benchmarks.md). Its directory is registered as a bare package for
    the time of this one import; a later `import holidays.countries` still runs the real one."""
    if "holidays.countries" in sys.modules:
        from holidays.countries.france import France  # noqa: PLC0415 - already loaded

        return France
    spec = importlib.util.find_spec("holidays.countries")
    assert spec is not None and spec.submodule_search_locations is not None
    bare = types.ModuleType("holidays.countries")
    bare.__path__ = list(spec.submodule_search_locations)
    sys.modules["holidays.countries"] = bare
    try:
        from holidays.countries.france import France  # noqa: PLC0415 - under the bare package
    finally:
        del sys.modules["holidays.countries"]
    return France


@lru_cache(maxsize=64)
def _holidays_of(year: int) -> frozenset[date]:
    return frozenset(_france()(years=year).keys())


def is_business_day(day: date) -> bool:
    """True on a weekday that is not a French public holiday."""
    return day.weekday() < 5 and day not in _holidays_of(day.year)


def in_paris(moment: datetime) -> datetime:
    """`moment` as Europe/Paris wall-clock time (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(PARIS)


def paris_day(moment: datetime) -> date:
    """The calendar day in Paris at `moment`."""
    return in_paris(moment).date()


def at_paris_time(day: date, hour: int, minute: int = 0) -> datetime:
    """`day` at `hour:minute` Paris wall-clock time, as an aware UTC datetime.

    A time that does not exist (the spring change skips 02:00-03:00) is the moment an hour
    later; an ambiguous one (the autumn change repeats 02:00-03:00) is its first occurrence.
    """
    local = datetime.combine(day, time(hour, minute), tzinfo=PARIS)
    return local.astimezone(UTC)


def add_business_days(start: datetime, days: int) -> datetime:
    """`start` moved forward by `days` business days, counted on the Paris calendar, at the
    same Paris wall-clock time; returned in Europe/Paris.

    Friday 10:00 + 2 is Tuesday 10:00; Saturday + 1 is Monday; Tuesday 10 November 2026 + 2 is
    Friday 13 (11 November is a holiday). 23:30 UTC on Tuesday 10 November is 00:30 on
    Wednesday 11 (a holiday) in Paris: + 2 is Friday 13 at 00:30 Paris. Across a daylight-saving change the
    wall-clock time is kept (the interval is then 23 or 25 hours longer or shorter than whole
    days; the changes happen on Sundays, which are never a result). `days` <= 0 returns `start`
    unchanged (in Paris).
    """
    local = in_paris(start)
    day = local.date()
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            remaining -= 1
    wall = datetime.combine(day, local.time(), tzinfo=PARIS)
    return wall.astimezone(UTC).astimezone(PARIS)  # normalised: a skipped hour moves on


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10:  # a bare ISO date: a calendar day already
            return date.fromisoformat(text)
        value = datetime.fromisoformat(text)
    if isinstance(value, datetime):
        return paris_day(value)
    return value


def french_date(value: date | datetime | str | None, weekday: bool = False) -> str:
    """« 28 décembre 2026 », « 1er janvier 2027 » (the Jinja filter `date_fr`).

    Accepts a date, a datetime (its calendar day in Paris; naive is UTC) or an ISO 8601 string
    (case data is JSON); None gives an empty string. `weekday=True` prefixes the day: « lundi 28 décembre
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
    """« 28 décembre 2026 à 14 h 05 » (typographic convention of the Imprimerie nationale),
    Paris time."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value.strip()) if isinstance(value, str) else value
    moment = in_paris(moment)
    return f"{french_date(moment)} à {moment.hour} h {moment.minute:02d}"
