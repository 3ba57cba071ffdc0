"""No date a user sees depends on the server's time zone: the calendar, schedule, job runner
and workflow-log tests run again in a child pytest under TZ=UTC and TZ=Pacific/Auckland (where
the local day is rarely Paris's), and must pass unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = [
    "tests/test_calendar.py",
    "tests/test_schedule.py",
    "tests/test_jobs.py",
    "tests/test_wflog.py",
    "tests/test_stats.py",
]


@pytest.mark.parametrize(
    ("zone", "names"),
    [("UTC", "UTC"), ("Pacific/Auckland", "NZDT,NZST")],
)
def test_calendar_and_jobs_pass_in_any_server_zone(zone: str, names: str) -> None:
    env = {**os.environ, "TZ": zone, "MAILBOT_TEST_EXPECT_TZNAMES": names}
    result = subprocess.run(  # noqa: S603 - our own test modules, fixed arguments
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *MODULES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    # The child really ran in that zone: the check that reads the zone ran and passed.
    assert "run directly, not under test_server_zone.py" not in result.stdout
    assert " passed" in result.stdout and " failed" not in result.stdout
