"""Rendering outgoing mails from `templates/<name>/` into RFC 5322 messages.

Every mail we send: a Message-ID in our domain (carrying the reviewer token for a reviewer
notification), In-Reply-To/References when it answers, the case tag in the subject,
`Auto-Submitted` (RFC 3834 §5), `X-Mailbot-Instance`, French text and HTML parts. Values that
come from incoming mail (subjects, display names) are cleaned so they can never inject a header.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email import policy
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
from mailbot.mail.mimetext import clean_display_text
from mailbot.mail.parse import clean_header_value
from workflows.calendar import PARIS, french_date
from workflows.core import SendMail

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# How our mails go on the wire: CRLF, and headers folded only past RFC 5322's 998 characters.
# With the default 78, Python encodes a long Message-ID in In-Reply-To/References as an
# RFC 2047 word, which breaks threading in every client.
WIRE_POLICY = policy.SMTP.clone(max_line_length=998)


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
    env = environment()
    subject = env.get_template(f"{template}/subject.txt").render(context)
    text = env.get_template(f"{template}/body.txt").render(context)
    html: str | None = None
    if has_html(template):
        html = env.get_template(f"{template}/body.html").render(context)
    return clean_header_value(subject), text, html


def mailbox(addr: str, display_name: str | None = None) -> str:
    """`Name <addr>` for an address header; never raises. A name that is empty once cleaned
    (`clean_display_text`), carries RFC 2047 syntax or that the header model refuses gives the
    bare address; an address the model refuses is written as it is (the relay refuses it,
    which reaches the workflow as a delivery failure instead of a quarantined mail)."""
    bare = clean_header_value(addr, 320).strip("<> ")
    name = clean_display_text(display_name or "", 120)
    if "=?" in name:  # some clients decode encoded words even inside a quoted string
        name = ""
    for candidate in ((name, bare), ("", bare)) if name else (("", bare),):
        try:
            return str(Address(display_name=candidate[0], addr_spec=candidate[1]))
        except (ValueError, IndexError, TypeError, HeaderParseError):
            continue
    return bare


def build_message(
    config: Config,
    mail: SendMail,
    case_ref: str | None,
    *,
    now: datetime | None = None,
    secret: bytes | None = None,
) -> EmailMessage:
    now = now or datetime.now(UTC)
    context = {**common_context(config, case_ref, now), **mail.context}
    subject, text, html = render(mail.template, context)
    if case_ref and f"[{case_ref}]" not in subject:
        subject = f"[{case_ref}] {subject}"
    msg = EmailMessage()
    msg["From"] = mailbox(config.instance.generic_address, config.instance.name)
    msg["Reply-To"] = config.instance.generic_address
    msg["To"] = ", ".join(mailbox(a) for a in mail.to)
    msg["Subject"] = subject
    # Paris time, as every date the users read (RFC 5322 allows any zone offset)
    msg["Date"] = format_datetime(
        (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(PARIS)
    )
    domain = config.instance.domain
    if mail.reviewer:
        if secret is None:
            secret = config.secret()
        msg["Message-ID"] = tokens.reviewer_message_id(
            domain, case_ref or "", mail.reviewer, secret
        )
    else:
        msg["Message-ID"] = tokens.new_message_id(domain, case_ref, mail.template)
    if mail.in_reply_to:
        msg["In-Reply-To"] = clean_header_value(mail.in_reply_to, 998)
    refs = [clean_header_value(r, 998) for r in mail.references if r]
    if mail.in_reply_to and mail.in_reply_to not in refs:
        refs.append(clean_header_value(mail.in_reply_to, 998))
    if refs:
        # RFC 5322 §3.6.4: keep the thread root and the most recent ids when the list is long.
        if len(refs) > 10:
            refs = refs[:1] + refs[-9:]
        msg["References"] = " ".join(refs)
    msg["Auto-Submitted"] = "auto-replied" if mail.auto else "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Mailbot-Instance"] = domain
    if case_ref:
        msg["X-Mailbot-Case"] = case_ref
    msg.set_content(text, subtype="plain", charset="utf-8")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8")
    for att in mail.attachments:
        maintype, _, subtype = att.content_type.partition("/")
        msg.add_attachment(
            att.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=clean_header_value(att.filename, 200) or "piece-jointe",
        )
    return msg
