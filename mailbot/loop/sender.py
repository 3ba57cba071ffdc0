"""The outbox's own thread while the daemon runs: it drains the outbox when something is due (a
retry, a lease that ran out, a probe of a relay that was down) without waiting for the mailbox
loop, whose IDLE may last 30 s. The mailbox loop still drains right after each decision, the
scheduler's 30 s outbox job stays as a backstop, and `wake()` brings the sender forward; two
drains of one process never overlap (the second returns at once). The thread keeps one event
loop and its SMTP connections between its drains (`loop/smtp_pool.py`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from mailbot.loop.smtp_pool import kept_connections

log = logging.getLogger(__name__)

# Longest sleep between two looks at the outbox (a mail written by another process, the
# portal's for instance, is sent within this delay).
IDLE_SECONDS = 5.0
# While the relay is down, how often the sender looks whether a probe is due.
DOWN_TICK_SECONDS = 1.0
# After an unexpected error (the database away), before trying again.
ERROR_PAUSE_SECONDS = 5.0


class OutboxSender:
    def __init__(
        self,
        drain: Callable[[], object],
        seconds_to_next: Callable[[], float],
        stop: threading.Event,
    ) -> None:
        self.drain = drain
        self.seconds_to_next = seconds_to_next
        self.stop = stop
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._run, name="outbox-sender", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def join(self, timeout: float = 60.0) -> None:
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        # One event loop for the thread's life, and its SMTP connections kept between drains.
        with kept_connections() as kept:
            while not self.stop.is_set():
                try:
                    self.drain()
                    delay = self.seconds_to_next()
                    kept.expire()  # QUIT the connections idle for too long
                except Exception:  # a database or relay fault must not end sending for good
                    log.exception("outbox sender: drain failed; trying again")
                    delay = ERROR_PAUSE_SECONDS
                if self.stop.is_set():
                    break
                self._wake.wait(max(0.05, delay))
                self._wake.clear()
