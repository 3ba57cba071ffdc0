"""Waiting out a database outage: one warning when it starts, one line when it ends, a backoff
of 1, 2, 4 … seconds (at most `[database] retry_max_seconds`), and the admins told once,
directly over SMTP, when it lasts longer than `[database] alert_after_seconds` (the outbox
lives in the database that is down).

Thread-safe: the scheduler's jobs report the faults they meet too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import aiosmtplib

from mailbot.config import Config
from mailbot.loop.faults import describe
from mailbot.loop.smtp_client import smtp_client
from mailbot.mail.compose import WIRE_POLICY, build_message
from workflows.alerts import DatabaseOutage, database_down, database_restored
from workflows.core import Decision, SendMail

log = logging.getLogger(__name__)

PARIS = ZoneInfo("Europe/Paris")


class Outage:
    """The state of the database as the daemon sees it: up, or down since a moment."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.clock = clock
        self.monotonic = monotonic
        self.lock = threading.Lock()
        self.started: float | None = None  # monotonic
        self.since = clock()
        self.error = ""
        self.delay = 0.0
        self.alerted = False
        self.next_alert = 0.0

    @property
    def down(self) -> bool:
        return self.started is not None

    def fault(self, err: BaseException) -> float:
        """Note a fault of the main loop; returns how long to wait before the next try."""
        self.noticed(err)
        with self.lock:
            cap = self.config.database.retry_max_seconds
            self.delay = min(self.delay * 2, cap) if self.delay else min(1.0, cap)
            return self.delay

    def noticed(self, err: BaseException) -> None:
        """Note a fault (the first one of an outage is logged); alert the admins when due."""
        now = self.monotonic()
        with self.lock:
            self.error = describe(err)
            if self.started is None:
                self.started, self.since = now, self.clock()
                self.delay, self.alerted = 0.0, False
                self.next_alert = now + self.config.database.alert_after_seconds
                log.warning(
                    "database unavailable (%s): mail stays in the INBOX, retrying", self.error
                )
            else:
                log.debug("database still unavailable (%s)", self.error)
            due = not self.alerted and now >= self.next_alert
            if due:
                # Claimed before sending (outside the lock): one alert per outage at most.
                self.alerted = True
        if due:
            self._alert_down(now)

    def healthy(self) -> None:
        """A turn went through: the outage, if any, is over."""
        with self.lock:
            if self.started is None:
                return
            downtime = self.monotonic() - self.started
            outage, alerted = self._outage(), self.alerted
            self.started, self.delay = None, 0.0
        log.info("database available again after %.0f s down", downtime)
        if alerted:
            admins = tuple(self.config.admins.addresses)
            send_direct(self.config, database_restored(outage, admins, self._paris_now()))

    # ------------------------------------------------------------------ alerts

    def _outage(self) -> DatabaseOutage:
        since = self.since.astimezone(PARIS)
        return DatabaseOutage(since, self.error, self.config.instance.domain)

    def _paris_now(self) -> datetime:
        return self.clock().astimezone(PARIS)

    def _alert_down(self, now: float) -> None:
        admins = tuple(self.config.admins.addresses)
        decision = database_down(self._outage(), admins, self._paris_now())
        if send_direct(self.config, decision):
            log.error(
                "database down for %.0f s: alert sent to %s", now - (self.started or now), admins
            )
            return
        with self.lock:  # the SMTP server failed too: try again after another period
            self.alerted = False
            self.next_alert = now + self.config.database.alert_after_seconds


def send_direct(config: Config, decision: Decision) -> bool:
    """Send a decision's mails straight to the SMTP server, bypassing the outbox; False when
    the server could not take them (logged)."""
    mails = [effect for effect in decision.effects if isinstance(effect, SendMail)]
    try:
        for mail in mails:
            asyncio.run(_send(config, mail))
    except (aiosmtplib.SMTPException, OSError) as err:
        log.warning("alert to the admins not sent (%s)", err)
        return False
    return True


async def _send(config: Config, mail: SendMail) -> None:
    message = build_message(config, mail, None, now=datetime.now(UTC))
    client = smtp_client(config.smtp, config.smtp_password())
    await client.connect()
    try:
        await client.sendmail(
            config.instance.generic_address, list(mail.to), message.as_bytes(policy=WIRE_POLICY)
        )
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except aiosmtplib.SMTPException:
                client.close()
