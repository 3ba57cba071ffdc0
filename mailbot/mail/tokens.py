"""Our Message-IDs, reviewer tokens (invariant 3) and bounce envelope tokens.

Every mail we send gets a Message-ID that starts with the case reference, so that a reply's
In-Reply-To / References (RFC 5322 §3.6.4) bring the case back even when the subject tag was
edited away:

    <Q-2026-000123.<purpose>.<nonce>@<instance.domain>>          ordinary mail
    <ABO-2026-000123.n.<nonce>.<token>@<instance.domain>>        reviewer notification
    <mailbot.<purpose>.<nonce>@<instance.domain>>                mail outside any case

`token` authenticates the reviewer's reply: the first 26 characters of the base32 (lower-case,
no padding) HMAC-SHA256 of ``f"{case_ref}\\n{reviewer_address_lower}\\n{nonce}"`` under the
instance secret — 130 bits, bound to the case, the reviewer and this very notification. Only
whoever holds the notification (the reviewer) can reply "into" it; a forged Message-ID without
the secret cannot verify.

Bounces: our envelope sender is ``local+b-TOKEN@domain`` (sub-addressing), so a delivery
report comes back to an address that names the outbox mail it is about.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

CASE_REF_PATTERN = r"(?:Q|ABO)-\d{4}-\d{6,9}"  # NNNNNN, wider past a million
CASE_REF_RE = re.compile(rf"^{CASE_REF_PATTERN}$")
NO_CASE = "mailbot"  # first part of a Message-ID outside any case
REVIEWER_PURPOSE = "n"  # purpose of a reviewer notification (the token follows the nonce)
TOKEN_LENGTH = 26

_NONCE_RE = re.compile(r"^[a-z2-7]{8,64}$")
_TOKEN_RE = re.compile(rf"^[a-z2-7]{{{TOKEN_LENGTH}}}$")
_PURPOSE_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
_BOUNCE_TOKEN_RE = re.compile(r"^[a-z0-9]{1,64}$")


@dataclass(frozen=True)
class OurMessageId:
    """A Message-ID we made, taken apart. `case_ref` None: a mail outside any case."""

    case_ref: str | None
    purpose: str
    nonce: str
    token: str | None  # set only for a reviewer notification


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def new_nonce() -> str:
    """80 random bits, base32 lower-case (16 characters)."""
    return _b32(secrets.token_bytes(10))


def _purpose(purpose: str) -> str:
    """A purpose usable inside a Message-ID: no dots (they separate the parts), no `@`."""
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", purpose.lower()).strip("-")[:64]
    return cleaned or "mail"


def _ref(case_ref: str | None) -> str:
    if not case_ref:
        return NO_CASE
    if not CASE_REF_RE.match(case_ref):
        raise ValueError(f"not a case reference: {case_ref!r}")
    return case_ref


def new_message_id(domain: str, case_ref: str | None, purpose: str) -> str:
    """`<REF.purpose.nonce@domain>` for an ordinary mail (acknowledgement, answer, alert…)."""
    purpose = _purpose(purpose)
    if purpose == REVIEWER_PURPOSE:
        purpose = "mail-n"  # `n` is reserved for reviewer notifications
    return f"<{_ref(case_ref)}.{purpose}.{new_nonce()}@{domain.lower()}>"


def reviewer_token(secret: bytes, case_ref: str, reviewer: str, nonce: str) -> str:
    """The token issued to `reviewer` for `case_ref` in the notification with this `nonce`."""
    message = f"{case_ref}\n{reviewer.strip().lower()}\n{nonce}".encode()
    return _b32(hmac.new(secret, message, hashlib.sha256).digest())[:TOKEN_LENGTH]


def reviewer_message_id(domain: str, case_ref: str, reviewer: str, secret: bytes) -> str:
    """`<REF.n.nonce.token@domain>`: the Message-ID of a reviewer notification."""
    ref = _ref(case_ref)
    nonce = new_nonce()
    token = reviewer_token(secret, ref, reviewer, nonce)
    return f"<{ref}.{REVIEWER_PURPOSE}.{nonce}.{token}@{domain.lower()}>"


def parse_our_message_id(mid: str, domain: str) -> OurMessageId | None:
    """Take apart one of our Message-IDs; None for anyone else's (or a malformed one)."""
    value = mid.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    left, sep, right = value.rpartition("@")
    if not sep or right.lower() != domain.lower().strip():
        return None
    parts = left.split(".")
    if len(parts) == 3:
        ref, purpose, nonce = parts
        token = None
        if purpose == REVIEWER_PURPOSE:
            return None
    elif len(parts) == 4 and parts[1] == REVIEWER_PURPOSE:
        ref, purpose, nonce, token = parts
        if not _TOKEN_RE.match(token):
            return None
    else:
        return None
    if ref != NO_CASE and not CASE_REF_RE.match(ref):
        return None
    if not _PURPOSE_RE.match(purpose) or not _NONCE_RE.match(nonce):
        return None
    return OurMessageId(
        case_ref=None if ref == NO_CASE else ref, purpose=purpose, nonce=nonce, token=token
    )


def token_issued_to(
    secret: bytes, case_ref: str, nonce: str, token: str, candidates: Iterable[str]
) -> str | None:
    """Which of `candidates` (addresses) the token was issued to, or None.

    Every candidate is computed and compared in constant time (`hmac.compare_digest`), so the
    answer's timing does not tell how close a forged token came.
    """
    owner: str | None = None
    given = token.strip().lower().encode()
    for candidate in candidates:
        address = candidate.strip().lower()
        expected = reviewer_token(secret, case_ref, address, nonce).encode()
        if hmac.compare_digest(expected, given) and owner is None:
            owner = address
    return owner


# --------------------------------------------------------------------------- bounces


def new_bounce_token() -> str:
    return secrets.token_hex(8)


def bounce_address(generic_address: str, token: str) -> str:
    """`local+b-TOKEN@domain`: the envelope sender (RFC 5321 MAIL FROM) of one outbox mail."""
    token = token.lower()
    if not _BOUNCE_TOKEN_RE.match(token):
        raise ValueError(f"bounce token must be 1-64 letters or digits, got {token!r}")
    local, _, domain = generic_address.rpartition("@")
    return f"{local}+b-{token}@{domain}"


def parse_bounce_token(address: str, generic_address: str) -> str | None:
    """The TOKEN of `local+b-TOKEN@domain` when `address` is that sub-address of ours."""
    value = address.strip().strip("<>").strip().lower()
    local, _, domain = generic_address.lower().rpartition("@")
    prefix, suffix = f"{local}+b-", f"@{domain}"
    if not (value.startswith(prefix) and value.endswith(suffix)):
        return None
    token = value[len(prefix) : len(value) - len(suffix)]
    return token if _BOUNCE_TOKEN_RE.match(token) else None
