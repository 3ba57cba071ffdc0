"""Parsing a raw message into a `ParsedMail` that never lies and never raises.

The stdlib parser (`email` with `policy.default`) accepts anything; the steps after it raise
(`notes/untrusted-input.md`): CR/LF in decoded values, `RecursionError` on nested comments,
`IndexError` on a garbage Message-ID, `LookupError` on unknown charsets. So every header value
is capped before any work is done on it, each step is wrapped, and what went wrong is kept in
`ParsedMail.defects` (English, for the log).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import Policy
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache
from typing import Any

from mailbot.mail import mimetext, sender, tokens
from mailbot.mail.bodies import BodyWalker
from mailbot.mail.mimeparts import (
    HEADERS,
    MSGID_RE,
    ParsedAttachment,
    ParseLimits,
    capped_policy,
    content_type_of,
    decoded_header,
    message_id_of,
    param_of,
    quoted_message_id,
    unfold,
)
from mailbot.mail.mimetext import clean_header_value, unsurrogate

__all__ = [
    "HeaderView",
    "ParseLimits",
    "ParsedAttachment",
    "ParsedMail",
    "clean_header_value",
    "find_case_ref",
    "parse_message",
]

MAX_HEADER_FIELDS = 1000  # header fields kept per message part; the rest are ignored
_ANGLE_ADDR_RE = re.compile(r"<\s*([^<>\s@]{1,200}@[^<>\s@]{1,255})\s*>")
_ADDR_FALLBACK_RE = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]{1,200}@[\w-]{1,63}(?:\.[\w-]{1,63})+")
_SUBJECT_TAG_RE = re.compile(rf"\[\s*({tokens.CASE_REF_PATTERN})\s*\]", re.IGNORECASE)


class HeaderView:
    """Case-insensitive, multi-valued, read-only view of the (capped) raw header values."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = [(name.lower(), value) for name, value in items]

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [value for n, value in self._items if n == key]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n == name.lower() for n, _ in self._items)

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class ParsedMail:
    subject: str
    from_addr: str | None
    from_name: str | None
    to: list[str]
    cc: list[str]
    reply_to: list[str]
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    date: datetime | None
    return_path: str | None  # None: no header; "": the null sender `<>`
    headers: HeaderView
    text: str
    html: str | None
    attachments: list[ParsedAttachment]
    is_multipart_report: bool = False
    report_type: str | None = None
    # The delivery-status fields (RFC 3464 §2.2, §2.3), lower-case names: the per-message
    # fields, overlaid by those of the first failed recipient (else the first recipient).
    delivery_status: dict[str, str] = field(default_factory=dict)
    delivery_recipients: list[dict[str, str]] = field(default_factory=list)
    original_message_id: str | None = None
    defects: list[str] = field(default_factory=list)
    # The body could not be parsed at all (nesting beyond what the parser survives, a broken
    # structure): only the header block was read. Such a mail is quarantined, never answered.
    unparsable: bool = False


_ADDRESS_LIKE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def parse_message(raw: bytes, limits: ParseLimits | None = None) -> ParsedMail:
    """Parse `raw` (RFC 5322 bytes). Never raises on hostile input."""
    limits = limits or ParseLimits.from_config()
    defects: list[str] = []
    pol = capped_policy(limits.max_header_chars)
    unparsable = False
    try:
        msg: Message = BytesParser(policy=pol).parsebytes(raw)
    except Exception as err:  # RecursionError on thousands of nested parts, among others
        defects.append(f"message not parsable: {type(err).__name__}")
        unparsable = True
        msg = _header_block(raw, pol, defects)
    headers = _header_view(msg, limits, defects)
    body = BodyWalker(limits, defects)
    if not unparsable:
        body.walk(msg, depth=0, nested=False)
    from_name, from_addr = _first_address(headers, "from", defects)
    text = body.text()
    return ParsedMail(
        subject=_hostile_text(
            _subject(headers, limits, defects), "subject", limits.max_header_chars, defects
        ),
        from_addr=from_addr,
        from_name=_hostile_text(from_name, "from", 200, defects) or None,
        to=_address_list(headers, "to", defects),
        cc=_address_list(headers, "cc", defects),
        reply_to=_address_list(headers, "reply-to", defects),
        message_id=message_id_of(headers.get("message-id"), "Message-ID", defects),
        in_reply_to=_in_reply_to(headers.get("in-reply-to"), defects),
        references=_references(headers.get_all("references")),
        date=_date(headers.get("date"), defects),
        return_path=_return_path(headers.get("return-path")),
        headers=headers,
        text=text,
        html=body.html(),
        attachments=body.attachments,
        is_multipart_report=content_type_of(msg) == "multipart/report",
        report_type=param_of(msg, "report-type"),
        delivery_status=body.delivery_status(),
        delivery_recipients=body.recipients,
        original_message_id=body.original_message_id or quoted_message_id(text),
        defects=defects,
        unparsable=unparsable,
    )


