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
ZONE_PROBE = "import datetime; print(datetime.datetime(2026, 12, 1, 12).astimezone().tzname())"


@pytest.mark.parametrize(
    ("zone", "names"),
    [("UTC", "UTC"), ("Pacific/Auckland", "NZDT,NZST")],
)
def test_calendar_and_jobs_pass_in_any_server_zone(zone: str, names: str) -> None:
    env = {**os.environ, "TZ": zone}
    # A child process given this TZ really runs in that zone (else the run below proves nothing).
    probe = subprocess.run(  # noqa: S603 - the interpreter, a fixed one-line program
        [sys.executable, "-c", ZONE_PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert probe.stdout.strip() in names.split(","), probe.stdout + probe.stderr
    result = subprocess.run(  # noqa: S603 - our own test modules, fixed arguments
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *MODULES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout
