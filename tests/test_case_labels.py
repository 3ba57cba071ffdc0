"""Every event a workflow writes to a case's timeline has a French title on the desk and in
`mailbot cases show`: no raw log name such as `requester_note` reaches an admin."""

from __future__ import annotations

import re
from pathlib import Path

from mailbot.desk.case_labels import EVENT_LABELS

ROOT = Path(__file__).resolve().parents[1]
_LOGGED = re.compile(r'LogLine\(\s*"([a-z_]+)"|ignored\(\s*case,\s*\w+,\s*"([a-z_]+)"')


def _logged_events() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "workflows").rglob("*.py"):
        for match in _LOGGED.finditer(path.read_text(encoding="utf-8")):
            names.add(match.group(1) or match.group(2))
    return names


def test_every_workflow_event_has_a_french_title() -> None:
    logged = _logged_events()
    assert {"requester_note", "annex_invalid", "case_reopened"} <= logged  # the scan works
    missing = sorted(logged - EVENT_LABELS.keys())
    assert missing == [], missing


def test_events_named_indirectly_have_a_french_title_too() -> None:
    for name in ("answer_held", "follow_up_third_party", "follow_up_held", "timer_stale"):
        assert name in EVENT_LABELS
