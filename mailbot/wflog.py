"""The workflow log admins tail: one line per event (CONTRACTS.md, "Workflow log line").

`<ISO 8601 time with offset>  <case ref or ->  <event>  key=value …`, values quoted when they
contain spaces; `format = "json"` writes the same fields as JSON lines. Lines are appended with
one `write` each so `tail -f` never sees half a line. Secrets never reach this file: callers
pass no passwords, and values named like secrets are masked anyway. Times are written in Paris
time with their offset, whatever the server's zone.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workflows.calendar import in_paris

_SECRET_KEYS = re.compile(r"pass|secret|token|pwd", re.IGNORECASE)
_NEEDS_QUOTES = re.compile(r'[\s"=]')


def _value(v: Any) -> str:
    if isinstance(v, datetime):
        s = v.isoformat(timespec="seconds")
    elif isinstance(v, list | tuple):
        s = ",".join(str(x) for x in v)
    else:
        s = str(v)
    s = s.replace("\n", " ").replace("\r", " ")
    if s == "" or _NEEDS_QUOTES.search(s):
        s = '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return s


def format_line(at: datetime, case_ref: str | None, event: str, fields: Mapping[str, Any]) -> str:
    parts = [in_paris(at).isoformat(timespec="seconds"), case_ref or "-", event]
    parts += [f"{k}={_value(v)}" for k, v in fields.items()]
    return "  ".join(parts[:3]) + ("  " + " ".join(parts[3:]) if len(parts) > 3 else "")


def _mask(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: ("***" if _SECRET_KEYS.search(k) else v) for k, v in fields.items()}


class WorkflowLog:
    def __init__(self, path: Path | str, fmt: str = "text") -> None:
        self.path = Path(path)
        self.fmt = fmt
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._file_id: tuple[int, int] | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _descriptor(self) -> int:
        """The file kept open for appending; opened again when the path names another file
        (rotated by logrotate, or removed): one stat per line instead of an open and a close."""
        try:
            st = os.stat(self.path)
            current: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            current = None
        if self._fd is not None and current == self._file_id:
            return self._fd
        self.close()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
        st = os.fstat(fd)
        self._fd, self._file_id = fd, (st.st_dev, st.st_ino)
        return fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = self._file_id = None

    def write(
        self,
        case_ref: str | None,
        event: str,
        fields: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> str:
        at = at or datetime.now(UTC)
        clean = _mask(fields or {})
        if self.fmt == "json":
            record = {
                "time": in_paris(at).isoformat(timespec="seconds"),
                "case": case_ref,
                "event": event,
                **{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in clean.items()},
            }
            line = json.dumps(record, ensure_ascii=False, default=str)
        else:
            line = format_line(at, case_ref, event, clean)
        data = (line + "\n").encode("utf-8", "backslashreplace")
        with self._lock:
            fd = self._descriptor()
            while data:  # one write for a whole line (O_APPEND): `tail -f` never sees half
                data = data[os.write(fd, data) :]
        return line


def line_case(line: str) -> str | None:
    line = line.strip()
    if line.startswith("{"):
        try:
            value = json.loads(line).get("case")
        except ValueError:
            return None
        return value if isinstance(value, str) else None
    parts = line.split("  ")
    return parts[1] if len(parts) > 1 else None


def follow(path: Path, case_ref: str | None, from_start: bool, poll: float = 0.5) -> Iterator[str]:
    """Lines of the log as they are written (like `tail -f`), optionally for one case."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=True)
    with path.open("r", encoding="utf-8") as fh:
        if not from_start:
            fh.seek(0, 2)
        while True:
            line = fh.readline()
            if not line:
                time.sleep(poll)
                continue
            if case_ref is None or line_case(line) == case_ref:
                yield line.rstrip("\n")
