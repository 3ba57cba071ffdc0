"""Running a command and measuring it with its children: wall time, CPU (its own and its reaped
children's, from wait4) and peak RSS summed over the process tree (sampled from /proc)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Usage:
    wall: float
    cpu: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _children_of(pid: int) -> list[int] | None:
    """`pid`'s children from /proc/<pid>/task/*/children (None where the kernel lacks it)."""
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for task in tasks:
        try:
            kids.extend(
                int(k) for k in Path(f"/proc/{pid}/task/{task}/children").read_text().split()
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            continue
    return kids


def _cmdline(pid: int) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


def tree_rss(pid: int) -> int:
    """Bytes resident in `pid` and all its descendants. The tree is walked through each
    process's `children` file: reading every process's stat (the fallback) costs the sampler
    1.6 ms per sample, taken from the relay that shares the benchmark's process.

    A child that has not exec'd yet (between the fork and the exec of a new annex worker: its
    command line is still its parent's) shares its parent's pages and is not counted: summing
    it would count the daemon twice (a 113 MB "worker" for a millisecond)."""
    tree: dict[int, list[int]] | None = None
    total = 0
    todo: list[tuple[int, bytes | None]] = [(pid, None)]
    while todo:
        current, parent_cmdline = todo.pop()
        cmdline = _cmdline(current)
        if parent_cmdline is not None and cmdline == parent_cmdline:
            continue
        try:
            resident = int(Path(f"/proc/{current}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        total += resident * PAGE
        kids = _children_of(current)
        if kids is None:
            tree = tree if tree is not None else _children()
            kids = tree.get(current, [])
        todo.extend((kid, cmdline) for kid in kids)
    return total


def run_measured(command: list[str], env: dict[str, str], cwd: Path) -> Usage:
    out_path, err_path = cwd / "measured.out", cwd / "measured.err"
    peak = 0
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=err)  # noqa: S603
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss(proc.pid))
                done.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, rusage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return Usage(
        wall=wall,
        cpu=rusage.ru_utime + rusage.ru_stime,
        peak_rss_mb=peak / 1_048_576,
        returncode=proc.returncode,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )
