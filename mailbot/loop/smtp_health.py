"""Whether the SMTP relay answers: outages are tracked per relay, not per row.

A refused connection, a timeout or a dropped session starts an outage. While it lasts no row
is claimed and no row's `next_attempt_at` moves: the sender only probes the relay, at a pace
that grows with the outage (exponential backoff from `connect_backoff_base_seconds`, at most
a quarter of the downtime so far, capped at `connect_backoff_max_seconds`, with jitter so that
two instances do not probe in step). The first connection that succeeds ends the outage, and
every due row goes out at once. One line when delivery stops (`smtp_down`), one when it resumes
(`smtp_up`, with the downtime), in the Python log and in the workflow log.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

# Told of `smtp_down` / `smtp_up` with their fields (the daemon writes them to the workflow log).
HealthListener = Callable[[str, Mapping[str, Any]], object]


@dataclass
class Outage:
    since: datetime
    failures: int
    next_probe: datetime
    error: str


class SmtpHealth:
    def __init__(
        self,
        base_seconds: float,
        max_seconds: float,
        *,
        listener: HealthListener | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.base = base_seconds
        self.cap = max_seconds
        self.listener = listener
        self.rng = rng or random.Random()  # jitter; not a secret
        self.outage: Outage | None = None
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self.outage is not None

    def delay(self, failures: int, downtime: timedelta) -> float:
        """Seconds to the next probe after `failures` failed connections in an outage that
        has lasted `downtime`."""
        grown = min(self.base * 2.0 ** min(failures - 1, 30), downtime.total_seconds() / 4)
        return min(self.cap, max(self.base, grown)) * self.rng.uniform(0.75, 1.0)

    def may_connect(self, now: datetime) -> bool:
        """True when the relay is up, or when it is down and a probe is due; the probe is then
        reserved (a concurrent caller waits for the next one)."""
        with self._lock:
            outage = self.outage
            if outage is None:
                return True
            if now < outage.next_probe:
                return False
            outage.next_probe = now + timedelta(
                seconds=self.delay(outage.failures + 1, now - outage.since)
            )
            return True

    def seconds_to_probe(self, now: datetime) -> float:
        with self._lock:
            if self.outage is None:
                return 0.0
            return max(0.0, (self.outage.next_probe - now).total_seconds())

    def failed(self, now: datetime, error: str) -> None:
        """A connection was refused, timed out or dropped."""
        with self._lock:
            outage = self.outage
            if outage is not None:
                outage.failures += 1
                outage.error = error
                wait = self.delay(outage.failures, now - outage.since)
                outage.next_probe = now + timedelta(seconds=wait)
                return
            wait = self.delay(1, timedelta(0))
            self.outage = Outage(now, 1, now + timedelta(seconds=wait), error)
        log.warning(
            "smtp_down: delivery stopped (%s); probing the relay again in %.1f s", error, wait
        )
        self._tell("smtp_down", {"error": error})

    def succeeded(self, now: datetime) -> timedelta | None:
        """A connection succeeded: ends the outage, if any, and returns its downtime."""
        with self._lock:
            outage = self.outage
            if outage is None:
                return None
            self.outage = None
        downtime = now - outage.since
        seconds = round(downtime.total_seconds(), 1)
        log.warning(
            "smtp_up: delivery resumed after %.1f s down (%d failed connections)",
            seconds,
            outage.failures,
        )
        self._tell("smtp_up", {"downtime_seconds": seconds, "failed_connections": outage.failures})
        return downtime

    def _tell(self, event: str, fields: Mapping[str, Any]) -> None:
        if self.listener is None:
            return
        try:
            self.listener(event, fields)
        except OSError:  # the workflow log's disk: the Python log line is already written
            log.exception("cannot write %s to the workflow log", event)
