"""`mailbot run` caps glibc's allocation arenas (`mailbot/loop/malloc.py`): the threads share
two arenas instead of one each, so memory one thread frees is reused by the others."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailbot.loop.malloc import limit_arenas

ROOT = Path(__file__).resolve().parent.parent

# Eight threads alive at once, each having allocated; then glibc's own report of its arenas.
SCRIPT = """
import ctypes, sys, threading
sys.path.insert(0, sys.argv[1])
from mailbot.loop.malloc import limit_arenas

print(limit_arenas() if sys.argv[2] == "capped" else "uncapped")
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
barrier = threading.Barrier(9)
kept = []

def work():
    kept.append(libc.malloc(4096))
    barrier.wait()  # all alive together: a thread that ended gives its arena back
    barrier.wait()

threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
barrier.wait()
out = libc.fopen(sys.argv[3].encode(), b"w")
libc.malloc_info(0, out)
libc.fclose(out)
barrier.wait()
for t in threads:
    t.join()
"""


def arenas(tmp_path: Path, mode: str) -> tuple[str, int]:
    report = tmp_path / f"{mode}.xml"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(  # noqa: S603 (our own script)
        [sys.executable, "-c", SCRIPT, str(ROOT), mode, str(report)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return done.stdout.strip(), report.read_text().count("<heap nr=")


def test_the_daemon_threads_share_two_arenas(tmp_path: Path) -> None:
    said, capped = arenas(tmp_path, "capped")
    assert said == "True"
    assert 1 <= capped <= 2
    _, uncapped = arenas(tmp_path, "uncapped")
    assert uncapped > 2  # without the cap, glibc gives the threads arenas of their own


def test_an_operators_malloc_arena_max_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_arenas() is False
