"""Throughput of the mail loop on real servers: N questions appended to a Dovecot INBOX, then
one `run --once` (journal, parse, classify, decide, MOVE) and the delivery of the
acknowledgements and notifications over SMTP (relay into Dovecot over LMTP).

    .venv/bin/python bench/bench_loop.py [--messages 200] [--database sqlite|postgresql]

Results are written down in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from harness import compose, make_bot  # noqa: E402
from mailservers import Dovecot, LmtpRelaySMTP, MailEnv  # noqa: E402
from pgutil import postgres_database  # noqa: E402

QUESTIONS = [
    "Quand le schéma des flux entre la CCSP et les collectivités sera-t-il publié ?",
    "Dans le cycle complet, qui envoie l'avis de paiement du FPS ?",
    "Quel décret fixe les modalités du recours administratif préalable obligatoire ?",
    "Bonjour, une question générale sur le portail.",
]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        dovecot = Dovecot()
        dovecot.start()
        stack.callback(dovecot.cleanup)
        relay = LmtpRelaySMTP(dovecot)
        relay.start()
        stack.callback(relay.stop)
        env = MailEnv.create(dovecot, relay)
        workdir = Path(tempfile.mkdtemp(prefix="mailbot-bench-"))
        if args.database == "sqlite":
            url = f"sqlite:///{workdir}/bench.db"
        else:
            url = stack.enter_context(postgres_database())
        bot = make_bot(
            env,
            url,
            workdir,
            **{
                "limits.auto_replies_per_address_per_day": 100000,
                "limits.auto_replies_ceiling_per_address_per_day": 100001,
            },
        )
        stack.callback(bot.engine.dispose)
        alice = env.requesters[0]
        start = time.perf_counter()
        for i in range(args.messages):
            msg = compose(alice.address, env.bot.address, f"Question {i}", QUESTIONS[i % 4])
            env.append(env.bot, msg.as_bytes())
        appended = time.perf_counter() - start
        t0 = time.perf_counter()
        stats = bot.run_once()
        elapsed = time.perf_counter() - t0
        sent = stats["sent"]
        print(f"database: {args.database}; messages: {args.messages}")
        print(f"append to Dovecot: {args.messages / appended:.0f} msg/s")
        print(
            f"run --once: {elapsed:.2f} s for {stats['messages']} messages and {sent} mails sent "
            f"({stats['messages'] / elapsed:.1f} messages/s, {elapsed / stats['messages'] * 1000:.1f} ms each)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
