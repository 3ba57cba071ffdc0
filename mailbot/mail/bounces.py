"""Finding which of our mails a bounce is about (RFC 3464 delivery reports).

Every outgoing mail has its own envelope sender `local+b-TOKEN@domain` (CONTRACTS.md), so the
bounce comes back addressed to it; where the token is lost, the Message-ID quoted in the report
still finds the mail.
"""

from __future__ import annotations

import re
from email.utils import parseaddr

from sqlmodel import Session, select

from mailbot.mail.parse import ParsedMail
from mailbot.mail.tokens import parse_bounce_token
from storage.models import OutboxMail

# Dovecot's LMTP records the envelope recipient only in `Received: … for <…>`.
_RECEIVED_FOR = re.compile(r"\bfor\s+<([^<>\s]+@[^<>\s]+)>", re.IGNORECASE)
_ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Received")


def envelope_tokens(mail: ParsedMail, generic_address: str) -> list[str]:
    """Bounce tokens found in the headers that may carry the envelope recipient."""
    found: list[str] = []
    for name in _ENVELOPE_HEADERS:
        for value in mail.headers.get_all(name):
            match = _RECEIVED_FOR.search(value) if name == "Received" else None
            address = match.group(1) if match else parseaddr(value)[1]
            token = parse_bounce_token(address.lower(), generic_address)
            if token and token not in found:
                found.append(token)
    return found


def find_bounced_mail(
    session: Session, mail: ParsedMail, generic_address: str
) -> OutboxMail | None:
    for token in envelope_tokens(mail, generic_address):
        row = session.exec(select(OutboxMail).where(OutboxMail.bounce_token == token)).first()
        if row is not None:
            return row
    if mail.original_message_id:
        return session.exec(
            select(OutboxMail).where(OutboxMail.message_id == mail.original_message_id)
        ).first()
    return None


def bounce_reason(mail: ParsedMail) -> str:
    status = mail.delivery_status or {}
    return str(status.get("diagnostic-code") or status.get("status") or "rejet signalé")
