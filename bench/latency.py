"""Ack latency with IDLE: `mailbot run` (the real daemon) while questions arrive through the
SMTP relay at 5 mails/s; the time from each submission to its acknowledgement arriving in the
asker's mailbox (watched by polling a second IMAP connection every 20 ms)."""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from daemons import Daemon
from harness import compose, make_bot
from imapclient import IMAPClient
from mailservers import MailEnv

RATE = 5.0  # mails per second
POLL = 0.02


def _watch(env: MailEnv, arrived: dict[str, float], stop: threading.Event) -> None:
    asker = env.requesters[0]
    client = IMAPClient("127.0.0.1", port=env.dovecot.imap_port, ssl=False)
    client.login(asker.address, asker.password)
    client.select_folder("INBOX")
    seen: set[int] = set()
    while not stop.is_set():
        client.noop()
        new = [uid for uid in client.search(["ALL"]) if uid not in seen]
        if new:
            now = time.perf_counter()
            for uid, data in client.fetch(new, ["BODY.PEEK[HEADER.FIELDS (IN-REPLY-TO)]"]).items():
                seen.add(uid)
                header = data[b"BODY[HEADER.FIELDS (IN-REPLY-TO)]"].decode(errors="replace")
                reply_to = header.partition(":")[2].strip()
                if reply_to:
                    arrived.setdefault(reply_to, now)
        stop.wait(POLL)
    client.logout()


def latency(env: MailEnv, seconds: float, overrides: dict[str, object]) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-latency-"))
    bot = make_bot(env, f"sqlite:///{workdir}/bench.db", workdir, **overrides)
    started = time.perf_counter()
    daemon = Daemon(bot, "latency")
    submitted: dict[str, float] = {}
    arrived: dict[str, float] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(env, arrived, stop), daemon=True)
    try:
        daemon.wait_log("connected to", poll=0.005)  # to 5 ms, not the tests' 50 ms
        ready = time.perf_counter() - started
        watcher.start()
        asker = env.requesters[0].address
        count = int(seconds * RATE)
        t0 = time.perf_counter()
        for i in range(count):
            time.sleep(max(0.0, t0 + i / RATE - time.perf_counter()))
            msg = compose(asker, env.bot.address, f"Question de latence {i}", "Qui envoie le FPS ?")
            del msg["Message-ID"]
            msg["Message-ID"] = mid = f"<latency-{i}@{env.domain}>"
            submitted[mid] = time.perf_counter()
            env.send(asker, [env.bot.address], msg.as_bytes())
        deadline = time.monotonic() + 60
        while len(arrived.keys() & submitted.keys()) < count and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        daemon.stop()
        bot.engine.dispose()
    delays = sorted(arrived[m] - submitted[m] for m in submitted if m in arrived)
    print(f"## Ack latency with IDLE ({RATE:g} mails/s for {seconds:g} s)")
    print(f"daemon ready to fetch (process start to IMAP connected): {ready:.2f} s")
    if len(delays) < 2:
        print(f"only {len(delays)} of {len(submitted)} acknowledgements arrived", file=sys.stderr)
        return
    cuts = statistics.quantiles(delays, n=100, method="inclusive")
    print(
        f"acknowledged {len(delays)}/{len(submitted)}: p50 {statistics.median(delays):.3f} s, "
        f"p99 {cuts[98]:.3f} s, max {delays[-1]:.3f} s",
        flush=True,
    )
