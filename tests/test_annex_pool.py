"""The warm annex sandbox: workers are reused, replaced after N jobs, a crash, a timeout or a
memory breach, never parse in the caller's process, and die with their parent (kill -9).

Each test drives a pool of its own (`AnnexPool()`), through real worker processes. The timeout
marks are hang guards only; nothing asserts a duration.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mailbot.annex.pool import AnnexPool
from mailbot.annex.reader import AnnexLimits
from workflows.annex.rules import AnnexError

ROOT = Path(__file__).resolve().parent.parent


def _builders() -> ModuleType:
    path = Path(__file__).parent / "fixtures" / "annex" / "make_fixtures.py"
    spec = importlib.util.spec_from_file_location("annex_make_fixtures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mf = _builders()
LIMITS = replace(AnnexLimits.from_config(), workers=1, worker_max_jobs=3)
TABLE = mf.table_xlsx()


def request(limits: AnnexLimits, fault: str | None = None) -> dict[str, Any]:
    return {"format": "xlsx", "filename": "annexe.xlsx", "limits": asdict(limits), "fault": fault}


def alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_until(predicate: Any, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def idle_pid(pool: AnnexPool) -> int:
    assert wait_until(lambda: len(pool.pids()) == 1), "no idle worker"
    return pool.pids()[0]


@pytest.fixture
def pool() -> Iterator[AnnexPool]:
    annex_pool = AnnexPool()
    yield annex_pool
    annex_pool.close()


def good_job(pool: AnnexPool, limits: AnnexLimits = LIMITS) -> None:
    result = pool.run(request(limits), TABLE, limits)
    assert result["error"] is None and len(result["rows"]) == 3


@pytest.mark.timeout(120)
def test_a_worker_serves_several_jobs_then_is_replaced_after_n(pool: AnnexPool) -> None:
    pool.warm(LIMITS)
    first = idle_pid(pool)
    good_job(pool)
    good_job(pool)
    assert pool.pids() == [first]  # the same warm worker, twice
    good_job(pool)  # its third job: worker_max_jobs reached
    assert wait_until(lambda: not alive(first))
    second = idle_pid(pool)
    assert second != first
    good_job(pool)
    assert pool.pids() == [second]


@pytest.mark.timeout(120)
def test_a_crash_kills_only_the_worker_which_is_replaced(pool: AnnexPool) -> None:
    good_job(pool)
    first = idle_pid(pool)
    with pytest.raises(AnnexError) as crash:
        pool.run(request(LIMITS, "abort"), TABLE, LIMITS)
    assert crash.value.english == "child exited with -6"
    assert "est illisible : sa lecture a échoué" in crash.value.french
    assert not alive(first)
    second = idle_pid(pool)
    assert second != first
    good_job(pool)


@pytest.mark.timeout(120)
def test_a_memory_breach_answers_in_french_and_recycles_the_worker(pool: AnnexPool) -> None:
    limits = replace(LIMITS, memory_mb=512)
    good_job(pool, limits)
    first = idle_pid(pool)
    result = pool.run(request(limits, "memory"), TABLE, limits)
    assert "demande trop de mémoire pour être lu (plus de 512 Mo)" in result["error"]
    assert wait_until(lambda: not alive(first))
    assert idle_pid(pool) != first
    good_job(pool, limits)  # the limit was the job's: the next one reads normally


@pytest.mark.timeout(120)
def test_a_hanging_job_is_killed_at_the_deadline_and_replaced(pool: AnnexPool) -> None:
    limits = replace(LIMITS, timeout_seconds=1)
    good_job(pool, limits)
    first = idle_pid(pool)
    with pytest.raises(AnnexError) as hang:
        pool.run(request(limits, "hang"), TABLE, limits)
    assert "n'a pas pu être lu dans le temps imparti (1 s)" in hang.value.french
    assert not alive(first)
    assert idle_pid(pool) != first
    good_job(pool, limits)


@pytest.mark.timeout(120)
def test_a_worker_killed_while_idle_is_not_blamed_on_the_next_file(pool: AnnexPool) -> None:
    good_job(pool)
    first = idle_pid(pool)
    os.kill(first, signal.SIGKILL)
    assert wait_until(lambda: not alive(first))
    good_job(pool)
    assert idle_pid(pool) != first


@pytest.mark.timeout(120)
def test_zero_workers_means_a_fresh_child_per_job(pool: AnnexPool) -> None:
    limits = replace(LIMITS, workers=0)
    good_job(pool, limits)
    assert pool.pids() == []


PARENT = """
import sys, threading, time
from dataclasses import asdict, replace
from mailbot.annex.pool import annex_pool
from mailbot.annex.reader import AnnexLimits, parse_annex_bytes
limits = replace(AnnexLimits.from_config(), workers=2, allow_test_domains=True)
data = open(sys.argv[1], "rb").read()
result = parse_annex_bytes(data, "annexe.xlsx", limits)
assert result["error"] is None, result
# The invariant: the spreadsheet was read by a worker, not here.
assert "openpyxl" not in sys.modules and "python_calamine" not in sys.modules
idle = annex_pool().pids()
request = {"format": "xlsx", "filename": "a.xlsx", "limits": asdict(limits), "fault": "hang"}
threading.Thread(target=annex_pool().run, args=(request, data, limits), daemon=True).start()
while annex_pool().pids():
    time.sleep(0.05)  # until the hanging job has taken the warm worker
