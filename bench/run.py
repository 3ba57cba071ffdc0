"""`make bench`: the floor and `mailbot run --once` on the same generated corpus, the ack
latency with IDLE, and a 1,000-row annex in the warm sandbox. Real Dovecot, a real SMTP relay
(aiosmtpd into Dovecot's LMTP), SQLite. Results go on stdout; docs/benchmarks.md records them.

    .venv/bin/python bench/run.py [--sizes 200,1000,8000] [--repeat 3] [--latency-seconds 60]
                                  [--annex-workers 1] [--skip-drain] [--skip-startup]
                                  [--skip-annex] [--skip-latency]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from imapclient import IMAPClient
from sqlmodel import Session, col, func, select

from storage.models import OutboxMail

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]

import corpus  # noqa: E402
from floor import run_floor  # noqa: E402
from harness import make_bot  # noqa: E402
from mailservers import Dovecot, LmtpRelaySMTP, MailEnv  # noqa: E402
from measure import Usage, run_measured  # noqa: E402
from pace import pace  # noqa: E402

ACKS = ("question_ack", "subscription_ack")


@contextmanager
def mail_servers() -> Iterator[MailEnv]:
    """A fresh Dovecot and relay: every run starts from empty mailboxes."""
    dovecot = Dovecot()
    dovecot.start()
    relay = LmtpRelaySMTP(dovecot)
    try:
        relay.start()
        yield MailEnv.create(dovecot, relay)
    finally:
        relay.stop()
        dovecot.cleanup()


def bench_overrides(annex_workers: int) -> dict[str, object]:
    """The bench config: caps raised so that nothing is dropped; `annex_workers` < 0 leaves
    the setting out (to measure a version of mailbot that predates it)."""
    overrides: dict[str, object] = {
        "limits.auto_replies_per_address_per_day": 1_000_000,
        "limits.auto_replies_ceiling_per_address_per_day": 1_000_000,
        "limits.annex_max_rows": 1000,
    }
    if annex_workers >= 0:  # settings that an older mailbot does not know
        overrides["limits.annex_workers"] = annex_workers
        overrides["limits.auto_replies_ceiling_per_address_per_day"] = 1_000_000
        overrides["limits.auto_replies_per_case_per_day"] = 1_000_000
    return overrides


def append_all(env: MailEnv, mails: list[bytes]) -> None:
    client = IMAPClient("127.0.0.1", port=env.dovecot.imap_port, ssl=False)
    client.login(env.bot.address, env.bot.password)
    for raw in mails:
        client.append("INBOX", raw)
    client.logout()


def one_floor(count: int) -> tuple[float, int]:
    with mail_servers() as env:
        append_all(env, corpus.build(env, count).mails)
        fetched, sent, seconds = run_floor(
            "127.0.0.1",
            env.dovecot.imap_port,
            env.smtp.port,
            env.bot.address,
            env.bot.password,
            env.reviewers["accueil"].address,
        )
        assert fetched == count, (fetched, count)
        return seconds, sent


def one_mailbot(count: int, annex_workers: int) -> tuple[Usage, int, int]:
    with mail_servers() as env:
        built = corpus.build(env, count)
        append_all(env, built.mails)
        workdir = Path(tempfile.mkdtemp(prefix="mailbot-bench-"))
        url = f"sqlite:///{workdir}/bench.db"
        bot = make_bot(env, url, workdir, **bench_overrides(annex_workers))
        command = [
            sys.executable,
            "-m",
            "mailbot",
            "run",
            "--once",
            "--config",
            str(bot.config_path),
        ]
        usage = run_measured(command, bot.subprocess_env(), workdir)
        assert usage.returncode == 0, usage.stderr[-3000:]
        with Session(bot.engine) as session:
            acks = session.exec(
                select(func.count())
                .select_from(OutboxMail)
                .where(col(OutboxMail.template).in_(ACKS), OutboxMail.state == "sent")
            ).one()
            sent = session.exec(
                select(func.count()).select_from(OutboxMail).where(OutboxMail.state == "sent")
            ).one()
        bot.engine.dispose()
        assert acks == built.answered, f"{acks} acknowledgements sent, {built.answered} expected"
        return usage, int(acks), int(sent)


def drain(sizes: list[int], repeat: int, annex_workers: int) -> None:
    print(
        f"## Drain (median of {repeat}, floor and mailbot alternating; annex_workers = {annex_workers})"
    )
    print("| N | floor s | mailbot s | mails/s | × floor | CPU s | peak RSS MB | acks | sent |")
    print("|---|---|---|---|---|---|---|---|---|")
    for count in sizes:
        # Floor and mailbot alternate: the machine's speed drifts from minute to minute, and a
        # ratio of runs taken side by side is steadier than one of runs minutes apart.
        floors, runs = [], []
        for _ in range(repeat):
            floors.append(one_floor(count))
            runs.append(one_mailbot(count, annex_workers))
        floor_s = statistics.median(s for s, _ in floors)
        wall = statistics.median(u.wall for u, _, _ in runs)
        cpu = statistics.median(u.cpu for u, _, _ in runs)
        rss = max(u.peak_rss_mb for u, _, _ in runs)
        _, acks, sent = runs[0]
        print(
            f"| {count} | {floor_s:.2f} | {wall:.2f} | {count / wall:.1f} | "
            f"{wall / floor_s:.2f} | {cpu:.1f} | {rss:.0f} | {acks} | {sent} "
            f"(floor {floors[0][1]}) |",
            flush=True,
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="200,1000,8000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--annex-workers", type=int, default=1)
    parser.add_argument("--latency-seconds", type=float, default=60.0)
    parser.add_argument("--skip-drain", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-annex", action="store_true")
    parser.add_argument("--skip-startup", action="store_true")
    args = parser.parse_args(argv)
    pace("start")
    if not args.skip_drain:
        drain([int(n) for n in args.sizes.split(",")], args.repeat, args.annex_workers)
    if not args.skip_startup:
        from startup import startup  # noqa: PLC0415 - only when asked

        with mail_servers() as env:
            workdir = Path(tempfile.mkdtemp(prefix="mailbot-startup-"))
            bot = make_bot(env, f"sqlite:///{workdir}/bench.db", workdir)
            startup(bot.config_path, bot.subprocess_env())
            bot.engine.dispose()
    if not args.skip_annex:
        from annex_speed import annex_speed  # noqa: PLC0415 - only when asked

        annex_speed()
    if not args.skip_latency:
        from latency import latency  # noqa: PLC0415 - only when asked

        with mail_servers() as env:
            latency(env, args.latency_seconds, bench_overrides(args.annex_workers))
    pace("end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
