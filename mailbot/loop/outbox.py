"""The outbox: outgoing mails written in the transaction of the decision that made them.

A mail is keyed by `<case ref>:<key>`: writing the same key twice keeps the first (invariant 2).
Automatic answers are rate-limited per address (invariant 4), in a way a spoofer writing in
someone's name cannot use to starve them (`auto_reply_blocked`):
- every automatic answer to an address counts towards its daily ceiling
  (`limits.auto_replies_ceiling_per_address_per_day`): no one is flooded;
- an essential answer (`SendMail.essential`: a new case's acknowledgement, an annex report)
  is limited by that ceiling only;
- the others are also limited per address and case (`auto_replies_per_case_per_day`; mail of
  no case counts as one case) and per address, all cases together
  (`auto_replies_per_address_per_day`, below the ceiling): what a spoofer can trigger without
  opening cases never reaches the ceiling, so the victim's own acknowledgement still goes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Engine, and_, bindparam, case
from sqlmodel import Session, col, func, select

from mailbot.config import Config
from mailbot.mail import tokens
from mailbot.mail.wire import render_raw
from storage.db import session_scope
from storage.models import OutboxMail
from storage.upsert import insert_ignore_returning
from workflows.core import SendMail

log = logging.getLogger(__name__)

REDACTED_NOTE = (
    "[Contenu retiré après envoi : ce message contenait des informations de connexion.]\n"
)


def idempotency_key(case_ref: str | None, key: str) -> str:
    return f"{case_ref or '-'}:{key}"


def auto_replies_sent(
    session: Session, address: str, since: datetime, case_ref: str | None
) -> tuple[int, int, int]:
    """Automatic answers to `address` since `since`, in one query: (all of them, the ordinary
    ones, the ordinary ones of `case_ref` (None: of no case))."""
    params: dict[str, Any] = {"address": address, "since": since}
    if case_ref is not None:
        params["case_ref"] = case_ref
    stmt = _caps_query(of_no_case=case_ref is None)
    total, ordinary_count, case_count = session.connection().execute(stmt, params).one()
    return int(total), int(ordinary_count), int(case_count)


# The hot statements of `enqueue_mail`, built once (building one costs more than running it).


@cache
def _caps_query(*, of_no_case: bool) -> Any:
    ordinary = col(OutboxMail.essential).is_(False)
    same_case = (
        col(OutboxMail.case_ref).is_(None)
        if of_no_case
        else col(OutboxMail.case_ref) == bindparam("case_ref")
    )
    return select(
        func.count(),
        func.coalesce(func.sum(case((ordinary, 1), else_=0)), 0),
        func.coalesce(func.sum(case((and_(ordinary, same_case), 1), else_=0)), 0),
    ).where(
        col(OutboxMail.auto).is_(True),
        OutboxMail.created_at >= bindparam("since"),
        OutboxMail.recipient == bindparam("address"),
    )


@cache
def _by_key() -> Any:
    return select(OutboxMail.id).where(OutboxMail.idempotency_key == bindparam("ikey"))


def auto_reply_blocked(
    session: Session, config: Config, mail: SendMail, case_ref: str | None, now: datetime
) -> str | None:
    """Why the automatic answer `mail` must not go (the limit reached), or None."""
    limits, since = config.limits, now - timedelta(days=1)
    for address in (a.lower() for a in mail.to):
        total, ordinary, same_case = auto_replies_sent(session, address, since, case_ref)
        if total >= limits.auto_replies_ceiling_per_address_per_day:
            return "ceiling"
        if mail.essential:
            continue
        if ordinary >= limits.auto_replies_per_address_per_day:
            return "address"
        if same_case >= limits.auto_replies_per_case_per_day:
            return "case"
    return None


def enqueue_mail(
    session: Session,
    config: Config,
    mail: SendMail,
    case_ref: str | None,
    *,
    now: datetime | None = None,
    secret: bytes | None = None,
) -> int | None:
    """Render `mail` and add it to the outbox in `session`'s transaction.

    Returns the outbox row's id (the existing row's when the key was already written), or None
    when an automatic answer was suppressed by a rate limit (`auto_reply_blocked`).
    """
    now = now or datetime.now(UTC)
    ikey = idempotency_key(case_ref, mail.key)
    # Outbox rows are written and read by SQL statements, so these look-ups need no flush of
    # the transaction's pending objects (the case is written once, at the commit).
    if mail.auto and (limit := auto_reply_blocked(session, config, mail, case_ref, now)):
        if (existing_id := _existing(session, ikey)) is not None:
            return existing_id  # written before (a replay): not a new answer
        log.warning("auto-reply %s to %s suppressed: %s limit", ikey, ",".join(mail.to), limit)
        return None
    if mail.thread_notification and case_ref and not mail.in_reply_to:
        mail = _under_notification(session, mail, case_ref)
    raw, message_id = render_raw(config, mail, case_ref, now=now, secret=secret)
    bounce_token = tokens.new_bounce_token()
    # Written as values, not through the unit of work nor as an `OutboxMail` (building one
    # cost more than the INSERT): later queries of the transaction see the row.
    values = {
        "idempotency_key": ikey,
        "case_ref": case_ref,
        "template": mail.template,
        "recipients": [a.lower() for a in mail.to],
        "recipient": mail.to[0].lower() if mail.to else "",
        "envelope_from": tokens.bounce_address(config.instance.generic_address, bounce_token),
        "bounce_token": bounce_token,
        "message_id": message_id,
        "raw": raw,
        "auto": mail.auto,
        "essential": mail.auto and mail.essential,
        "sensitive": mail.sensitive,
        "created_at": now,
        "next_attempt_at": now,
    }
    # One statement: the key is new but for a replay, which finds the row written before.
    new_id = insert_ignore_returning(session, OutboxMail, values, ["idempotency_key"], "id")
    return int(new_id) if new_id is not None else _existing(session, ikey)


def _existing(session: Session, ikey: str) -> int | None:
    """The id of the outbox row written with the idempotency key `ikey`, if any."""
    found = session.connection().execute(_by_key(), {"ikey": ikey}).scalar()
    return int(found) if found is not None else None


def _under_notification(session: Session, mail: SendMail, case_ref: str) -> SendMail:
    """`mail` threaded under the last reviewer notification of the case sent to its recipient
    (a Message-ID carrying a reviewer token), or as it is when there is none."""
    prefix = f"<{case_ref}.{tokens.REVIEWER_PURPOSE}."
    stmt = (
        select(OutboxMail.message_id)
        .where(
            OutboxMail.case_ref == case_ref,
            OutboxMail.recipient == mail.to[0].lower(),
            col(OutboxMail.message_id).startswith(prefix),
        )
        .order_by(col(OutboxMail.id).desc())
    )
    last = session.connection().execute(stmt).scalar()
    return replace(mail, in_reply_to=last, references=(last,)) if last else mail


class OutboxPortalMailer:
    """mailbot's side of `mailbot.portal.PortalMailer`: the portal's own mail (a password-reset
    link) is rendered from mailbot's templates and written to the outbox, in a transaction of
    its own, once per key (no case: the key is `-:<key>`)."""

    def __init__(
        self,
        config: Config,
        engine: Engine,
        *,
        now: Callable[[], datetime] | None = None,
        secret: bytes | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.now = now or (lambda: datetime.now(UTC))
        self.secret = secret

    def queue(
        self,
        template: str,
        to: Sequence[str],
        context: Mapping[str, Any],
        key: str,
        *,
        sensitive: bool = False,
    ) -> None:
        mail = SendMail(
            template=template, to=tuple(to), context=dict(context), key=key, sensitive=sensitive
        )
        with session_scope(self.engine) as session:
            enqueue_mail(session, self.config, mail, None, now=self.now(), secret=self.secret)
