"""Serialising our outgoing mail straight to bytes.

`email.message.EmailMessage` parses every header it is given into its header model and refolds
it on output: for the two or three mails a message makes, that was the largest share of the
drain's CPU (docs/benchmarks.md). Our mails have one fixed shape (`compose.Outgoing`: ASCII
structural headers, a subject and a sender name in UTF-8, a text and an HTML body, attachments),
so `wire_bytes` writes them directly: RFC 2047 encoded words (`email.header.Header`) for the
subject and display names, quoted-printable bodies and base64 attachments (`binascii`), CRLF.
Anything outside that shape (a non-ASCII address or Message-ID, a line over 998 characters, a
content type that is not a plain token) goes through `EmailMessage` as before.
`tests/test_wire.py` checks that both give the same mail once parsed.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterator
from datetime import datetime
from email import quoprimime
from email.charset import RFC2047_CHROME_LEN, Charset
from email.header import Header
from email.utils import encode_rfc2231
from functools import lru_cache, partial

from mailbot.config import Config
from mailbot.mail.compose import (
    WIRE_POLICY,
    Mailbox,
    Outgoing,
    attachment_name,
    outgoing,
    to_email_message,
)
from workflows.core import Attachment, SendMail

MAX_LINE = 998
_TOKEN = r"[A-Za-z0-9!#$&^_.+-]+"
_CONTENT_TYPE_RE = re.compile(rf"{_TOKEN}/{_TOKEN}")
_QUOTABLE_NAME_RE = re.compile(r"[\x20-\x7e]*")


class _Unfit(Exception):
    """The mail is outside the shape `wire_bytes` writes: `EmailMessage` serialises it."""


def render_raw(
    config: Config,
    mail: SendMail,
    case_ref: str | None,
    *,
    now: datetime | None = None,
    secret: bytes | None = None,
) -> tuple[bytes, str]:
    """(the bytes to send, the Message-ID) of `mail`."""
    out = outgoing(config, mail, case_ref, now=now, secret=secret)
    raw = wire_bytes(out)
    if raw is None:
        raw = to_email_message(out).as_bytes(policy=WIRE_POLICY)
    return raw, out.message_id


def wire_bytes(out: Outgoing) -> bytes | None:
    """`out` on the wire, or None when it does not fit the fixed shape."""
    try:
        lines = [
            _line("From", _mailbox(out.sender)),
            _line("Reply-To", _mailbox(out.reply_to)),
            _line("To", ", ".join(_ascii(m[2]) for m in out.to)),
            _line("Subject", _text(out.subject, "Subject")),
        ]
        lines += [_line(name, _ascii(value)) for name, value in out.headers]
        lines.append("MIME-Version: 1.0")
        body = _body(out)
    except _Unfit:
        return None
    return "\r\n".join(lines).encode("ascii") + b"\r\n" + body


def _line(name: str, value: str) -> str:
    line = f"{name}: {value}"
    if any(len(part) > MAX_LINE for part in line.split("\r\n")):
        raise _Unfit
    return line


def _ascii(value: str) -> str:
    if not value.isascii() or "\r" in value or "\n" in value:
        raise _Unfit
    return value


class _LinearCharset(Charset):
    """`Charset`, whose `header_encode_lines` gives the same encoded words in linear time.

    The standard one re-encodes and re-measures the whole line for each character it adds (to
    find where a word must end): quadratic, and the largest cost of writing a subject. Here
    each character's encoded length is added to the line's: quoted-printable lengths add up
    octet by octet, and base64's depends only on the octet count. `tests/test_wire.py` checks
    the two give the same words."""

    def header_encode_lines(self, string: str, maxlengths: Iterator[int]) -> list[str | None]:
        codec = self.output_codec or "us-ascii"
        encoder_module = self._get_encoder(string.encode(codec))  # type: ignore[attr-defined]
        encoder = partial(encoder_module.header_encode, charset=codec)
        extra = len(self.get_output_charset() or "") + RFC2047_CHROME_LEN
        qp = encoder_module is quoprimime
        lines: list[str | None] = []
        start = 0
        octets = qp_length = 0  # of string[start:i]
        maxlen = next(maxlengths) - extra
        for i, character in enumerate(string):
            data = character.encode(codec)
            added = sum(_QP_LENGTH[o] for o in data) if qp else 0
            length = qp_length + added if qp else -(-(octets + len(data)) // 3) * 4
            if length > maxlen:
                if not lines and i == start:  # nothing fits on the first line
                    lines.append(None)
                else:
                    lines.append(encoder(string[start:i].encode(codec)))
                start, octets, qp_length = i, 0, 0
                maxlen = next(maxlengths) - extra
            octets += len(data)
            qp_length += added
        lines.append(encoder(string[start:].encode(codec)))
        return lines


_QP_LENGTH = [quoprimime.header_length(bytes([octet])) for octet in range(256)]
_UTF8 = _LinearCharset("utf-8")


def _text(value: str, header_name: str) -> str:
    """An unstructured header value: as it is when ASCII, else RFC 2047 encoded words, folded."""
    if value.isascii():
        return _ascii(value)
    return Header(value, _UTF8, header_name=header_name).encode(linesep="\r\n")


def _mailbox(mailbox: Mailbox) -> str:
    name, _, shown = mailbox
    if shown.isascii() or not name:
        return _ascii(shown)
    return _folded_mailbox(shown)


@lru_cache(maxsize=256)
def _folded_mailbox(shown: str) -> str:
    """A mailbox with a non-ASCII display name, encoded by the `email` package's header model
    (only the non-ASCII words, as clients read them back; split encoded words in a display
    name come back with spaces in some parsers). Cached: it is our own sender name."""
    folded: str = WIRE_POLICY.header_factory("From", shown).fold(policy=WIRE_POLICY)
    return folded.removeprefix("From: ").removesuffix("\r\n")


def _body(out: Outgoing) -> bytes:
    text = _text_part("plain", out.text)
    if out.html is not None:
        text = _multipart("alternative", [text, _text_part("html", out.html)])
    if out.attachments:
        return _multipart("mixed", [text] + [_attachment(a) for a in out.attachments])
    return text


def _text_part(subtype: str, content: str) -> bytes:
    try:
        data = content.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: `EmailMessage` decides what to do with it
        raise _Unfit from None
    encoded = binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")
    if encoded and not encoded.endswith(b"\r\n"):
        encoded += b"\r\n"
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    return head.encode("ascii") + encoded


def _attachment(att: Attachment) -> bytes:
    content_type = att.content_type if "/" in att.content_type else "application/octet-stream"
    if not _CONTENT_TYPE_RE.fullmatch(content_type):
        raise _Unfit
    name = attachment_name(att)
    if name.isascii() and _QUOTABLE_NAME_RE.fullmatch(name) and not set('"\\') & set(name):
        disposition = f'attachment; filename="{name}"'
    else:
        disposition = f"attachment; filename*={encode_rfc2231(name, 'utf-8')}"
    head = _line("Content-Type", content_type) + "\r\n"
    head += "Content-Transfer-Encoding: base64\r\n"
    head += _line("Content-Disposition", disposition) + "\r\n\r\n"
    return head.encode("ascii") + base64.encodebytes(att.data).replace(b"\n", b"\r\n")


def _multipart(subtype: str, parts: list[bytes]) -> bytes:
    # Quoted-printable and base64 never hold "==" followed by digits and "==": the boundary
    # cannot occur in a part (RFC 2046 §5.1.1).
    boundary = f"==============={secrets.randbelow(10**19):019d}=="
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'
    chunks = [head.encode("ascii")]
    for part in parts:
        chunks += [f"--{boundary}\r\n".encode("ascii"), part, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(chunks)
