"""The From mailbox, read strictly (RFC 5322 §3.4): the addr-spec decides, nothing else.

The stdlib parser recovers from broken headers by guessing, and its guesses can be steered:
`From: relecteur@demo.test <evil@attacker.test>` reads as `relecteur@demo.test`. Since the From
address is what a reviewer token is checked against, it is read here on the raw (undecoded)
value with comments removed:
- one angle-addr `<addr-spec>` at the end: that addr-spec is the address, whatever the display
  name says (an unquoted display name that looks like an address is never the address; markup
  such as `<b>…</b>` in it is text, never an address);
- no angle-addr: the whole value must be a single addr-spec;
- anything else (several angle-addrs, several mailboxes, a group, no valid addr-spec): no
  sender. Encoded-words are opaque here, so a `<…>` hidden in one cannot add an address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailbot.mail.mimetext import strip_comments

_ATEXT = r"[^\x00-\x20\x7f()<>\[\]:;@\\,\".]"
_LOCAL = rf"(?:{_ATEXT}+(?:\.{_ATEXT}+)*|\"(?:[^\"\\\r\n]|\\.){{1,200}}\")"
_DOMAIN = r"(?:[^\x00-\x20\x7f()<>\[\]:;@\\,\".]+(?:\.[^\x00-\x20\x7f()<>\[\]:;@\\,\".]+)*)"
_ADDR_SPEC_RE = re.compile(rf"({_LOCAL})@({_DOMAIN})")
_QUOTED_RE = re.compile(r'"(?:[^"\\]|\\.)*"')
_FINAL_ANGLE_RE = re.compile(r"<([^<>]*)>\s*$")
_MARKUP_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9]{0,20}(?:\s[^<>@]{0,200})?/?>")
_ENCODED_WORD_RE = re.compile(r"=\?[^?\s<>\"]+\?[bqBQ]\?[^?\s<>\"]*\?=")


@dataclass(frozen=True)
class Mailbox:
    """The addr-spec (lower-case) and the raw display-name phrase (still encoded)."""

    address: str
    phrase: str
    warnings: tuple[str, ...] = ()


def valid_addr_spec(value: str) -> str | None:
    """`value` lower-cased if it is exactly one addr-spec (dot-atom or quoted local part)."""
    value = value.strip()
    if len(value) > 320 or not _ADDR_SPEC_RE.fullmatch(value):
        return None
    return value.lower()


def strict_mailbox(value: str) -> Mailbox | None:
    """The single mailbox of a From value (already unfolded), or None."""
    text = strip_comments(value)
    # Quoted strings and encoded-words cannot carry structure: blank them (same length).
    masked = _QUOTED_RE.sub(lambda m: '"' + "x" * (len(m.group(0)) - 2) + '"', text)
    masked = _ENCODED_WORD_RE.sub(lambda m: "x" * len(m.group(0)), masked)
    if any(c in masked for c in ",;:") or _unbalanced_quote(masked):
        return None  # several mailboxes, a group, or a quote that never closes
    if "<" not in masked and ">" not in masked:
        address = valid_addr_spec(text)
        return Mailbox(address, "") if address else None
    last = _FINAL_ANGLE_RE.search(masked)
    if last is None:
        return None
    start = last.start()
    address = valid_addr_spec(text[start + 1 : last.end(1)])
    if address is None:
        return None
    head = masked[:start]
    # Markup in an unquoted display name (`<b>Jean</b>`) is text, not an address; any other
    # angle bracket before the angle-addr (a second `<a@b>`, a stray `<` or `>`) is ambiguous.
    rest = _MARKUP_RE.sub("", head)
    if "<" in rest or ">" in rest:
        return None
    warnings: list[str] = []
    if rest != head:
        warnings.append("markup in the display name: removed")
    if "@" in head:
        warnings.append("display name looks like an address: the angle-addr decides")
    return Mailbox(address, text[:start].strip(), tuple(warnings))


def _unbalanced_quote(masked: str) -> bool:
    return masked.count('"') % 2 == 1
