"""The machine's pace when a bench runs: the same fixed work timed at the start and at the end
of `make bench`, so that runs made hours apart can be compared.

This machine (two shared cores) has slow phases in which the same code and the same commands
take about twice as long (docs/benchmarks.md, seventh to ninth passes). Absolute figures
(start-up, latency, the annex) are read against these two numbers; ratios to the floor are
measured in the same minutes and need no correction.
- `import`: a fresh interpreter importing SQLAlchemy's ORM (median of 5): what start-up is
  made of (reading and executing many modules).
- `loop`: one thread's CPU time for a fixed pure-Python loop (median of 5).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def _import_seconds() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sqlalchemy.orm"], check=True)
    return time.perf_counter() - start


def _loop_seconds() -> float:
    start = time.thread_time()
    total = 0
    for i in range(5_000_000):
        total += i % 7
    assert total > 0
    return time.thread_time() - start


def pace(label: str) -> None:
    imports = statistics.median(_import_seconds() for _ in range(5))
    loop = statistics.median(_loop_seconds() for _ in range(5))
    print(f"machine pace ({label}): import sqlalchemy.orm {imports:.3f} s, loop {loop:.3f} s CPU")
