"""The workflow log line of CONTRACTS.md, and its JSON form."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from mailbot.wflog import WorkflowLog, line_case

AT = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def test_text_line_has_time_case_event_and_quoted_values(tmp_path: Path) -> None:
    log = WorkflowLog(tmp_path / "w.log")
    line = log.write(
        "Q-2026-000123", "received", {"from": "a@b.fr", "subject": "Une question"}, at=AT
    )
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d  Q-2026-000123  received  "
        r'from=a@b\.fr subject="Une question"',
        line,
    )
    assert (tmp_path / "w.log").read_text(encoding="utf-8") == line + "\n"
    assert line_case(line) == "Q-2026-000123"


def test_line_without_case_uses_dash_and_secrets_are_masked(tmp_path: Path) -> None:
    log = WorkflowLog(tmp_path / "w.log")
    line = log.write(None, "login", {"password": "hunter2hunter2", "to": "x@y.fr"}, at=AT)
    assert "  -  login  " in line
    assert "hunter2" not in line and "password=***" in line


def test_json_format_writes_same_fields(tmp_path: Path) -> None:
    log = WorkflowLog(tmp_path / "w.log", "json")
    log.write("ABO-2026-000001", "accounts_requested", {"people": 2}, at=AT)
    record = json.loads((tmp_path / "w.log").read_text(encoding="utf-8"))
    assert record["case"] == "ABO-2026-000001"
    assert record["event"] == "accounts_requested" and record["people"] == 2
    assert record["time"].startswith("2026-11-28T")


def test_values_with_newlines_cannot_forge_a_line(tmp_path: Path) -> None:
    log = WorkflowLog(tmp_path / "w.log")
    log.write(
        "Q-2026-000001", "received", {"subject": "x\n2026-01-01T00:00:00+00:00  -  forged"}, at=AT
    )
    assert len((tmp_path / "w.log").read_text(encoding="utf-8").splitlines()) == 1


def test_times_are_paris_time_whatever_the_server_zone(tmp_path: Path) -> None:
    # test_server_zone.py runs this module again under TZ=UTC and TZ=Pacific/Auckland.
    text = WorkflowLog(tmp_path / "w.log").write(None, "job_run", {"job": "digest"}, at=AT)
    assert text.startswith("2026-11-28T10:30:00+01:00  -  job_run")
    record = json.loads(WorkflowLog(tmp_path / "j.log", "json").write(None, "x", {}, at=AT))
    assert record["time"] == "2026-11-28T10:30:00+01:00"


def test_a_rotated_or_removed_log_is_written_again_at_its_path(tmp_path: Path) -> None:
    """logrotate renames the file (or an admin removes it): the next line goes to a new file at
    the configured path, and the old one keeps what it had."""
    path = tmp_path / "workflow.log"
    log = WorkflowLog(path)
    log.write("Q-1", "first")
    path.rename(tmp_path / "workflow.log.1")
    log.write("Q-2", "second")
    path.unlink()
    log.write("Q-3", "third")
    other = WorkflowLog(path)  # another writer (the desk) appends to the same file
    other.write("Q-4", "fourth")
    log.write("Q-5", "fifth")
    assert [line_case(x) for x in (tmp_path / "workflow.log.1").read_text().splitlines()] == ["Q-1"]
    assert [line_case(x) for x in path.read_text().splitlines()] == ["Q-3", "Q-4", "Q-5"]


def test_a_line_that_cannot_be_encoded_is_still_written(tmp_path: Path) -> None:
    log = WorkflowLog(tmp_path / "w.log")
    log.write("Q-1", "received", {"subject": "caf\udce9 \ud800"})
    assert "received" in (tmp_path / "w.log").read_text()
