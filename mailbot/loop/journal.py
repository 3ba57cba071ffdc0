"""The journal: each fetched mail's raw bytes stored before anything is decided about it
(invariant 1), a few mails in one transaction.

The drain journals the mails of a group together (`JOURNAL_GROUP`, handed out together by its
prefetch, `Prefetch.groups`), then decides them one after the other, each in its own
transaction: a write transaction less per mail. A process that stops in between leaves
journaled mails that have no fate yet, still in the INBOX, exactly as a stop between a mail's
journal and its decision always did: the next drain finds them journaled and decides them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Engine, bindparam
from sqlalchemy import select as select_columns
from sqlmodel import Session, select

from mailbot.mail.rawheaders import quick_message_id
from storage.db import session_scope
from storage.models import InboundMessage
from storage.upsert import insert_ignore_returning

# `delete`/`deleted`: quarantined mail an admin deleted after review (never processed again).
FINAL_FATES = ("processed", "ignored", "quarantined", "delete", "deleted")
# Mails journaled in one transaction by the drain.
JOURNAL_GROUP = 8

# (raw bytes, UIDVALIDITY, UID) of a fetched mail.
Fetched = tuple[bytes, int | None, int | None]


def journal(engine: Engine, mails: Sequence[Fetched], now: datetime) -> list[tuple[int, bool]]:
    """Store `mails` in one transaction; for each, in order, (journal id, already final)."""
    with session_scope(engine) as session:
        return [
            _journal_one(session, raw, uidvalidity, uid, now) for raw, uidvalidity, uid in mails
        ]


def _journal_one(
    session: Session, raw: bytes, uidvalidity: int | None, uid: int | None, now: datetime
) -> tuple[int, bool]:
    digest = hashlib.sha256(raw).hexdigest()
    # Values, not an `InboundMessage` dumped (the columns' defaults fill the rest), as the
    # outbox's rows. Idempotent: a row journaled before (by us or another process) is kept as
    # it is, and only its id and fate are read, not the raw bytes.
    values = {
        "message_id": quick_message_id(raw),
        "sha256": digest,
        "uidvalidity": uidvalidity,
        "uid": uid,
        "size": len(raw),
        "raw": raw,
        "received_at": now,
    }
    new_id = insert_ignore_returning(session, InboundMessage, values, ["sha256"], "id")
    if new_id is not None:
        return int(new_id), False
    known = select(InboundMessage.id, InboundMessage.fate).where(InboundMessage.sha256 == digest)
    journal_id, fate = session.exec(known).one()
    return int(journal_id or 0), fate in FINAL_FATES


# Deciding a journaled mail reads a few of its columns and writes its fate with two Core
# statements (built once): loading the ORM row cost the drain 6 % of its main thread.


@dataclass(frozen=True)
class Entry:
    """What deciding a journaled mail reads of its row."""

    id: int
    raw: bytes
    sha256: str
    fate: str
    kind: str | None
    rule: str | None
    case_ref: str | None


@cache
def _entry_query() -> Any:
    table = InboundMessage.__table__  # type: ignore[attr-defined]
    columns = [table.c[field.name] for field in fields(Entry)]
    return select_columns(*columns).where(table.c.id == bindparam("id")).with_for_update()


@cache
def _fate_update() -> Any:
    table = InboundMessage.__table__  # type: ignore[attr-defined]
    return table.update().where(table.c.id == bindparam("entry_id"))


def load_entry(session: Session, journal_id: int) -> Entry | None:
    """The journal row `journal_id`, locked until the transaction ends (on PostgreSQL)."""
    found = session.connection().execute(_entry_query(), {"id": journal_id}).first()
    return Entry(*found) if found is not None else None


def write_fate(session: Session, journal_id: int, **values: Any) -> None:
    """Set columns of the journal row `journal_id` (its fate and what goes with it)."""
    session.connection().execute(_fate_update(), {"entry_id": journal_id, **values})
