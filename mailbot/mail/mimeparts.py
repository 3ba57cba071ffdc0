"""The MIME tree of a message: limits, the capped policy, and one walk that finds the body,
the attachments and the parts of a delivery report (RFC 2045-2046, RFC 3464, RFC 6522)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import Message
from email.policy import EmailPolicy
from functools import lru_cache
from typing import Any

from mailbot.config import LimitsConfig
from mailbot.mail import mimetext
from mailbot.mail.mimetext import clean_header_value, unsurrogate

# Content-Type and Content-Disposition of real mail are a few hundred characters; thousands of
# parameters cost seconds to parse (notes/untrusted-input.md).
MAX_MIME_HEADER_CHARS = 2048
_MIME_HEADERS = {"content-type", "content-disposition", "content-transfer-encoding"}
MSGID_RE = re.compile(r"<([^<>\s@]{1,500}@[^<>\s@]{1,500})>")
_BARE_MSGID_RE = re.compile(r"^\s*([^<>\s@]{1,500}@[^<>\s@]{1,500})\s*$")
_BODY_TYPES = ("text/plain", "text/html")
_REPORT_PART_TYPES = {
    "message/delivery-status",
    "message/global-delivery-status",
    "text/rfc822-headers",
    "message/feedback-report",
    "message/disposition-notification",
}


@dataclass(frozen=True)
class ParseLimits:
    """What parsing one mail may cost; built from `[limits]` (`LimitsConfig`), the one place
    their defaults live."""

    max_header_chars: int
    max_body_chars: int
    max_attachment_bytes: int
    max_parts: int
    max_depth: int

    @classmethod
    def from_config(cls, limits: LimitsConfig | None = None) -> ParseLimits:
        if limits is None:
            limits = LimitsConfig()
        return cls(
            max_header_chars=limits.max_header_chars,
            max_body_chars=limits.max_body_chars,
            max_attachment_bytes=limits.max_attachment_bytes,
            max_parts=limits.max_mime_parts,
            max_depth=limits.max_mime_depth,
        )


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str | None  # cleaned, without any directory part; None when the mail gives none
    content_type: str
    size: int  # decoded size in bytes (also when `data` was dropped for being too big)
    data: bytes
    disposition: str | None  # "attachment", "inline" or None


# --------------------------------------------------------------------------- the policy


class SharedHeaderClasses(HeaderRegistry):
    """The `email` package's header factory, building each header class once.

    `HeaderRegistry.__getitem__` creates a new class (`type(...)`) for every header it parses
    or sets: about 2 KB each, kept alive as long as the header is, and a quarter of the time
    of composing a mail (1.4 ms against 1.0 ms with the classes shared). The class depends
    only on the registered class the name maps to, so one per mapping is built here; the
    headers are the same objects otherwise.
    """

    def __init__(self) -> None:
        super().__init__()
        self._built: dict[type, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        cls = self.registry.get(name.lower(), self.default_class)
        built = self._built.get(cls)
        if built is None:  # two threads may both build it: either class will do
            built = self._built.setdefault(cls, super().__getitem__(name))
        return built


HEADERS = SharedHeaderClasses()
# `policy.default` with the shared header classes: every policy of ours is built from it
PLAIN_POLICY = policy.default.clone(header_factory=HEADERS)


class CappedPolicy(EmailPolicy):
    """`policy.default` that caps a header value and repairs 8-bit bytes before parsing it.

    Lazily parsed headers (Content-Type of every part, looked at by the parser itself to find
    boundaries) go through `header_fetch_parse`, so the cap protects them too.
    """

    header_cap: int = 8192

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):
            return super().header_fetch_parse(name, value)
        cap = self.header_cap
        if name.lower() in _MIME_HEADERS:
            cap = min(cap, MAX_MIME_HEADER_CHARS)  # each part's are parsed several times
        value = unsurrogate(value[:cap])
        if len(value) <= _CACHED_CHARS:
            return _parsed_header(name, value)
        return super().header_fetch_parse(name, value)


# A part's Content-Type is read about ten times while a mail is parsed and classified, and
# the header model parses it again each time (the largest cost of parsing, docs/benchmarks.md).
# Parsed headers are immutable and depend only on the name and value (every policy here uses
# the same header factory): short ones are kept. 128 of them: the repeats are within one mail
# (a multipart's boundary is new in every mail) and the few common values (« text/plain;
# charset=utf-8 »); a parsed header with its parse tree weighs about 10 KB, and 1,024 of them
# held 10 MB for the life of the daemon.
_CACHED_CHARS = 1024


@lru_cache(maxsize=128)
def _parsed_header(name: str, value: str) -> Any:
    return PLAIN_POLICY.header_fetch_parse(name, value)


def capped_policy(cap: int) -> CappedPolicy:
    # Policy takes its attributes as keywords
    settings: dict[str, Any] = {"header_cap": cap, "header_factory": HEADERS}
    return CappedPolicy(**settings)


def unfold(value: str) -> str:
    """RFC 5322 §2.2.3: a folded header value on one line (stray CR/LF become spaces)."""
    return re.sub(r"[\r\n]+", " ", re.sub(r"\r?\n(?=[ \t])", "", value))


def decoded_header(name: str, value: str, defects: list[str]) -> str:
    """An unstructured header value with its RFC 2047 encoded-words decoded."""
    value = unfold(value)
    try:  # encoded-words in a charset that lies leave surrogates: re-decode them
        return unsurrogate(str(HEADERS(name, value)))
    except Exception as err:  # RecursionError included
        defects.append(f"{name}: not decodable ({type(err).__name__})")
        return mimetext.decode_words_fallback(value)


def message_id_of(value: str | None, name: str, defects: list[str]) -> str | None:
    """`<left@right>` or None; a value of another shape is a defect, never an exception."""
    if value is None:
        return None
    match = MSGID_RE.search(value)
    if match:
        return f"<{match.group(1)}>"
    bare = _BARE_MSGID_RE.match(value)
    if bare:
        return f"<{bare.group(1)}>"
    if value.strip():
        defects.append(f"{name}: not a message identifier")
    return None


def content_type_of(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def param_of(part: Message, name: str) -> str | None:
    try:
        value = part.get_param(name)
    except Exception:
        return None
    if isinstance(value, tuple):  # RFC 2231 (charset, language, value)
        value = value[2]
    return clean_header_value(str(value), 100).lower() if value else None


def quoted_message_id(text: str) -> str | None:
    """A `Message-ID:` line quoted in a plain-text bounce (qmail, Exchange…)."""
    match = re.search(r"^[ >\t]*Message-I[Dd]\s*:\s*(<[^<>\s@]+@[^<>\s@]+>)", text, re.M)
    return match.group(1) if match else None
