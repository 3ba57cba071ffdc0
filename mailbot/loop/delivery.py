"""Delivering the outbox over SMTP (aiosmtplib): at least once, with a stable Message-ID.

A batch of due rows goes over up to LANES connections at once, its chunks of CLAIM_CHUNK rows
dealt between them. Rows are claimed `sending` a chunk at a time, with a lease
(`loop/sending.py`), committed before they are handed to the server; the mail's bytes, and so
its Message-ID, were fixed when it was written to the outbox. A send interrupted before the
server answered (the process killed, the connection lost, a timeout) is sent again with the
same bytes (invariant 2: a lost acknowledgement is worse than a double one, and clients thread
and de-duplicate by Message-ID). A mail the server accepted is recorded `sent` at once, or,
while ingestion holds SQLite's writer lock, with the lane's next write, at most a chunk later:
a kill in that window sends those mails again too, the same way.

A refused connection, a timeout or a dropped session is an outage of the relay, tracked per
relay (`loop/smtp_health.py`), not per row: no row is postponed, the relay is probed at the
backoff pace and every due row goes out as soon as it answers. A 4xx reply to one mail retries
that mail with exponential backoff (`retry_base_seconds`, jittered); 421 ends the session as an
outage; a 5xx marks the mail failed with a case event and an admin alert. Sensitive mails
(temporary passwords, reset links) have their stored copy redacted as soon as the server has
accepted them, and the SQLite -wal file is then checkpointed and truncated (`checkpoint_wal`),
so the clear copy leaves the disk too.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import aiosmtplib
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from mailbot.config import Config
from mailbot.loop.outbox import REDACTED_NOTE
from mailbot.loop.sending import (
    FailureHook,
    claim,
    interrupted,
    interrupted_count,
    record_sent,
    release,
    requeue_expired,
    with_interrupted,
)
from mailbot.loop.smtp_client import smtp_client
from mailbot.loop.smtp_health import SmtpHealth
from mailbot.loop.smtp_pool import SmtpPool
from mailbot.mail.compose import WIRE_POLICY
from storage.db import checkpoint_wal, read_scope, session_scope
from storage.engine import writer_queue
from storage.models import OutboxMail

__all__ = ["ClaimHook", "DeliveryReport", "FailureHook", "deliver_pending", "redact", "smtp_client"]

log = logging.getLogger(__name__)

# Told of each row claimed, before it is sent (the daemon's fault injection).
ClaimHook = Callable[[OutboxMail], None]

_jitter = random.Random()  # spreads retries; not a secret

# Rows of a batch claimed in one transaction (`sending.claim`).
CLAIM_CHUNK = 8
# Connections a batch is sent over at once, each with its share of the chunks: while the relay
# handles one mail, the next ones are already on their way (`docs/benchmarks.md`).
LANES = 6


def _lanes(ids: list[int]) -> list[list[int]]:
    """`ids` dealt to at most LANES connections a chunk at a time (chunk k to lane k mod
    LANES), so that the oldest mails of every lane go first; one lane for a single chunk."""
    chunks = [ids[i : i + CLAIM_CHUNK] for i in range(0, len(ids), CLAIM_CHUNK)]
    count = min(LANES, len(chunks))
    return [[i for chunk in chunks[lane::count] for i in chunk] for lane in range(count)]


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    interrupted: int = 0  # sends without an answer, to be sent again (same Message-ID)
    requeued: int = 0  # rows whose lease had run out, put back to pending
    smtp_down: bool = False
    errors: list[str] = field(default_factory=list)


def redact(raw: bytes) -> bytes:
    """The stored copy of a sensitive mail once accepted: headers kept, bodies replaced."""
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    redacted = EmailMessage()
    for name, value in msg.items():
        if name.lower() not in ("content-type", "content-transfer-encoding", "mime-version"):
            redacted[name] = value
    redacted.set_content(REDACTED_NOTE, charset="utf-8")
    return redacted.as_bytes(policy=WIRE_POLICY)


def _due(session: Session, now: datetime, limit: int) -> list[int]:
    stmt = (
        select(OutboxMail.id)
        .where(OutboxMail.state == "pending", OutboxMail.next_attempt_at <= now)
        .order_by(col(OutboxMail.id))
        .limit(limit)
    )
    return [i for i in session.exec(stmt) if i is not None]


def _retry_delay(config: Config, attempts: int) -> timedelta:
    delay = config.smtp.retry_base_seconds * (2.0 ** min(attempts - 1, 20))
    return timedelta(seconds=min(delay, 6 * 3600) * _jitter.uniform(0.75, 1.0))


def _finish(
    engine: Engine,
    row_id: int,
    config: Config,
    now: datetime,
    outcome: str,
    error: str | None,
    on_failure: FailureHook | None,
) -> None:
    redacted = False
    with session_scope(engine) as session:
        row = session.get(OutboxMail, row_id)
        assert row is not None
        # The count of interrupted sends (a prefix of last_error) survives 4xx retries.
        row.last_error = with_interrupted(interrupted_count(row.last_error), error)
        if outcome == "sent":
            row.state = "sent"
            row.sent_at = now
            row.last_error = None
            if row.sensitive:
                row.raw = redact(row.raw)
                redacted = True
        elif outcome == "unavailable":  # 421: the server answered, it is closing down
            row.state = "pending"
            row.next_attempt_at = now
        elif outcome == "retry" and row.attempts < config.smtp.max_attempts:
            row.state = "pending"
            row.next_attempt_at = now + _retry_delay(config, row.attempts)
        else:
            row.state = "failed"
            if on_failure is not None:
                on_failure(session, row, error or "échec de remise")
        session.add(row)
    if redacted:  # the -wal file still holds the clear copy: fold it in and empty it
        checkpoint_wal(engine)


async def deliver_pending(
    engine: Engine,
    config: Config,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_failure: FailureHook | None = None,
    health: SmtpHealth | None = None,
    on_claimed: ClaimHook | None = None,
    max_batches: int = 100,
    pool: SmtpPool | None = None,
) -> DeliveryReport:
    """Send what is due. `health` is the relay's state across calls (the daemon keeps one);
    without it, each call starts as if the relay were up. With `pool` (the sender thread's,
    `loop/smtp_pool.py`), connections are taken from it and given back after the batch."""
    smtp = config.smtp
    health = health or SmtpHealth(
        smtp.connect_backoff_base_seconds, smtp.connect_backoff_max_seconds
    )
    report = DeliveryReport()
    report.requeued, report.failed = requeue_expired(engine, config, now(), on_failure)
    for _ in range(max_batches):
        with read_scope(engine) as session:
            ids = _due(session, now(), smtp.batch_size)
        if not ids:
            break
        if not health.may_connect(now()):
            report.smtp_down = True
            break
        parts = _lanes(ids)
        lost: list[bool] = []
        lanes = [
            _Batch(engine, config, report, now, on_failure, health, on_claimed, lost, pool)
            for _ in parts
        ]
        client = await lanes[0].connect(ids, first=True)  # one probe of the relay per batch
        if client is None:
            report.smtp_down = True
            break
        clients = [client] + [
            await lane.connect(part, first=False)
            for lane, part in zip(lanes[1:], parts[1:], strict=True)
        ]
        sending = [
            lane.deliver(c, part)
            for lane, c, part in zip(lanes, clients, parts, strict=True)
            if c is not None
        ]
        if not all(await asyncio.gather(*sending)):
            report.smtp_down = True
            break
        if report.retried and not report.sent:
            break  # every mail got a 4xx: wait for their backoff rather than spin
    return report


@dataclass
class _Batch:
    engine: Engine
    config: Config
    report: DeliveryReport
    now: Callable[[], datetime]
    on_failure: FailureHook | None
    health: SmtpHealth
    on_claimed: ClaimHook | None
    # Shared by the lanes of a batch: the relay lost counts as one failure, not one per lane.
    lost: list[bool]
    pool: SmtpPool | None
    accepted: list[tuple[int, datetime]] = field(default_factory=list)

    def _take_accepted(self) -> list[tuple[int, datetime]]:
        """The accepted mails not recorded yet, handed over to be recorded (the list emptied)."""
        sent, self.accepted = self.accepted, []
        return sent

    def _relay_lost(self, error: str) -> None:
        if not self.lost:
            self.lost.append(True)
            self.health.failed(self.now(), error)

    async def connect(self, ids: list[int], *, first: bool) -> aiosmtplib.SMTP | None:
        """A connection for `ids`, or None. Nothing was claimed when it fails: the rows stay
        pending and due (their error noted). The first lane's failure is an outage (the relay
        is probed instead); another lane's leaves its rows to the next batch."""
        pooled = await self.pool.take() if self.pool is not None else None
        if pooled is not None:
            if first:
                self.health.succeeded(self.now())
            return pooled
        client = smtp_client(self.config.smtp, self.config.smtp_password())
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as err:
            error = f"connexion SMTP impossible : {err}"
            _note_error(self.engine, ids, error)
            if first:
                self._relay_lost(error)
            self.report.retried += len(ids)
            self.report.errors.append(str(err))
            return None
        if first:
            self.health.succeeded(self.now())
        return client

    async def deliver(self, client: aiosmtplib.SMTP, ids: list[int]) -> bool:
        """Send `ids` over `client`; False when the relay stopped answering (an outage)."""
        done = False
        try:
            done = await self._chunks(client, ids)
            return done
        finally:
            record_sent(self.engine, self._take_accepted())  # even when the batch failed
            pool, limit = self.pool, self.config.smtp.batch_size
            kept = done and pool is not None and pool.keep(client, len(ids), limit)
            if not kept and client.is_connected:  # a kept one waits for the next batch
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()

    async def _chunks(self, client: aiosmtplib.SMTP, ids: list[int]) -> bool:
        """Claim CLAIM_CHUNK rows at a time and send them; the accepted ones are recorded with
        the next claim, or at once when no other writer of the process waits (`_accepted`)."""
        for start in range(0, len(ids), CLAIM_CHUNK):
            chunk = ids[start : start + CLAIM_CHUNK]
            sent = self._take_accepted()
            # In a thread: while this lane waits for its turn to write, the other one sends.
            rows = await asyncio.to_thread(
                claim, self.engine, chunk, self.now(), self.config.smtp, sent
            )
            for rank, row in enumerate(rows):
                if not await self._one(client, row):
                    release(self.engine, [r.id for r in rows[rank + 1 :] if r.id], self.now())
                    return False
        return True

    async def _accepted(self, row_id: int) -> None:
        """A mail without secrets the relay accepted. Its record waits for the next write of the
        batch while the process's other writer (ingestion) holds SQLite's lock, so that the
        sender does not queue behind it for every mail; at most CLAIM_CHUNK mails wait so (a
        kill in that window sends them again, same Message-ID, like an interrupted send)."""
        self.accepted.append((row_id, self.now()))
        queue = writer_queue(self.engine)
        if queue is None or queue.idle():
            await asyncio.to_thread(record_sent, self.engine, self._take_accepted())

    async def _one(self, client: aiosmtplib.SMTP, row: OutboxMail) -> bool:
        assert row.id is not None
        row_id = row.id
        if self.on_claimed is not None:
            self.on_claimed(row)
        outcome, error = await _send_one(client, row, self.config.smtp.timeout_seconds)
        report = self.report
        if outcome == "sent" and not row.sensitive:
            await self._accepted(row_id)
            report.sent += 1
            if not client.is_connected:
                self._relay_lost("connexion fermée par le serveur")
                return False
            return True
        record_sent(self.engine, self._take_accepted())  # in order: the others' records first
        if outcome == "interrupted":
            report.interrupted += 1
            report.errors.append(error or "")
            if interrupted(
                self.engine, row_id, self.now(), self.config, error or "", self.on_failure
            ):
                report.failed += 1
            self._relay_lost(error or "connexion perdue")
            return False
        _finish(self.engine, row_id, self.config, self.now(), outcome, error, self.on_failure)
        if outcome == "sent":
            report.sent += 1
        elif outcome in ("retry", "unavailable"):
            report.retried += 1
            report.errors.append(error or "")
        else:
            report.failed += 1
            report.errors.append(error or "")
        if outcome == "unavailable" or not client.is_connected:
            self._relay_lost(error or "connexion fermée par le serveur")
            return False
        return True