def _hostile_text(value: str | None, name: str, max_len: int, defects: list[str]) -> str:
    """The display name or subject as it may reach a mail, a page or a log: markup and
    invisible characters removed (`mimetext.clean_display_text`); a name that was only markup
    is "" (no name)."""
    if not value:
        return ""
    cleaned = mimetext.clean_display_text(value, max_len)
    if cleaned != value[:max_len]:
        defects.append(f"{name}: markup or invisible characters removed")
    return cleaned


def _header_block(raw: bytes, pol: Policy, defects: list[str]) -> Message:
    """The header block alone, when the whole message cannot be parsed: who sent it and what
    it is about survive, so it can be quarantined and reported with them."""
    try:
        return BytesParser(policy=pol).parsebytes(raw, headersonly=True)
    except Exception as err:
        defects.append(f"header block not parsable: {type(err).__name__}")
        return EmailMessage(policy=pol)


# --------------------------------------------------------------------------- headers


def _header_view(msg: Message, limits: ParseLimits, defects: list[str]) -> HeaderView:
    items: list[tuple[str, str]] = []
    try:
        raw_items = list(msg.raw_items())
    except Exception as err:
        defects.append(f"headers not readable: {type(err).__name__}")
        raw_items = []
    if len(raw_items) > MAX_HEADER_FIELDS:
        defects.append(f"{len(raw_items)} header fields: only the first {MAX_HEADER_FIELDS} read")
        raw_items = raw_items[:MAX_HEADER_FIELDS]
    for name, value in raw_items:
        text = str(value)
        if len(text) > limits.max_header_chars:
            defects.append(f"header {name[:40]} over {limits.max_header_chars} characters: cut")
            text = text[: limits.max_header_chars]
        items.append((str(name)[:100], unsurrogate(text)))
    return HeaderView(items)


def _subject(headers: HeaderView, limits: ParseLimits, defects: list[str]) -> str:
    value = headers.get("subject")
    if value is None:
        return ""
    decoded = decoded_header("subject", value, defects)
    if re.search(r"[\r\n\x00]", decoded):
        defects.append("subject: control characters removed")
    return clean_header_value(decoded, limits.max_header_chars)


def _parse_addresses(name: str, value: str, defects: list[str]) -> list[tuple[str, str]]:
    """(display name, address) pairs; never raises (nested comments, garbage…). Values up to
    `_CACHED_CHARS` are read once: the same few recur (the generic address in To, a
    requester's From), and the `email` package's address grammar is the dearest part of
    reading a mail's headers."""
    if len(value) > _CACHED_CHARS:
        return _read_addresses(name, value, defects)
    pairs, found = _cached_addresses(name, value)
    defects.extend(found)
    return list(pairs)


_CACHED_CHARS = 400


@lru_cache(maxsize=256)
def _cached_addresses(name: str, value: str) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    defects: list[str] = []
    pairs = _read_addresses(name, value, defects)
    return tuple(pairs), tuple(defects)


def _read_addresses(name: str, value: str, defects: list[str]) -> list[tuple[str, str]]:
    value = unfold(value)
    try:
        header: Any = HEADERS(name, value)  # an AddressHeader for the names read here
        pairs = [(unsurrogate(a.display_name), a.addr_spec) for a in header.addresses]
        if "@" in value:  # `<b>Jean</b> <j@x.fr>` reads as the address `b`: not an address
            pairs = [(n, a) for n, a in pairs if "@" in a]
        if pairs or "@" not in value:
            return pairs
    except Exception as err:  # RecursionError on thousands of nested comments
        defects.append(f"{name}: address list not parsable ({type(err).__name__})")
    angle = _ANGLE_ADDR_RE.findall(value)
    if angle:
        # Only the angle-addrs are trusted once the grammar failed: a display name with an
        # encoded `Bcc:` would otherwise read as a group name (RFC 5322 §3.4).
        match = _ANGLE_ADDR_RE.search(value)  # not the first `<`: `<b>Jean</b> <j@x.fr>`
        first = match.start() if match else value.find("<")
        prefix = mimetext.strip_comments(value[:first])
        display = unsurrogate(mimetext.decode_words_fallback(prefix)).strip().strip('"')
        return [(display if i == 0 else "", a) for i, a in enumerate(angle)]
    try:
        pairs = [(n, a) for n, a in getaddresses([value]) if a]
        if pairs:
            return pairs
    except Exception as err:
        defects.append(f"{name}: fallback parser failed ({type(err).__name__})")
    return [("", a) for a in _ADDR_FALLBACK_RE.findall(value)]


def _clean_address(address: str) -> str | None:
    address = clean_header_value(address, 320).strip("<> ").lower()
    return address or None


