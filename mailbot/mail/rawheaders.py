"""The header block of raw bytes read without parsing the message: what the journal records
first (the Message-ID), and what can still be said of a mail too broken to parse."""

from __future__ import annotations

import email.policy
import re
from email.parser import BytesHeaderParser
from email.utils import parseaddr

# Folded headers (RFC 5322 §2.2.3): Outlook puts a long Message-ID on the next line.
_MID = re.compile(
    rb"^message-id:(?:[ \t]|\r?\n[ \t])*(<[^>\r\n]{1,900}>)", re.IGNORECASE | re.MULTILINE
)


def head_block(raw: bytes) -> bytes:
    """The header block of `raw` (at most 64 KiB), without the blank line."""
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:65536]


def quick_message_id(raw: bytes) -> str | None:
    """The Message-ID of the header block, found without parsing the whole message."""
    match = _MID.search(head_block(raw))
    return match.group(1).decode("ascii", "replace") if match else None


def header_summary(raw: bytes) -> tuple[str | None, str]:
    """(From address, Subject) of the header block alone, for a mail that could not be read."""
    try:
        headers = BytesHeaderParser(policy=email.policy.default).parsebytes(
            head_block(raw) + b"\r\n"
        )
        _, address = parseaddr(str(headers.get("from", "")))
        return (address.lower() or None), str(headers.get("subject", ""))[:1000]
    except Exception:  # a header block too broken to read: nothing to show
        return None, ""
