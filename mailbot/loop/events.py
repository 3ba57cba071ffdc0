"""From a classified mail (or an outbox failure) to the workflow event it is.

One function per event kind, each reusing what classification already computed (the reply
text, the spreadsheet found by content): nothing here parses a mail twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from mailbot.annex.sniff import describe_content, is_spreadsheet, named_as_spreadsheet
from mailbot.mail.classify import Classification
from mailbot.mail.parse import ParsedMail
from storage.models import OutboxMail
from workflows.annex.formulas import copy_filename
from workflows.core import Attachment, DeliveryFailed, MailReceived, ReviewerReply
from workflows.text.directives import parse_directives
from workflows.text.invisible import strip_invisible

# (bytes, filename) -> what `mailbot annex parse --json` prints
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
AnnexParser = Callable[[bytes, str | None], Mapping[str, Any]]


def sender_of(mail: ParsedMail) -> str:
    """The From address of a mail we act on (mail without one is ignored before this)."""
    if not mail.from_addr:
        raise ValueError("a mail without a sender reached a workflow")
    return mail.from_addr


def references(mail: ParsedMail) -> tuple[str, ...]:
    """References then In-Reply-To, oldest first."""
    return tuple(mail.references) + ((mail.in_reply_to,) if mail.in_reply_to else ())


def mail_received(
    mail: ParsedMail, result: Classification, parse_annex: AnnexParser
) -> MailReceived:
    """A requester's mail: the first of a case or a follow-up in its thread."""
    attachment = result.annex_attachment
    annex = parse_annex(attachment.data, attachment.filename) if attachment else None
    return MailReceived(
        sender=sender_of(mail),
        sender_name=mail.from_name,
        subject=mail.subject or "",
        message_id=mail.message_id,
        references=references(mail),
        # shown to reviewers and quoted back: no bidi override nor invisible character
        text=strip_invisible(mail.text or ""),
        new_text=strip_invisible(result.new_text),
        attachments=_attachments(mail, result, annex),
        annex=annex,
        annex_filename=attachment.filename if attachment else None,
        omitted=omitted_attachments(mail),
        not_tables=() if attachment else not_tables(mail),
    )


def _attachments(
    mail: ParsedMail, result: Classification, annex: Mapping[str, Any] | None
) -> tuple[Attachment, ...]:
    """The mail's attachments as they may be passed on (size limits applied by the parser: an
    oversized one has no data). The annex spreadsheet itself never is: it is replaced by its
    values-only copy (`mailbot.annex.safecopy`), or left out when it gave no table; the
    original stays in the journal."""
    kept: list[Attachment] = []
    for a in mail.attachments:
        if a is result.annex_attachment:
            # written by the worker in the job that read the table (`AnnexResult`); None when the
            # table gave no person to show
            copy = getattr(annex, "values_copy", None)
            if copy:
                kept.append(Attachment(copy_filename(a.filename), XLSX_TYPE, copy))
        elif a.data:
            kept.append(Attachment(a.filename or "piece-jointe", a.content_type, a.data))
    return tuple(kept)


def omitted_attachments(mail: ParsedMail) -> tuple[str, ...]:
    """« schema.pdf (15,2 Mo) » for each attachment the parser kept no data of (too large)."""
    return tuple(
        f"{a.filename or 'pièce jointe sans nom'} ({_size(a.size)})"
        for a in mail.attachments
        if a.size and not a.data
    )


def not_tables(mail: ParsedMail) -> tuple[str, ...]:
    """« « annexe.xlsx », un document PDF » for each attachment named as a spreadsheet that is
    not one by its content (the form printed to PDF and renamed, a web page saved as .xls): a
    request asked for its table again says why the file sent was not read. Only the first bytes
    are looked at, in the daemon as classification does; nothing is parsed."""
    found = []
    for a in mail.attachments:
        name = " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", strip_invisible(a.filename or "")).split())
        if not a.data or not named_as_spreadsheet(name) or is_spreadsheet(a.data):
            continue
        shown = name if len(name) <= 80 else name[:79] + "…"
        found.append(f"« {shown} », {describe_content(a.data)}")
    return tuple(found)


def _size(size: int) -> str:
    """« 15,2 Mo », or « 640 Ko » under a megabyte (a limit set low shows no « 0,0 Mo »)."""
    if size < 1_048_576:
        return f"{max(1, round(size / 1024))}\u00a0Ko"
    return f"{size / 1_048_576:.1f}".replace(".", ",") + "\u00a0Mo"


def reviewer_reply(mail: ParsedMail, result: Classification, case_kind: str) -> ReviewerReply:
    """An authenticated reviewer's reply: its commands and directives read from the new text."""
    return _reply(
        sender_of(mail),
        mail.from_name,
        mail.message_id,
        references(mail),
        result.new_text,
        case_kind,
    )


def _reply(
    author: str,
    name: str | None,
    message_id: str | None,
    refs: tuple[str, ...],
    text: str,
    case_kind: str,
) -> ReviewerReply:
    parsed = parse_directives(strip_invisible(text), case_kind)
    return ReviewerReply(
        reviewer=author,
        reviewer_name=name,
        message_id=message_id,
        references=refs,
        new_text=parsed.text,
        directives=tuple(parsed.directives),
        command=parsed.command,
        errors=tuple(parsed.errors),
    )


def delivery_failed(row: OutboxMail, reason: str, via: Literal["smtp", "bounce"]) -> DeliveryFailed:
    """A mail that will never arrive: refused for good by our relay (5xx) or bounced."""
    return DeliveryFailed(
        recipient=",".join(row.recipients), template=row.template, reason=reason[:300], via=via
    )


def admin_reply(admin: str, text: str, case_kind: str) -> ReviewerReply:
    """An admin deciding for a reviewer (the desk, `mailbot cases`): the same event a reviewer's
    mail makes, read from the same text by the same parser, with the admin as its author. The
    admin was authenticated by the desk's sign-in or by `--as`, not by a token; with no mail
    to reply to, the workflow's mails to the admin start a thread of their own."""
    return _reply(admin, None, None, (), text, case_kind)
