"""The lease of an outbox row being sent, and the outbox backlog.

A row is claimed `sending` with a short lease (`[smtp] send_lease_seconds`, held in its
`next_attempt_at`) in a committed transaction before it is handed to the server; a sender
claims the next few rows of its batch together (`claim`). A row still `sending` when its lease
has run out belonged to a sender that died (or lost the relay) before the server answered:
whichever instance drains next puts it back to `pending`, due at once, and it is sent again
with the same bytes, so the same Message-ID (at least once, invariant 2).
Such interrupted sends are counted; after `[smtp] max_interrupted_sends` the row is `failed`
and the admins are told as for a 5xx.

    pending ──claim──▶ sending ──250──▶ sent ──bounce──▶ bounced
       ▲                 │ 4xx / 421 / no answer (lease over, connection lost)
       └─────────────────┤
                         └──5xx, max_attempts 4xx, max_interrupted_sends──▶ failed

`unknown` is a state of older versions (a row left `sending` by a crash); such rows are
treated as `sending` rows whose lease is over.

No column counts the interrupted sends: the count is kept as a prefix of `last_error`
(`[envois interrompus : N] …`), which 4xx retries preserve.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Engine, Update, bindparam, or_, update
from sqlmodel import Session, col, func, select

from mailbot.config import Config, SmtpConfig
from storage.db import read_scope, session_scope
from storage.models import OutboxMail, UTCDateTime

log = logging.getLogger(__name__)

# Called after a mail failed for good: (session, outbox row, reason).
FailureHook = Callable[[Session, OutboxMail, str], None]

LEGACY_UNKNOWN = "unknown"
_INTERRUPTED = re.compile(r"^\[envois interrompus : (\d+)\] ")
INTERRUPTED_REASON = "envoi interrompu avant la réponse du serveur"


def interrupted_count(last_error: str | None) -> int:
    match = _INTERRUPTED.match(last_error or "")
    return int(match.group(1)) if match else 0


def with_interrupted(count: int, error: str | None) -> str | None:
    """`error`, prefixed with the count of interrupted sends when there were any."""
    text = _INTERRUPTED.sub("", error or "")
    if count == 0:
        return text or None
    return f"[envois interrompus : {count}] {text}"


def claim(
    engine: Engine,
    ids: list[int],
    now: datetime,
    smtp: SmtpConfig,
    sent: list[tuple[int, datetime]] | None = None,
) -> list[OutboxMail]:
    """Mark the rows of `ids` still `pending` `sending`, with a lease, in one committed
    transaction (the others were taken by another sender), and return them in id order.

    They are sent one after the other on one connection, each within `timeout_seconds`: the
    row sent i-th can start only after the i before it, so its lease is lengthened by i times
    that timeout and still covers its own send (i, its place in `ids`, is never less than its
    place among the rows claimed). `sent` (id, accepted at) records mails the relay accepted
    since the last transaction (`record_sent`), in the same transaction.

    The write transaction holds SQLite's writer lock, which ingestion waits for: it only finds
    the pending ids and updates them by primary key; the rows, and their bytes, are read after
    it, from rows that are now this sender's."""
    with session_scope(engine) as session:
        if sent:
            _record_sent(session, sent)
        pending = (
            select(OutboxMail.id)
            .where(col(OutboxMail.id).in_(ids), OutboxMail.state == "pending")
            .with_for_update(skip_locked=True)
        )
        claimed = {i for i in session.exec(pending) if i is not None}
        if claimed:  # Core executemany: the ORM's bulk UPDATE takes no WHERE on the state
            session.connection().execute(
                _claim_statement(),
                [
                    {
                        "row_id": row_id,
                        "lease": now
                        + timedelta(seconds=smtp.send_lease_seconds + rank * smtp.timeout_seconds),
                    }
                    for rank, row_id in enumerate(ids)
                    if row_id in claimed
                ],
            )
    if not claimed:
        return []
    with read_scope(engine) as session:
        stmt = (
            select(OutboxMail).where(col(OutboxMail.id).in_(claimed)).order_by(col(OutboxMail.id))
        )
        return list(session.exec(stmt).all())


@cache
def _claim_statement() -> Update:
    """Built once (an executemany by primary key, as `_record_sent`)."""
    return (
        update(OutboxMail)
        .where(col(OutboxMail.id) == bindparam("row_id"), col(OutboxMail.state) == "pending")
        .values(
            state="sending",
            attempts=OutboxMail.attempts + 1,
            next_attempt_at=bindparam("lease", type_=UTCDateTime()),
        )
    )


def _record_sent(session: Session, sent: list[tuple[int, datetime]]) -> None:
    # Core executemany by primary key: the ORM's bulk UPDATE cost the sender's threads a fifth
    # of their time, inside the write transaction that ingestion waits for.
    session.connection().execute(
        _sent_statement(), [{"row_id": row_id, "at": at} for row_id, at in sent]
    )


@cache
def _sent_statement() -> Update:
    return (
        update(OutboxMail)
        .where(col(OutboxMail.id) == bindparam("row_id"))
        .values(state="sent", sent_at=bindparam("at", type_=UTCDateTime()), last_error=None)
    )


