"""`mailbot cases` shows its dates in Paris time, as the desk does, whatever the server's zone."""

from __future__ import annotations

from datetime import UTC, datetime

from mailbot.desk.cli_cases import _when


def test_dates_are_shown_in_paris_time_winter_and_summer() -> None:
    assert _when(datetime(2026, 12, 7, 0, 30, tzinfo=UTC)) == "2026-12-07 01:30"
    assert _when(datetime(2026, 7, 14, 22, 15, tzinfo=UTC)) == "2026-07-15 00:15"


def test_a_naive_stored_date_is_read_as_utc() -> None:
    assert _when(datetime(2026, 12, 7, 0, 30)) == "2026-12-07 01:30"
    assert _when(None) == "—"
