"""The SMTP side of the embedded mail system (internal to mailbot.dev.devmail, except
`build_bounce`): the aiosmtpd handler, local delivery into maildirs and RFC 3464 bounces."""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import socket
import time
import uuid
from datetime import datetime
from email import policy
from email.header import Header, decode_header, make_header
from email.parser import BytesHeaderParser
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mailbot.dev.devmail.pymap_fixes import normalize_crlf

if TYPE_CHECKING:
    from mailbot.dev.devmail.system import DevMailSystem

__all__ = ["MailDelivery", "build_bounce", "split_address", "write_to_maildir"]

# One logger for the whole package: docs/mail-servers.md names `mailbot.dev.devmail`.
log = logging.getLogger(__package__)

_delivery_counter = itertools.count()


def split_address(address: str) -> tuple[str, str]:
    local, _, domain = address.strip().lower().rpartition("@")
    return local, domain


def build_bounce(
    *,
    domain: str,
    original: bytes,
    failed: list[str],
    reason: str,
    arrival: datetime,
    to: str,
) -> bytes:
    """A delivery status notification (RFC 3464) for `failed` recipients of `original`,
    from MAILER-DAEMON@domain: the explanation for people (`reason`, French), the report
    for machines (Status 5.4.4, unable to route; ASCII as RFC 3464 requires) and the original
    headers (text/rfc822-headers, RFC 6522), Message-ID included."""
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(original)
    try:
        subject = str(make_header(decode_header(headers.get("Subject", ""))))
    except (ValueError, LookupError):
        subject = str(headers.get("Subject", ""))
    header_end = original.find(b"\r\n\r\n")
    header_end = original.find(b"\n\n") if header_end < 0 else header_end
    original_headers = normalize_crlf(original if header_end < 0 else original[:header_end])
    boundary = f"=_devmail_{uuid.uuid4().hex}"
    status = "5.4.4"
    human = (
        "Bonjour,\r\n\r\n"
        "Ceci est un avis automatique du système de messagerie de démonstration.\r\n\r\n"
        "Votre message n'a pas pu être remis aux destinataires suivants :\r\n\r\n"
        + "".join(f"    {rcpt}\r\n" for rcpt in failed)
        + f"\r\nMotif : {reason}.\r\n\r\n"
        "Les en-têtes de votre message figurent à la fin de cet avis.\r\n"
    )
    per_recipient = "".join(
        f"\r\nFinal-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} Unable to route: demo system, local domains only\r\n"
        for rcpt in failed
    )
    top = [
        ("From", formataddr(("Système de messagerie", f"MAILER-DAEMON@{domain}"), "utf-8")),
        ("To", f"<{to}>"),
        ("Subject", Header(f"Message non remis : {subject}", "utf-8").encode(linesep="\r\n")),
        ("Date", format_datetime(datetime.now().astimezone())),
        ("Message-ID", make_msgid("bounce", domain=domain)),
        ("Auto-Submitted", "auto-replied"),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/report; report-type=delivery-status; boundary="{boundary}"'),
    ]
    parts = [
        "".join(f"{name}: {value}\r\n" for name, value in top),
        "\r\nCe message est au format MIME.\r\n",
        f"\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n\r\n{human}",
        f"\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; {domain}\r\nArrival-Date: {format_datetime(arrival)}\r\n"
        f"{per_recipient}",
        f"\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n",
    ]
    tail = f"\r\n\r\n--{boundary}--\r\n".encode()
    return "".join(parts).encode() + original_headers + tail


class MailDelivery:
    """The SMTP policy (aiosmtpd hooks): local recipients into their maildir INBOX, the
    others bounced to a local sender or dropped."""

    def __init__(self, system: DevMailSystem) -> None:
        self.system = system

    async def handle_RCPT(  # aiosmtpd hook names
        self,
        _server: SMTP,
        _session: Session,
        envelope: Envelope,
        address: str,
        _options: list[str],
    ) -> str:
        _, domain = split_address(address)
        if domain in self.system.domains and self.system.mailbox_of(address) is None:
            return "550 5.1.1 Adresse inconnue / No such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, _server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        sender = envelope.mail_from or ""
        local = [rcpt for rcpt in envelope.rcpt_tos if self.system.mailbox_of(rcpt)]
        remote = [rcpt for rcpt in envelope.rcpt_tos if rcpt not in local]
        try:
            for rcpt in local:
                self.system.deliver(sender, rcpt, raw, _received(session, rcpt))
            if remote:
                self._bounce(sender, remote, raw)
        except OSError:
            log.exception("devmail: delivery failed")
            return "451 4.3.0 Erreur locale, réessayez plus tard / Local error, try again"
        return "250 2.0.0 OK"

    def _bounce(self, sender: str, remote: list[str], raw: bytes) -> None:
        domains = ", ".join(sorted(self.system.domains))
        if not sender or self.system.mailbox_of(sender) is None:
            log.info("devmail: dropped mail from <%s> to %s (no route outside %s)",
                     sender, ", ".join(remote), domains)  # fmt: skip
            return
        reason = (
            f"ce système de démonstration ne distribue le courrier qu'aux adresses de {domains}"
        )
        dsn = build_bounce(
            domain=self.system.domain,
            original=raw,
            failed=remote,
            reason=reason,
            arrival=datetime.now().astimezone(),
            to=sender,
        )
        log.info("devmail: bounced mail from <%s> to %s", sender, ", ".join(remote))
        self.system.deliver("", sender, dsn, "")

    def authenticate(
        self, _server: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, data: Any
    ) -> AuthResult:
        """AUTH PLAIN/LOGIN with a local address and its password (clients such as
        Thunderbird may insist); never required."""
        ok = False
        if isinstance(data, LoginPassword):
            expected = self.system.users.get(data.login.decode("utf-8", "replace").lower())
            ok = expected is not None and secrets.compare_digest(expected.encode(), data.password)
        # handled=False: aiosmtpd sends the 535 itself (handled=True would leave the client
        # waiting for a reply nobody sends).
        return AuthResult(success=ok, handled=False, auth_data=data)


def _received(session: Session, rcpt: str) -> str:
    """A Received trace field (RFC 5321 §4.4)."""
    peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
    protocol = "ESMTP" if session.extended_smtp else "SMTP"
    now = format_datetime(datetime.now().astimezone())
    helo = session.host_name or "unknown"
    return f"from {helo} ([{peer}])\r\n\tby devmail with {protocol} for <{rcpt}>; {now}"


def write_to_maildir(maildir: Path, sender: str, rcpt: str, raw: bytes, received: str) -> None:
    """Write into `maildir` the way an MDA does (tmp/ then rename into new/), after the trace
    fields: pymap picks it up at its next look (at most 1 s for an IDLE client)."""
    trace = f"Return-Path: <{sender}>\r\nDelivered-To: {rcpt}\r\n"
    if received:
        trace += f"Received: {received}\r\n"
    name = _unique_name()
    tmp_path = maildir / "tmp" / name
    with tmp_path.open("xb") as file:
        file.write(trace.encode() + raw)
    os.rename(tmp_path, maildir / "new" / name)


def _unique_name() -> str:
    """A maildir file name: time, microseconds, pid, counter, host (the maildir(5) recipe)."""
    now = time.time()
    host = socket.gethostname().replace("/", r"\057").replace(":", r"\072")
    return f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}Q{next(_delivery_counter)}.{host}"