def _note_error(engine: Engine, ids: list[int], error: str) -> None:
    """Why due rows wait (a connection failure): `next_attempt_at` is left alone."""
    with session_scope(engine) as session:
        for row_id in ids:
            row = session.get(OutboxMail, row_id)
            if row is not None and row.state == "pending":
                row.last_error = with_interrupted(interrupted_count(row.last_error), error)
                session.add(row)


async def _send_one(
    client: aiosmtplib.SMTP, row: OutboxMail, timeout: float
) -> tuple[str, str | None]:
    """sent | retry (4xx) | unavailable (421) | failed (5xx) | interrupted (no answer)."""
    try:
        errors, _ = await asyncio.wait_for(
            client.sendmail(row.envelope_from, row.recipients, row.raw), timeout
        )
    except aiosmtplib.SMTPRecipientsRefused as err:
        codes = [r.code for r in err.recipients]
        text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in err.recipients)
        return ("retry" if all(400 <= c < 500 for c in codes) else "failed"), text
    except aiosmtplib.SMTPServerDisconnected as err:
        return "interrupted", f"connexion perdue : {err}"
    except aiosmtplib.SMTPResponseException as err:
        text = f"{err.code} {err.message}"
        if err.code == 421:
            return "unavailable", text
        return ("retry" if 400 <= err.code < 500 else "failed"), text
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as err:
        client.close()  # the session's state is unknown: never reuse it
        return "interrupted", f"pas de réponse du serveur : {err or type(err).__name__}"
    if errors:
        # Some recipients refused: the accepted ones have the mail; record the others.
        text = "; ".join(f"{rcpt}: {resp.code} {resp.message}" for rcpt, resp in errors.items())
        log.warning("outbox %s: some recipients refused: %s", row.id, text)
    return "sent", None
