"""Removing personal data from a question (or an answer) before it is published.

The published Q&A is read by every account of the space, so neither the asker nor the reviewer
may be recognisable from it. Removed: the greeting and the closing formula with the signature
block below it (or a trailing block of name, title and contact lines, « Ligne directe : … »),
e-mail addresses (whole), phone numbers (every French, overseas and international form,
extensions), IBANs, payment card numbers, NIRs, vehicle registrations, postal addresses with a
street number, the names of the known identities (asker, reviewer) wherever they are written,
names after a civility and in greetings. Kept: the administration's own contacts listed in
`[privacy] keep_contacts`, web addresses, SIREN/SIRET, article, decree and law numbers, dates,
times, amounts, postal codes alone (`pii_patterns.py`, `pii_names.py`, docs/security.md).

What remains is shown to the reviewer before publication ("the exact text that would be
published"), who can replace it with a `QUESTION :` directive: this is a safety net, not a
guarantee.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from workflows.text.invisible import strip_invisible
from workflows.text.pii_names import NAME_MASK, mask_names, name_parts, person_name
from workflows.text.pii_patterns import (
    ADDRESS_MASK,
    CARD_MASK,
    EMAIL_MASK,
    EMAIL_RE,
    IBAN_MASK,
    NIR_MASK,
    PHONE_MASK,
    PLATE_MASK,
    mask_addresses,
    mask_cards,
    mask_emails,
    mask_ibans,
    mask_nirs,
    mask_phones,
    mask_plates,
    phone_key,
)

__all__ = [
    "ADDRESS_MASK",
    "CARD_MASK",
    "EMAIL_MASK",
    "IBAN_MASK",
    "NAME_MASK",
    "NIR_MASK",
    "PHONE_MASK",
    "PLATE_MASK",
    "Identity",
    "name_parts",
    "scrub",
    "strip_courtesy",
]


@dataclass(frozen=True)
class Identity:
    """A person whose name and address must not be published (the asker, the reviewer)."""

    name: str | None = None
    address: str | None = None


_GREETING = re.compile(
    r"^\s*(?:bonjour|bonsoir|hello|salut|madame|monsieur|mesdames|messieurs|"
    r"ch[eè]re?s?\s+(?:madame|monsieur|coll[eè]gues?|mesdames|messieurs)|"
    r"[àa]\s+l'attention\s+de)\b(?:\.(?=\s|$)|(?:[ \u00a0]+[\w'’-]+\.?){0,3}?[ \u00a0]*(?:[,!:]|$))",
    re.IGNORECASE,
)
# A closing formula starts the signature: it and everything after it go (when what follows is
# short enough to be a signature block and not the rest of the question).
_CLOSING = re.compile(
    r"^\s*(?:--\s*$|__+\s*$|"
    r"(?:bien\s+|tr[eè]s\s+)?cordialement|bien\s+[àa]\s+vous|"
    r"(?:mes\s+|nos\s+)?(?:sinc[eè]res\s+|meilleures\s+|respectueuses\s+)?salutations|"
    r"respectueusement|bonne\s+(?:journ[ée]e|soir[ée]e|fin\s+de\s+journ[ée]e)|"
    r"belle\s+journ[ée]e|"
    r"(?:je\s+vous\s+prie|veuillez)\s+(?:d'|de\s+bien\s+vouloir\s+)?agr[ée]er|"
    r"(?:en\s+vous\s+)?remerciant|merci\s+(?:d'avance|par\s+avance|pour\s+votre|de\s+votre)|"
    r"dans\s+l'attente\s+de\s+(?:votre|vous\s+lire))",
    re.IGNORECASE,
)
_MAX_SIGNATURE_LINES = 10
_THANKS_LINE = re.compile(
    r"^\s*merci(?:\s+(?:beaucoup|bien|infiniment|[àa]\s+vous))?[\s.!]*$", re.IGNORECASE
)
_MASKS = (NAME_MASK, PHONE_MASK, EMAIL_MASK, ADDRESS_MASK, IBAN_MASK, CARD_MASK, NIR_MASK)
_MASK_ALT = "|".join(re.escape(m) for m in _MASKS)
_CONTACT_WORDS = (
    r"(?:t[ée]l(?:[ée]phone)?|tel|t|mobile|portable|port|gsm|fax|t[ée]l[ée]copie|standard|"
    r"ligne\s+directe|ld|direct|courriel|e-?mail|mail|m[ée]l|adresse|secr[ée]tariat)"
)
# A contact line of a signature once its number or address was masked (« Tél. : [téléphone] »).
_CONTACT_LINE = re.compile(
    rf"^\s*(?:{_CONTACT_WORDS}\.?\s*:?\s*(?:{_MASK_ALT})[\s/,;|–-]*)+$", re.IGNORECASE
)
# The direct line of a reviewer goes whatever follows it.
_DIRECT_LINE = re.compile(r"^\s*(?:ligne\s+directe|LD|l\.\s*d\.)\s*:.*$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.?!;:]\s*$")
_MAX_TRAILING_BLOCK = 8
_URL = re.compile(r"(?:https?://|www\.)[^\s<>()\[\]]+[^\s<>()\[\].,;:!?»]", re.IGNORECASE)
_SIRE = re.compile(r"\bSIRE[NT]\b[ \u00a0]*(?:n°[ \u00a0]*)?:?[ \u00a0]*\d[\d \u00a0]{7,17}\d")


def _strip_greeting(lines: list[str]) -> list[str]:
    """Greeting formulas of the first non-empty lines (« Bonjour Madame, », « Madame, Monsieur, »)."""
    out = list(lines)
    index = 0
    while index < len(out):
        line = out[index]
        if not line.strip():
            index += 1
            continue
        match = _GREETING.match(line)
        if not match:
            break
        rest = line[match.end() :].strip()
        if rest:
            out[index] = rest[0].upper() + rest[1:]
            # A second formula on the same line: « Madame, Monsieur, ».
            continue
        del out[index]
    return out


def _strip_signature(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if index == 0 or len(line.strip()) > 160:
            continue
        after = [x for x in lines[index + 1 :] if x.strip()]
        if _CLOSING.match(line) and len(after) <= _MAX_SIGNATURE_LINES:
            return lines[:index]
        # A bare « Merci » ends the question only when nothing but a signature follows it.
        if _THANKS_LINE.match(line) and all(_signature_like(x) for x in after):
            return lines[:index]
    return lines


def _signature_like(line: str) -> bool:
    stripped = line.strip()
    if not stripped or len(stripped) > 80:
        return False
    return not _SENTENCE_END.search(stripped) or bool(_CONTACT_LINE.match(stripped))


def _personal(line: str) -> bool:
    return (
        any(mask in line for mask in _MASKS)
        or bool(_CONTACT_LINE.match(line))
        or person_name(line) is not None
    )


def _trailing_start(lines: list[str]) -> int:
    """Where a last block of short lines (name, title, service, contacts) starts, after some
    text; `len(lines)` when there is none."""
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    start = end
    while start and _signature_like(lines[start - 1]) and end - start < _MAX_TRAILING_BLOCK:
        start -= 1
    if start == end or not any(x.strip() for x in lines[:start]):
        return len(lines)
    return start


def _strip_trailing_block(lines: list[str]) -> list[str]:
    """The last block when something personal is in it: a signature without a closing
    formula."""
    start = _trailing_start(lines)
    if any(_personal(line) for line in lines[start:]):
        return lines[:start]
    return lines


def _signed_names(signature: list[str], body: list[str]) -> list[tuple[str, str]]:
    """Names that sign the text: the first lines after the closing formula, the first line of a
    trailing block."""
    candidates = [x for x in signature[1:] if x.strip()][:3]
    trailing = [x for x in body[_trailing_start(body) :] if x.strip()]
    candidates += trailing[:1]
    return [name for name in map(person_name, candidates) if name is not None]


def _tidy(lines: list[str]) -> str:
    kept = [
        line.rstrip()
        for line in lines
        if not _CONTACT_LINE.match(line) and not _DIRECT_LINE.match(line)
    ]
    text = "\n".join(kept)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _lines(text: str) -> list[str]:
    return strip_invisible(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")


def strip_courtesy(text: str) -> str:
    """`text` without its greeting and its closing formula and signature block (nothing
    masked): the gist of a mail, for excerpts quoted back to its author."""
    return _tidy(_strip_signature(_strip_greeting(_lines(text))))


class _Vault:
    """Spans that no mask may touch (kept contacts, web addresses, SIREN/SIRET), swapped for
    private-use placeholders while the masks run."""

    def __init__(self) -> None:
        self.kept: list[str] = []

    def hide(self, text: str, pattern: re.Pattern[str]) -> str:
        return pattern.sub(self._placeholder, text)

    def _placeholder(self, match: re.Match[str]) -> str:
        self.kept.append(match[0])
        return f"\ue000{chr(0xE100 + len(self.kept) - 1)}\ue001"

    def restore(self, text: str) -> str:
        return re.sub("\ue000(.)\ue001", lambda m: self.kept[ord(m[1]) - 0xE100], text)


def _keeper(keep_contacts: Iterable[str]) -> tuple[re.Pattern[str] | None, set[str]]:
    """A pattern of the kept contacts as written, and the digits of the kept phone numbers."""
    literals: list[str] = []
    phones: set[str] = set()
    for contact in keep_contacts:
        contact = contact.strip()
        if not contact:
            continue
        if "@" in contact or re.search(r"[^\d\s().+-]", contact):
            literals.append(r"[ \u00a0]+".join(re.escape(w) for w in contact.split()))
        else:
            phones.add(phone_key(contact))
    if not literals:
        return None, phones
    joined = "|".join(sorted(literals, key=len, reverse=True))
    return re.compile(rf"(?<![\w.+-])(?:{joined})(?![\w-])", re.IGNORECASE), phones


def scrub(
    text: str,
    sender_name: str | None,
    sender: str | None,
    *,
    contacts: bool = True,
    keep_contacts: Iterable[str] = (),
    identities: Iterable[Identity] = (),
) -> str:
    """`text` without the personal data of its author (`sender_name`, `sender`) and of the
    other `identities`, ready to publish.

    `keep_contacts` are the administration's contacts that stay published on purpose
    (functional mailboxes, official numbers). `contacts=False` (older callers) keeps every
    e-mail address and phone number except the identities' addresses; bank, card and
    social-security numbers go in any case. Bidi controls and invisible characters go too
    (`invisible.py`).
    """
    people = [Identity(sender_name, sender), *identities]
    greeted = _strip_greeting(_lines(text))
    lines = _strip_signature(greeted)
    signed = _signed_names(greeted[len(lines) :], lines)
    body = "\n".join(line for line in lines if not _DIRECT_LINE.match(line))
    vault = _Vault()
    literal, kept_phones = _keeper(keep_contacts)
    if literal is not None:
        body = vault.hide(body, literal)
    body = vault.hide(vault.hide(body, _URL), _SIRE)
    body = mask_nirs(mask_cards(mask_ibans(body)))
    addresses = {p.address.lower() for p in people if p.address}
    if contacts:
        body = mask_emails(body, lambda _address: False)
        body = mask_plates(mask_addresses(body))
        body = mask_phones(body, lambda number: phone_key(number) in kept_phones)
    else:
        body = EMAIL_RE.sub(lambda m: EMAIL_MASK if m[0].lower() in addresses else m[0], body)
        body = vault.hide(body, EMAIL_RE)
    parts = [w for p in people for w in name_parts(p.name, p.address)]
    body = mask_names(body, sorted(set(parts), key=len, reverse=True), signed)
    lines = _strip_trailing_block(body.split("\n"))
    return vault.restore(_tidy(lines))
