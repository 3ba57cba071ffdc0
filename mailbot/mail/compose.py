"""Rendering outgoing mails from `templates/<name>/` into RFC 5322 messages.

Every mail we send: a Message-ID in our domain (carrying the reviewer token for a reviewer
notification), In-Reply-To/References when it answers, the case tag in the subject,
`Auto-Submitted` (RFC 3834 §5), `X-Mailbot-Instance`, French text and HTML parts. Values that
come from incoming mail (subjects, display names) are cleaned so they can never inject a header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from mailbot.config import Config
from mailbot.mail import tokens
from mailbot.mail.mimeparts import PLAIN_POLICY
from mailbot.mail.mimetext import clean_display_text
from mailbot.mail.parse import clean_header_value
from workflows.calendar import PARIS, french_date
from workflows.core import Attachment, SendMail

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# How our mails go on the wire: CRLF, and headers folded only past RFC 5322's 998 characters.
# With the default 78, Python encodes a long Message-ID in In-Reply-To/References as an
# RFC 2047 word, which breaks threading in every client.
WIRE_POLICY = PLAIN_POLICY.clone(linesep="\r\n", max_line_length=998)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        # Templates change only with a deployment (and a restart): a compiled template is not
        # checked against its file again (three stat() calls per mail otherwise).
        auto_reload=False,
    )
    env.filters["date_fr"] = french_date
    return env


def common_context(config: Config, case_ref: str | None, now: datetime) -> dict[str, Any]:
    return {
        "case_ref": case_ref,
        "instance_name": config.instance.name,
        "portal_url": config.portal.base_url,
        "generic_address": config.instance.generic_address,
        "now": now,
    }


@lru_cache(maxsize=256)
def has_html(template: str) -> bool:
    return (TEMPLATES / template / "body.html").exists()


def render(template: str, context: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """(subject, text body, html body or None) of `templates/<template>/`."""
    subject = _template(f"{template}/subject.txt").render(context)
    text = _template(f"{template}/body.txt").render(context)
    html: str | None = None
    if has_html(template):
        html = _template(f"{template}/body.html").render(context)
    return clean_header_value(subject), text, html


@lru_cache(maxsize=512)
def _template(name: str) -> jinja2.Template:
    """A compiled template, looked up once (jinja's own look-up costs more than a dict's)."""
    return environment().get_template(name)


Mailbox = tuple[str, str, str]
"""(display name kept, bare address, the `Name <addr>` text written in the header)."""


@lru_cache(maxsize=512)
def mailbox_parts(addr: str, display_name: str | None = None) -> Mailbox:
    """The parts of `mailbox(addr, display_name)` (cached: the same few addresses recur, the
    generic address, the reviewers' and the admins'; 512 of them, since each requester's
    address is seen a few times only and 4,096 cost 1.2 MB kept for the process's life)."""
    bare = clean_header_value(addr, 320).strip("<> ")
    name = clean_display_text(display_name or "", 120)
    if "=?" in name:  # some clients decode encoded words even inside a quoted string
        name = ""
    for candidate in ((name, bare), ("", bare)) if name else (("", bare),):
        try:
            return candidate[0], bare, str(Address(display_name=candidate[0], addr_spec=bare))
        except (ValueError, IndexError, TypeError, HeaderParseError):
            continue
    return "", bare, bare


def mailbox(addr: str, display_name: str | None = None) -> str:
    """`Name <addr>` for an address header; never raises. A name that is empty once cleaned
    (`clean_display_text`), carries RFC 2047 syntax or that the header model refuses gives the
    bare address; an address the model refuses is written as it is (the relay refuses it,
    which reaches the workflow as a delivery failure instead of a quarantined mail)."""
    return mailbox_parts(addr, display_name)[2]


@dataclass(frozen=True)
class Outgoing:
    """An outgoing mail before serialisation: the headers in their order (From, Reply-To and
    To as mailboxes, the others as cleaned text), the bodies and the attachments."""

    sender: Mailbox
    reply_to: Mailbox
    to: tuple[Mailbox, ...]
    subject: str
    headers: tuple[tuple[str, str], ...]
    text: str
    html: str | None
    attachments: tuple[Attachment, ...]

    @property
    def message_id(self) -> str:
        return dict(self.headers)["Message-ID"]


def outgoing(
    config: Config,
    mail: SendMail,
    case_ref: str | None,
    *,
    now: datetime | None = None,
    secret: bytes | None = None,
) -> Outgoing:
    """`mail` rendered, with every header value it will carry."""
    now = now or datetime.now(UTC)
    context = {**common_context(config, case_ref, now), **mail.context}
    subject, text, html = render(mail.template, context)
    if case_ref and f"[{case_ref}]" not in subject:
        subject = f"[{case_ref}] {subject}"
    # Paris time, as every date the users read (RFC 5322 allows any zone offset)
    date = format_datetime((now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(PARIS))
    headers = [("Date", date)]
    domain = config.instance.domain
    if mail.reviewer:
        if secret is None:
            secret = config.secret()
        message_id = tokens.reviewer_message_id(domain, case_ref or "", mail.reviewer, secret)
    else:
        message_id = tokens.new_message_id(domain, case_ref, mail.template)
    headers.append(("Message-ID", message_id))
    if mail.in_reply_to:
        headers.append(("In-Reply-To", clean_header_value(mail.in_reply_to, 998)))
    refs = [clean_header_value(r, 998) for r in mail.references if r]
    if mail.in_reply_to and mail.in_reply_to not in refs:
        refs.append(clean_header_value(mail.in_reply_to, 998))
    if refs:
        # RFC 5322 §3.6.4: keep the thread root and the most recent ids when the list is long.
        if len(refs) > 10:
            refs = refs[:1] + refs[-9:]
        headers.append(("References", " ".join(refs)))
    headers.append(("Auto-Submitted", "auto-replied" if mail.auto else "auto-generated"))
    headers.append(("X-Auto-Response-Suppress", "All"))
    headers.append(("X-Mailbot-Instance", domain))
    if case_ref:
        headers.append(("X-Mailbot-Case", case_ref))
    generic = config.instance.generic_address
    return Outgoing(
        sender=mailbox_parts(generic, config.instance.name),
        reply_to=mailbox_parts(generic),
        to=tuple(mailbox_parts(a) for a in mail.to),
        subject=subject,
        headers=tuple(headers),
        text=text,
        html=html,
        attachments=mail.attachments,
    )


def to_email_message(out: Outgoing) -> EmailMessage:
    """`out` as an `EmailMessage` (the `email` package's header model and serialisation)."""
    msg = EmailMessage(policy=PLAIN_POLICY)  # `policy.default`, header classes built once
    msg["From"] = out.sender[2]
    msg["Reply-To"] = out.reply_to[2]
    msg["To"] = ", ".join(m[2] for m in out.to)
    msg["Subject"] = out.subject
    for name, value in out.headers:
        msg[name] = value
    msg.set_content(out.text, subtype="plain", charset="utf-8")
    if out.html is not None:
        msg.add_alternative(out.html, subtype="html", charset="utf-8")
    for att in out.attachments:
        maintype, _, subtype = att.content_type.partition("/")
        msg.add_attachment(
            att.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment_name(att),
        )
    return msg


def attachment_name(att: Attachment) -> str:
    return clean_header_value(att.filename, 200) or "piece-jointe"


def build_message(
    config: Config,
    mail: SendMail,
    case_ref: str | None,
    *,
    now: datetime | None = None,
    secret: bytes | None = None,
) -> EmailMessage:
    return to_email_message(outgoing(config, mail, case_ref, now=now, secret=secret))
