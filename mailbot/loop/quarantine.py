"""Mail set aside: quarantined with a French reason, its sender told when the mail was refused
for its size or its form, the admins alerted in batches.

- `set_aside` marks a journal entry `quarantined` in a transaction of its own. The sender and
  subject come from the raw header block, so they are known even when parsing failed.
- A mail refused for its size or form (`UnreadableMail`) gets a French answer, unless its
  headers say it is an automatic mail (auto-reply, bounce, list, our own) or it has no usable
  sender; the answer is an automatic answer, so the per-address daily cap limits it.
- The admins get at most one alert per `admins.quarantine_alert_minutes`, listing every mail
  quarantined since the last one (`alerted_at` marks those already listed). The first mail of a
  quiet period is alerted at once; the others wait for `sweep_alerts`, which every turn runs.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from mailbot.config import Config
from mailbot.loop.effects import Decider, Pending
from mailbot.mail.classify import ClassifyContext, classify
from mailbot.mail.parse import parse_message
from mailbot.mail.rawheaders import head_block, header_summary
from storage.db import session_scope
from storage.models import InboundMessage
from workflows.alerts import Quarantined, RefusedMail, quarantined, refused_mail

if TYPE_CHECKING:
    from mailbot.wflog import WorkflowLog

log = logging.getLogger(__name__)

# Kinds of mail whose sender must never get an answer (invariant 4 of ARCHITECTURE.md).
NEVER_ANSWERED = ("own_mail", "bounce", "auto_reply")
ADVICE_SIZE = (
    "Merci de nous l'adresser de nouveau en allégeant les pièces jointes : en les "
    "compressant, en réduisant la taille des images ou des PDF numérisés, ou en les "
    "répartissant sur plusieurs messages."
)
ADVICE_FORM = (
    "Merci de nous écrire de nouveau depuis votre messagerie habituelle, dans un message "
    "simple (sans transférer le message d'origine en pièce jointe)."
)


def refusal_recipient(raw: bytes, config: Config) -> str | None:
    """The address to tell that its mail was refused, or None when its headers say no one
    should be answered (automatic mail, our own mail, no sender)."""
    head = parse_message(head_block(raw) + b"\r\n\r\n")
    if not head.from_addr:
        return None
    result = classify(head, ClassifyContext(config=config, secret=None))
    return None if result.kind in NEVER_ANSWERED else head.from_addr


def set_aside(
    engine: Engine,
    config: Config,
    decider: Decider,
    journal_id: int,
    err: BaseException,
    now: datetime,
) -> Pending:
    """Quarantine the entry, answer its sender when it was refused for size or form, and alert
    the admins unless an alert went out less than the batch period ago."""
    summary = f"{type(err).__name__}: {err}"[:500]
    french = getattr(err, "french", None)
    pending = Pending()
    with session_scope(engine) as session:
        row = session.get(InboundMessage, journal_id)
        if row is None:
            return pending
        row.fate = "quarantined"
        row.error = "".join(traceback.format_exception(err))[-4000:]
        row.reason = (french or f"erreur de traitement ({summary})")[:1000]
        row.processed_at = now
        row.alerted_at = None
        sender, subject = header_summary(row.raw)
        row.sender, row.subject = row.sender or sender, row.subject or subject
        session.add(row)
        if french is not None:
            _answer_sender(session, config, decider, row, french, pending)
        session.flush()
        _alert_if_due(session, config, decider, now, pending)
    return pending


def _answer_sender(
    session: Session,
    config: Config,
    decider: Decider,
    row: InboundMessage,
    french: str,
    pending: Pending,
) -> None:
    recipient = refusal_recipient(row.raw, config)
    if recipient is None:
        pending.add(None, "refusal_skipped", journal=row.id, reason="automatic_or_no_sender")
        return
    big = row.size > config.limits.max_message_bytes
    mail = RefusedMail(
        journal=int(row.id or 0),
        sender=recipient,
        subject=row.subject or "",
        message_id=row.message_id,
        reason=french.split(" : ")[0].replace("le message ", "il ", 1),
        advice=ADVICE_SIZE if big else ADVICE_FORM,
    )
    decider.outside_case(session, None, refused_mail(mail), pending)


def _alert_if_due(
    session: Session, config: Config, decider: Decider, now: datetime, pending: Pending
) -> None:
    waiting = session.exec(
        select(InboundMessage)
        .where(InboundMessage.fate == "quarantined", col(InboundMessage.alerted_at).is_(None))
        .order_by(col(InboundMessage.id))
        .limit(100)
    ).all()
    if not waiting:
        return
    period = timedelta(minutes=config.admins.quarantine_alert_minutes)
    last = session.exec(select(func.max(InboundMessage.alerted_at))).one()
    if last is not None and now - last < period:
        return  # the next sweep after the period lists them all
    notices = [
        Quarantined(int(r.id or 0), r.sender, r.subject or "", r.reason or "") for r in waiting
    ]
    key = f"{notices[0].journal}-{notices[-1].journal}:{now.isoformat(timespec='seconds')}"
    folder = config.mailbox.folders.quarantine
    decision = quarantined(notices, tuple(config.admins.addresses), folder, key)
    decider.outside_case(session, None, decision, pending)
    for row in waiting:
        row.alerted_at = now
        session.add(row)


def sweep_alerts(
    engine: Engine,
    config: Config,
    decider: Decider,
    wflog: WorkflowLog,
    clock: Callable[[], datetime],
) -> None:
    """The alert for mail quarantined while the last one was too recent (every turn)."""
    pending = Pending()
    now = clock()
    with session_scope(engine) as session:
        _alert_if_due(session, config, decider, now, pending)
    pending.flush(wflog, now)


# ------------------------------------------------------------------------- review


def listing(session: Session) -> list[dict[str, object]]:
    """The quarantine, oldest first, for `mailbot quarantine list` and the desk."""
    rows = session.exec(
        select(InboundMessage)
        .where(col(InboundMessage.fate).in_(("quarantined", "delete")))
        .order_by(col(InboundMessage.id))
    ).all()
    return [
        {
            "journal": r.id,
            "received_at": r.received_at.isoformat(timespec="seconds"),
            "sender": r.sender,
            "subject": r.subject or "",
            "size": r.size,
            "reason": r.reason or "",
            "replays": r.replays,
            "alerted": r.alerted_at is not None,
        }
        for r in rows
    ]


def request_discard(session: Session, journal_id: int, admin: str) -> bool:
    """An admin deletes a quarantined mail after review (the desk's « Supprimer », or
    `mailbot quarantine delete`): the daemon deletes its IMAP copy and its raw bytes."""
    row = session.get(InboundMessage, journal_id)
    if row is None or row.fate != "quarantined":
        return False
    row.fate = "delete"
    row.error = f"deletion requested by {admin}"
    session.add(row)
    return True


def discard_requested(
    engine: Engine,
    config: Config,
    discard_copy: Callable[[str, str], int] | None,
    wflog: WorkflowLog,
    now: datetime,
) -> list[int]:
    """Carry out the deletions asked for: the copy in the Quarantine folder (when the mailbox
    is connected: `discard_copy(folder, message_id)`), then the raw bytes; the journal keeps
    the entry's date, sender and subject, and the log says who deleted it."""
    with session_scope(engine) as session:
        ids = [
            int(r.id or 0)
            for r in session.exec(
                select(InboundMessage).where(InboundMessage.fate == "delete")
            ).all()
        ]
    done = []
    for journal_id in ids:
        with session_scope(engine) as session:
            row = session.get(InboundMessage, journal_id, with_for_update=True)
            if row is None or row.fate != "delete":
                continue
            if discard_copy is not None and row.message_id:
                discard_copy(config.mailbox.folders.quarantine, row.message_id)
            by = (row.error or "").removeprefix("deletion requested by ")
            row.fate, row.raw, row.processed_at = "deleted", b"", now
            row.error = f"deleted by {by}"
            session.add(row)
        wflog.write(None, "quarantine_deleted", {"journal": journal_id, "by": by})
        done.append(journal_id)
    return done
