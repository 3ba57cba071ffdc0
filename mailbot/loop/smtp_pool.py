"""SMTP connections kept open between the outbox drains of one thread.

The daemon's outbox sender drains whenever ingestion commits a mail, often a few rows at a
time. Opening a connection for each drain (TCP, greeting, EHLO, and QUIT at the end) cost more
round trips than the mails themselves, so the sender thread keeps one event loop for its whole
life (`SendLoop`) and its connections in a pool (`SmtpPool`):

- a connection goes back to the pool only after a batch that ended well, still connected;
- one taken again is checked first with NOOP, so that a connection the relay closed meanwhile
  is never handed a claimed row (that would count as an interrupted send);
- one idle for more than `KEEP_SECONDS` is closed with QUIT (relays time idle sessions out
  after a few minutes; we leave long before), and all are closed when the thread ends;
- one that has carried `[smtp] batch_size` mails is closed with QUIT instead of kept: a session
  never carries more than a batch did before sessions were kept, so a relay's limit of mails
  per session (Exim's `smtp_accept_max_per_connection`, Exchange's receive connectors) is not
  met mid-drain and mistaken for an outage.

Other drains (the CLI, `run --once`'s last pass) open their own connections as before.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import aiosmtplib

log = logging.getLogger(__name__)

# An idle connection is closed after this long.
KEEP_SECONDS = 10.0
# The NOOP that checks a pooled connection gets this long (the relay answers it at once).
CHECK_SECONDS = 5.0

T = TypeVar("T")


async def _close(client: aiosmtplib.SMTP) -> None:
    """QUIT, or drop the connection when the relay does not answer it."""
    if not client.is_connected:
        return
    try:
        await asyncio.wait_for(client.quit(), CHECK_SECONDS)
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        client.close()


class SmtpPool:
    """Idle connections of one event loop, most recently used first."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS) -> None:
        self.keep_seconds = keep_seconds
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        # Mails sent over each session given back; weak: a session closed and let go (stale,
        # dropped, or not kept) is forgotten with it.
        self._carried: weakref.WeakKeyDictionary[aiosmtplib.SMTP, int] = weakref.WeakKeyDictionary()

    def __len__(self) -> int:
        return len(self._idle)

    def keep(self, client: aiosmtplib.SMTP, mails: int, limit: int) -> bool:
        """Keep `client` for a later batch, now that it carried `mails` more; False (the caller
        closes it) when it is not connected or has carried `limit` mails in all."""
        carried = self._carried.pop(client, 0) + mails
        if not client.is_connected or carried >= limit:
            return False
        self._carried[client] = carried
        self._idle.append((client, time.monotonic()))
        return True

    async def take(self) -> aiosmtplib.SMTP | None:
        """A pooled connection that answered NOOP, or None (then the caller connects)."""
        await self.expire()
        while self._idle:
            client, _ = self._idle.pop()
            try:
                await asyncio.wait_for(client.noop(), CHECK_SECONDS)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as err:
                log.debug("pooled SMTP connection dropped: %s", err)
                client.close()
                continue
            if client.is_connected:
                return client
        return None

    async def expire(self) -> None:
        """Close the connections idle for more than `keep_seconds`."""
        now = time.monotonic()
        stale = [c for c, since in self._idle if now - since > self.keep_seconds]
        self._idle = [(c, since) for c, since in self._idle if now - since <= self.keep_seconds]
        for client in stale:
            await _close(client)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        self._carried.clear()
        for client, _ in idle:
            await _close(client)


class SendLoop:
    """An event loop and a pool of connections that outlive one drain (one thread's)."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS) -> None:
        self._runner = asyncio.Runner()
        self.pool = SmtpPool(keep_seconds)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    def expire(self) -> None:
        if len(self.pool):
            self.run(self.pool.expire())

    def close(self) -> None:
        try:
            if len(self.pool):
                self.run(self.pool.close())
        finally:
            self._runner.close()


_local = threading.local()


@contextmanager
def kept_connections(keep_seconds: float = KEEP_SECONDS) -> Iterator[SendLoop]:
    """Within the block, this thread's drains share one `SendLoop` (`current()`)."""
    loop = SendLoop(keep_seconds)
    _local.loop = loop
    try:
        yield loop
    finally:
        _local.loop = None
        loop.close()


def current() -> SendLoop | None:
    """This thread's `SendLoop`, inside `kept_connections()`; None elsewhere."""
    loop: SendLoop | None = getattr(_local, "loop", None)
    return loop
