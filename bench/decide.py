"""The main thread's cost per mail, alone: the bench corpus journaled, then each mail read,
classified, decided and committed (`Ingest.process`) in this process, one after the other,
on SQLite. No IMAP, no sending, no annex prefetch: the CPU time of this thread
(`time.thread_time`) is what `run --once` spends on its main thread per mail, without the
relay and Dovecot competing for the cores, so two versions of the code compare within a few
per cent where the drain's wall time drifts by ±15 %.

    .venv/bin/python bench/decide.py [--count 1000] [--repeat 3]

An older version of the code is measured with its tree first on the path:
`PYTHONPATH=/tmp/old .venv/bin/python bench/decide.py`. The annexes are read by the annex
worker, as in the daemon; its time is not counted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]

import corpus  # noqa: E402
from harness import make_bot  # noqa: E402
from run import bench_overrides, mail_servers  # noqa: E402


def one_run(count: int) -> tuple[float, float]:
    """(ms of this thread's CPU per mail, wall s) for deciding `count` journaled mails."""
    with mail_servers() as env:
        mails = corpus.build(env, count).mails
        workdir = Path(tempfile.mkdtemp(prefix="mailbot-decide-"))
        bot = make_bot(env, f"sqlite:///{workdir}/bench.db", workdir, **bench_overrides(1))
        ingest = bot.ingest
        journaled = []
        for start in range(0, len(mails), 8):  # as the drain does: 8 per transaction
            group = [(raw, 1, start + i + 1) for i, raw in enumerate(mails[start : start + 8])]
            journaled += [journal_id for journal_id, _ in ingest.journal_many(group)]
        ingest.process(journaled[0])  # the first mail loads templates and the triage model
        cpu, wall = time.thread_time(), time.perf_counter()
        for journal_id in journaled[1:]:
            ingest.process(journal_id)
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        bot.engine.dispose()
        return cpu * 1000 / (len(journaled) - 1), wall


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    runs = [one_run(args.count) for _ in range(args.repeat)]
    per_mail = statistics.median(ms for ms, _ in runs)
    print(
        f"decide {args.count} mails: {per_mail:.2f} ms of CPU per mail (median of "
        f"{args.repeat}: {', '.join(f'{ms:.2f}' for ms, _ in runs)}), "
        f"wall {statistics.median(w for _, w in runs):.2f} s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
