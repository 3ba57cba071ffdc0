"""The outbox: outgoing mails written in the transaction of the decision that made them.

A mail is keyed by `<case ref>:<key>`: writing the same key twice keeps the first (invariant 2).
Automatic answers are rate-limited per address (invariant 4).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from mailbot.config import Config
from mailbot.mail import tokens
from mailbot.mail.compose import WIRE_POLICY, build_message
from storage.db import session_scope
from storage.models import OutboxMail
from workflows.core import SendMail

log = logging.getLogger(__name__)

REDACTED_NOTE = (
    "[Contenu retiré après envoi : ce message contenait des informations de connexion.]\n"
)


def idempotency_key(case_ref: str | None, key: str) -> str:
    return f"{case_ref or '-'}:{key}"


def auto_replies_sent(session: Session, address: str, since: datetime) -> int:
    stmt = (
        select(func.count())
        .select_from(OutboxMail)
        .where(
            col(OutboxMail.auto).is_(True),
            OutboxMail.created_at >= since,
            OutboxMail.recipient == address,
        )
    )
    return int(session.exec(stmt).one())


def enqueue_mail(
    session: Session,
    config: Config,
    mail: SendMail,
    case_ref: str | None,
    *,
    now: datetime | None = None,
    secret: bytes | None = None,
) -> OutboxMail | None:
    """Render `mail` and add it to the outbox in `session`'s transaction.

    Returns the outbox row (the existing one when the key was already written), or None when
    an automatic answer was suppressed by the per-address rate limit.
    """
    now = now or datetime.now(UTC)
    ikey = idempotency_key(case_ref, mail.key)
    existing = session.exec(select(OutboxMail).where(OutboxMail.idempotency_key == ikey)).first()
    if existing is not None:
        return existing
    if mail.auto:
        limit = config.limits.auto_replies_per_address_per_day
        for address in mail.to:
            if auto_replies_sent(session, address.lower(), now - timedelta(days=1)) >= limit:
                log.warning("auto-reply to %s suppressed: %d in 24 h", address, limit)
                return None
    msg = build_message(config, mail, case_ref, now=now, secret=secret)
    bounce_token = tokens.new_bounce_token()
    row = OutboxMail(
        idempotency_key=ikey,
        case_ref=case_ref,
        template=mail.template,
        recipients=[a.lower() for a in mail.to],
        recipient=mail.to[0].lower() if mail.to else "",
        envelope_from=tokens.bounce_address(config.instance.generic_address, bounce_token),
        bounce_token=bounce_token,
        message_id=str(msg["Message-ID"]),
        raw=msg.as_bytes(policy=WIRE_POLICY),
        auto=mail.auto,
        sensitive=mail.sensitive,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(row)
    session.flush()
    return row


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