def record_sent(engine: Engine, sent: list[tuple[int, datetime]]) -> None:
    """Mark accepted mails that had nothing to redact `sent`: one UPDATE per row by primary
    key, in one transaction, without loading the rows (and their bytes) again."""
    if sent:
        with session_scope(engine) as session:
            _record_sent(session, sent)


def release(engine: Engine, ids: list[int], now: datetime) -> None:
    """Rows claimed but never handed to the server (the connection ended before their turn):
    back to `pending`, due at once, their claim not counted as an attempt."""
    if not ids:
        return
    with session_scope(engine) as session:
        for row in session.exec(
            select(OutboxMail).where(col(OutboxMail.id).in_(ids), OutboxMail.state == "sending")
        ):
            row.state = "pending"
            row.attempts = max(0, row.attempts - 1)
            row.next_attempt_at = now
            session.add(row)


def _interrupt(
    session: Session,
    row: OutboxMail,
    now: datetime,
    config: Config,
    error: str,
    on_failure: FailureHook | None,
) -> bool:
    """Count one interrupted send of `row`: back to `pending`, due at once, or `failed` after
    `max_interrupted_sends` (returns True then)."""
    count = interrupted_count(row.last_error) + 1
    row.last_error = with_interrupted(count, f"{INTERRUPTED_REASON} ({error})")
    failed = count >= config.smtp.max_interrupted_sends
    if failed:
        row.state = "failed"
        log.error("outbox %s (%s): %d interrupted sends, failed", row.id, row.message_id, count)
        if on_failure is not None:
            reason = f"{count} envois interrompus avant la réponse du serveur ({error})"
            on_failure(session, row, reason)
    else:
        row.state = "pending"
        row.next_attempt_at = now
        log.warning(
            "outbox %s (%s): send interrupted (%s), sent again with the same Message-ID",
            row.id,
            row.message_id,
            error,
        )
    session.add(row)
    return failed


def interrupted(
    engine: Engine,
    row_id: int,
    now: datetime,
    config: Config,
    error: str,
    on_failure: FailureHook | None,
) -> bool:
    """The connection broke while `row_id` was being sent (no answer from the server)."""
    with session_scope(engine) as session:
        row = session.get(OutboxMail, row_id)
        if row is None or row.state != "sending":
            return False
        return _interrupt(session, row, now, config, error, on_failure)


def requeue_expired(
    engine: Engine, config: Config, now: datetime, on_failure: FailureHook | None
) -> tuple[int, int]:
    """Rows whose lease ran out (their sender died): back to `pending`, or `failed` after too
    many interruptions. Returns (requeued, failed). Rows locked by another instance are
    skipped (it is handling them)."""
    requeued = failed = 0
    expired = or_(
        col(OutboxMail.state) == LEGACY_UNKNOWN,
        (col(OutboxMail.state) == "sending") & (OutboxMail.next_attempt_at <= now),
    )
    # Looked for first without a write transaction: there is none almost always, and the
    # sender drains after every decision, so a write turn each time would make ingestion wait.
    with read_scope(engine) as session:
        if session.exec(select(OutboxMail.id).where(expired).limit(1)).first() is None:
            return 0, 0
    with session_scope(engine) as session:
        stmt = (
            select(OutboxMail)
            .where(expired)
            .order_by(col(OutboxMail.id))
            .with_for_update(skip_locked=True)
        )
        for row in session.exec(stmt).all():
            if _interrupt(session, row, now, config, "bail expiré, processus arrêté", on_failure):
                failed += 1
            else:
                requeued += 1
    return requeued, failed


def seconds_to_next_due(engine: Engine, now: datetime) -> float | None:
    """Seconds until a pending row is due or a lease runs out (0 when one already is), or
    None when the outbox has nothing to do."""
    with read_scope(engine) as session:
        stmt = select(func.min(OutboxMail.next_attempt_at)).where(
            col(OutboxMail.state).in_(("pending", "sending", LEGACY_UNKNOWN))
        )
        earliest = session.exec(stmt).one()
    if earliest is None:
        return None
    return max(0.0, (earliest - now).total_seconds())


def backlog(session: Session, now: datetime) -> dict[str, Any]:
    """What `mailbot status` shows of the outbox: the mails waiting and those in flight."""

    def count(state: str) -> int:
        stmt = select(func.count()).select_from(OutboxMail).where(OutboxMail.state == state)
        return int(session.exec(stmt).one())

    oldest = session.exec(
        select(func.min(OutboxMail.created_at)).where(OutboxMail.state == "pending")
    ).one()
    expired = session.exec(
        select(func.count())
        .select_from(OutboxMail)
        .where(OutboxMail.state == "sending", OutboxMail.next_attempt_at <= now)
    ).one()
    return {
        "pending": count("pending"),
        "oldest_pending_at": oldest.isoformat() if oldest is not None else None,
        "oldest_pending_age_seconds": (
            round((now - oldest).total_seconds()) if oldest is not None else None
        ),
        "sending": count("sending"),
        "sending_lease_expired": int(expired),
        "failed": count("failed"),
    }
