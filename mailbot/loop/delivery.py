"""Delivering the outbox over SMTP (aiosmtplib).

One connection per batch. A row is marked `sending` and committed before it is handed to the
server, so that a crash never sends it twice (at most once per key, invariant 2); 4xx replies
and connection errors are retried with exponential backoff; 5xx marks the mail failed with a
case event and an admin alert. Sensitive mails (temporary passwords) have their stored copy
redacted as soon as the server has accepted them.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import aiosmtplib
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from mailbot.config import Config, SmtpConfig
from mailbot.loop.outbox import REDACTED_NOTE
from mailbot.mail.compose import WIRE_POLICY
from storage.db import session_scope
from storage.models import OutboxMail

log = logging.getLogger(__name__)

# Called after a mail failed for good: (session, outbox row, reason).
FailureHook = Callable[[Session, OutboxMail, str], None]


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca_file)
    return ctx  # certificate and host name verified


def smtp_client(cfg: SmtpConfig, password: str | None) -> aiosmtplib.SMTP:
    kwargs: dict[str, object] = {"hostname": cfg.host, "port": cfg.port, "timeout": 60}
    if cfg.tls == "implicit":
        kwargs.update(use_tls=True, tls_context=tls_context(cfg.ca_file))
    elif cfg.tls == "starttls":
        kwargs.update(start_tls=True, tls_context=tls_context(cfg.ca_file))
    else:
        kwargs.update(use_tls=False, start_tls=False)
    if cfg.user:
        kwargs.update(username=cfg.user, password=password or "")
    return aiosmtplib.SMTP(**kwargs)  # type: ignore[arg-type]


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


def _due(session: Session, now: datetime, limit: int) -> list[OutboxMail]:
    stmt = (
        select(OutboxMail)
        .where(OutboxMail.state == "pending", OutboxMail.next_attempt_at <= now)
        .order_by(col(OutboxMail.id))
        .limit(limit)
    )
    return list(session.exec(stmt))


def _claim(engine: Engine, row_id: int) -> OutboxMail | None:
    """Mark one row `sending` (committed) unless another sender took it first."""
    with session_scope(engine) as session:
        row = session.get(OutboxMail, row_id, with_for_update=True)
        if row is None or row.state != "pending":
            return None
        row.state = "sending"
        row.attempts += 1
        session.add(row)
        return row


def _finish(
    engine: Engine,
    row_id: int,
    config: Config,
    now: datetime,
    outcome: str,
    error: str | None,
    on_failure: FailureHook | None,
) -> None:
    with session_scope(engine) as session:
        row = session.get(OutboxMail, row_id)
        assert row is not None
        row.last_error = error
        if outcome == "sent":
            row.state = "sent"
            row.sent_at = now
            if row.sensitive:
                row.raw = redact(row.raw)
        elif outcome == "retry" and row.attempts < config.smtp.max_attempts:
            row.state = "pending"
            delay = config.smtp.retry_base_seconds * (2 ** (row.attempts - 1))
            row.next_attempt_at = now + timedelta(seconds=min(delay, 6 * 3600))
        else:
            row.state = "failed"
            if on_failure is not None:
                on_failure(session, row, error or "échec de remise")
        session.add(row)


async def deliver_pending(
    engine: Engine,
    config: Config,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_failure: FailureHook | None = None,
    max_batches: int = 100,
) -> DeliveryReport:
    report = DeliveryReport()
    for _ in range(max_batches):
        with session_scope(engine) as session:
            ids = [r.id for r in _due(session, now(), config.smtp.batch_size)]
        if not ids:
            break
        await _deliver_batch(
            engine, config, [i for i in ids if i is not None], report, now, on_failure
        )
        if report.retried and not report.sent:
            break  # the server is unwell: wait for the backoff rather than spin
    return report


async def _deliver_batch(
    engine: Engine,
    config: Config,
    ids: list[int],
    report: DeliveryReport,
    now: Callable[[], datetime],
    on_failure: FailureHook | None,
) -> None:
    client = smtp_client(config.smtp, config.smtp_password())
    try:
        await client.connect()
    except (aiosmtplib.SMTPException, OSError) as err:
        # Nothing was claimed yet: the rows stay pending; push them back a little.
        _postpone(engine, ids, now(), config, f"connexion SMTP impossible : {err}")
        report.retried += len(ids)
        report.errors.append(str(err))
        return
    try:
        for row_id in ids:
            row = _claim(engine, row_id)
            if row is None:
                continue
            outcome, error = await _send_one(client, row)
            _finish(engine, row_id, config, now(), outcome, error, on_failure)
            if outcome == "sent":
                report.sent += 1
            elif outcome == "retry":
                report.retried += 1
                report.errors.append(error or "")
                if not client.is_connected:
                    # Give the rest of the batch back untouched.
                    return
            else:
                report.failed += 1
                report.errors.append(error or "")
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except aiosmtplib.SMTPException:
                client.close()


async def _send_one(client: aiosmtplib.SMTP, row: OutboxMail) -> tuple[str, str | None]:
    try:
        errors, _ = await client.sendmail(row.envelope_from, row.recipients, row.raw)
    except aiosmtplib.SMTPRecipientsRefused as err:
        codes = [r.code for r in err.recipients]
        text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in err.recipients)
        return ("retry" if all(400 <= c < 500 for c in codes) else "failed"), text
    except aiosmtplib.SMTPResponseException as err:
        text = f"{err.code} {err.message}"
        return ("retry" if 400 <= err.code < 500 else "failed"), text
    except (aiosmtplib.SMTPException, OSError) as err:
        return "retry", f"erreur de connexion : {err}"
    if errors:
        # Some recipients refused: the accepted ones have the mail; record the others.
        text = "; ".join(f"{rcpt}: {resp.code} {resp.message}" for rcpt, resp in errors.items())
        log.warning("outbox %s: some recipients refused: %s", row.id, text)
    return "sent", None


def _postpone(engine: Engine, ids: list[int], now: datetime, config: Config, error: str) -> None:
    with session_scope(engine) as session:
        for row_id in ids:
            row = session.get(OutboxMail, row_id)
            if row is not None and row.state == "pending":
                row.last_error = error
                row.next_attempt_at = now + timedelta(
                    seconds=min(config.smtp.retry_base_seconds, 300)
                )
                session.add(row)


def recover_stale_sending(engine: Engine, older_than: timedelta, now: datetime) -> int:
    """Rows left `sending` by a crash: we cannot know whether the server got them. They are
    marked `unknown` (never resent automatically: at most once) and reported by `status`."""
    with session_scope(engine) as session:
        rows = session.exec(select(OutboxMail).where(OutboxMail.state == "sending")).all()
        count = 0
        for row in rows:
            if row.next_attempt_at <= now - older_than:
                row.state = "unknown"
                row.last_error = "interrompu pendant l'envoi (arrêt du processus)"
                session.add(row)
                count += 1
        return count