def _first_address(
    headers: HeaderView, name: str, defects: list[str]
) -> tuple[str | None, str | None]:
    """(display name, address) of the single mailbox of `name`, read strictly
    (`mailbot.mail.sender`): several mailboxes or no valid addr-spec give no address."""
    values = headers.get_all(name)
    if not values:
        return None, None
    if len(values) > 1:
        defects.append(f"{name}: {len(values)} fields, no address taken")
        return None, None
    value = unfold(values[0])
    mailbox = sender.strict_mailbox(value)
    if mailbox is None:
        defects.append(f"{name}: no single valid address found")
        return None, None
    defects.extend(f"{name}: {w}" for w in mailbox.warnings)
    display = _display_name(name, value, mailbox, defects)
    if any(a.lower() != mailbox.address for a in _ADDRESS_LIKE.findall(display)):
        # « relecteur@ministere.fr <evil@…> »: shown as the sender's name it would lie
        defects.append(f"{name}: the display name shows another address: dropped")
        display = ""
    cleaned_name = clean_header_value(display, 200) if display else ""
    if display and cleaned_name != display.strip():
        defects.append(f"{name}: control characters removed from the display name")
    return cleaned_name or None, mailbox.address


def _display_name(name: str, value: str, mailbox: sender.Mailbox, defects: list[str]) -> str:
    """The stdlib's decoded display name when it read the same address, else the phrase
    decoded here (RFC 2047 words, quotes removed)."""
    pairs = _parse_addresses(name, value, defects)
    if len(pairs) == 1 and _clean_address(pairs[0][1]) == mailbox.address:
        return pairs[0][0]
    phrase = mailbox.phrase.strip()
    if len(phrase) >= 2 and phrase.startswith('"') and phrase.endswith('"'):
        phrase = re.sub(r"\\(.)", r"\1", phrase[1:-1])
    return unsurrogate(mimetext.decode_words_fallback(phrase)).strip()


def _address_list(headers: HeaderView, name: str, defects: list[str]) -> list[str]:
    found: list[str] = []
    for value in headers.get_all(name):
        for _display, address in _parse_addresses(name, value, defects):
            bare = _clean_address(address)
            if bare and bare not in found:
                found.append(bare)
    return found


def _msgid_text(value: str) -> str:
    """A msg-id header value unfolded and with its RFC 2047 encoded-words decoded: some
    libraries encode In-Reply-To/References (`=?utf-8?q?=3CREF=2E…=40host=3E?=`); RFC 5322
    does not allow it, but the identifier inside is the one we sent."""
    value = unfold(value)
    if "=?" in value:
        value = unsurrogate(mimetext.decode_words_fallback(value))
    return value


def _in_reply_to(value: str | None, defects: list[str]) -> str | None:
    if value is None:
        return None
    return message_id_of(_msgid_text(value), "In-Reply-To", defects)


def _references(values: list[str]) -> list[str]:
    found: list[str] = []
    for value in values:
        for match in MSGID_RE.finditer(_msgid_text(value)):
            mid = f"<{match.group(1)}>"
            if mid not in found:
                found.append(mid)
    return found


def _date(value: str | None, defects: list[str]) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        parsed = parsedate_to_datetime(clean_header_value(value, 200))
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append("Date: not a date")
        return None
    if parsed.tzinfo is None:  # RFC 5322 §3.3 "-0000": the time is UTC, the zone unknown
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _return_path(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = clean_header_value(unfold(value), 400)
    match = re.search(r"<([^<>]*)>", cleaned)
    address = match.group(1) if match else cleaned
    # RFC 5321 §4.5.5: `<>` is the null reverse-path of bounces and auto-replies.
    return clean_header_value(address).strip().lower()


def find_case_ref(
    subject: str | None,
    in_reply_to: str | None,
    references: list[str] | tuple[str, ...],
    domain: str | None = None,
) -> str | None:
    """The case a mail belongs to: In-Reply-To first, then References (newest first), then a
    `[Q-…]`/`[ABO-…]` tag in the subject. A Message-ID counts when it starts with a case
    reference (and, given `domain`, is one of ours on that domain)."""
    for mid in ([in_reply_to] if in_reply_to else []) + list(reversed(references)):
        ref = _ref_of_message_id(mid, domain)
        if ref:
            return ref
    if subject:
        match = _SUBJECT_TAG_RE.search(subject)
        if match:
            return match.group(1).upper()
    return None


def _ref_of_message_id(mid: str, domain: str | None) -> str | None:
    if domain is not None:
        ours = tokens.parse_our_message_id(mid, domain)
        return ours.case_ref if ours else None
    match = re.match(rf"<?({tokens.CASE_REF_PATTERN})\.[^@]+@", mid.strip())
    return match.group(1) if match else None