annex_pool().warm(limits)
while not annex_pool().pids():
    time.sleep(0.05)  # a second worker, idle
print(idle[0], annex_pool().pids()[0], flush=True)
time.sleep(600)
"""


@pytest.mark.timeout(120)
def test_workers_idle_or_busy_die_with_a_parent_killed_by_sigkill(tmp_path: Path) -> None:
    annex = tmp_path / "annexe.xlsx"
    annex.write_bytes(TABLE)
    parent = subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-c", PARENT, str(annex)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert parent.stdout is not None
        busy, idle = (int(pid) for pid in parent.stdout.readline().split())
        assert alive(busy) and alive(idle) and busy != idle
    finally:
        parent.kill()
        parent.wait()
    assert wait_until(lambda: not alive(busy) and not alive(idle), 10), "orphan annex worker"


@pytest.mark.timeout(120)
def test_a_worker_left_holding_much_memory_is_replaced_after_a_good_job(pool: AnnexPool) -> None:
    good_job(pool)
    first = idle_pid(pool)
    result = pool.run(request(LIMITS, "bloat"), TABLE, LIMITS)  # keeps 150 MB after the job
    assert result["error"] is None and len(result["rows"]) == 3  # the answer is still good
    assert wait_until(lambda: not alive(first))
    assert idle_pid(pool) != first


def _cells(workbook: bytes) -> list[list[object]]:
    import io  # noqa: PLC0415 - this test only

    from openpyxl import load_workbook  # noqa: PLC0415 - this test only

    sheet = load_workbook(io.BytesIO(workbook), read_only=True).active
    assert sheet is not None
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_the_worker_writes_the_reviewers_copy_when_asked() -> None:
    """The values-only workbook comes from the worker (the daemon needs no openpyxl for it),
    holds what the daemon would write from the same rows, and stays out of the JSON object."""
    from mailbot.annex.reader import parse_annex_bytes  # noqa: PLC0415 - this test only
    from mailbot.annex.safecopy import values_only_xlsx  # noqa: PLC0415 - this test only

    people = [list(p) for p in mf.PEOPLE]
    people[0][7] = "@SOMME(A1)"  # formula-like text: escaped in the copy
    data = mf.table_xlsx(people=people)
    result = parse_annex_bytes(data, "annexe.xlsx", LIMITS, values_copy=True)
    assert len(result["rows"]) == 3 and "values_copy" not in result
    assert result.values_copy is not None
    cells = _cells(result.values_copy)
    assert cells == _cells(values_only_xlsx(result["rows"])) and len(cells) == 4
    assert "'@SOMME(A1)" in cells[1]
    plain = parse_annex_bytes(data, "annexe.xlsx", LIMITS)
    assert plain.values_copy is None and plain == result
    empty = parse_annex_bytes(b"%PDF-1.4\n", "annexe.xlsx", LIMITS, values_copy=True)
    assert empty.values_copy is None and empty["error"]


def test_the_blank_annex_is_written_by_a_worker_and_the_daemon_never_loads_openpyxl() -> None:
    """Spreadsheets are read and written in the workers: the daemon's blank annex and values
    copies come from them, so openpyxl (7 MB) is never resident in the daemon."""
    script = (
        "import sys\n"
        "import mailbot.loop.daemon\n"
        "from mailbot.annex.reader import AnnexLimits, parse_annex_bytes\n"
        "from mailbot.loop.context import blank_annex\n"
        "limits = AnnexLimits.from_config()\n"
        "blank = blank_annex(limits)\n"
        "result = parse_annex_bytes(sys.stdin.buffer.read(), 'annexe.xlsx', limits, values_copy=True)\n"
        "assert result.values_copy and len(result['rows']) == 3, result\n"
        "assert not [m for m in sys.modules if m.startswith('openpyxl')]\n"
        "sys.stdout.buffer.write(blank)\n"
    )
    done = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", script], input=TABLE, capture_output=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    from mailbot.annex.template import build_template  # noqa: PLC0415 - this test only

    assert _cells(done.stdout) == _cells(build_template())
    assert done.stdout[:2] == b"PK"
