"""Removing personal data from a question (or an answer) before it is published.

The published Q&A is read by every account of the space, so the asker must not be
recognisable from it: e-mail addresses, phone numbers, the asker's name, the greeting and the
closing formula with the signature block below it go. What remains is shown to the reviewer
before publication ("the exact text that would be published"), who can replace it with a
`QUESTION :` directive: this is a safety net, not a guarantee.
"""

from __future__ import annotations

import re

from workflows.text.fold import fold
from workflows.text.invisible import strip_invisible

EMAIL_MASK = "[adresse électronique]"
PHONE_MASK = "[téléphone]"
NAME_MASK = "[nom]"

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_EMAIL_MAILTO = re.compile(r"mailto:\s*", re.IGNORECASE)
# French numbers (01 23 45 67 89, 01.23.45.67.89, 0123456789), international forms
# (+33 1 23 45 67 89, +33 (0)1 23…, 0033 1 23…) and overseas (+262 262 12 34 56, 0590 12 34 56).
_SEP = r"[ .\-\u00a0]?"
_PHONE = re.compile(
    rf"(?<![\w+])(?:(?:\+|00)\d{{2,3}}{_SEP}(?:\(0\){_SEP})?|\(?0\)?)[1-9](?:{_SEP}\d{{2}}){{4}}(?!\d)"
)
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
# What a contact line of a signature looks like once its number or address was masked.
_CONTACT_LINE = re.compile(
    r"^\s*(?:t[ée]l(?:[ée]phone)?|tel|mobile|portable|port|fax|standard|ligne\s+directe|"
    r"courriel|e-?mail|mail|m[ée]l)\.?\s*:?\s*"
    rf"(?:{re.escape(PHONE_MASK)}|{re.escape(EMAIL_MASK)})[\s/,;]*$",
    re.IGNORECASE,
)
# Local parts of mailboxes that are services, not people (so no name is taken from them).
_GENERIC_LOCAL_WORDS = frozenset(
    "accueil agglo contact courrier dgs direction dsp info infos mairie police secretariat "
    "service services stationnement ville commune communaute metropole admin support".split()
)


def name_parts(sender_name: str | None, sender: str | None) -> list[str]:
    """The words of the asker's name worth masking (3 letters or more), longest first.

    From the display name (« DUPONT Jean », « Dupont, Jean ») or, without one, from a
    `prenom.nom@` address."""
    words: list[str] = []
    if sender_name:
        words = [w for w in re.split(r"[\s,;()\"']+", sender_name) if w]
    elif sender and "@" in sender:
        local = sender.split("@", 1)[0].lower()
        parts = re.split(r"[._]", local)
        if len(parts) == 2 and all(p.isalpha() for p in parts):
            if not any(p in _GENERIC_LOCAL_WORDS for p in parts):
                words = parts
    words = [w.strip(".-") for w in words]
    kept = {w for w in words if len(w) >= 3 and "@" not in w}
    return sorted(kept, key=len, reverse=True)


def _name_pattern(parts: list[str]) -> re.Pattern[str] | None:
    if not parts:
        return None
    alternatives = []
    for part in parts:
        # Accent-insensitive: each letter matches itself with or without its accent.
        letters = "".join(_accent_class(c) for c in part)
        alternatives.append(letters)
    # A name inside a hyphenated place (Saint-Pierre) is left alone.
    joined = "|".join(alternatives)
    return re.compile(rf"(?<![\w-])(?:{joined})(?![\w-])", re.IGNORECASE)


_ACCENTS = {
    "a": "aàâä",
    "e": "eéèêë",
    "i": "iîï",
    "o": "oôö",
    "u": "uùûü",
    "c": "cç",
    "y": "yÿ",
}


def _accent_class(char: str) -> str:
    base = fold(char)
    variants = _ACCENTS.get(base)
    if variants:
        return f"[{variants}]"
    return re.escape(char)


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
        if index == 0 or not _CLOSING.match(line) or len(line.strip()) > 160:
            continue
        after = [x for x in lines[index + 1 :] if x.strip()]
        if len(after) <= _MAX_SIGNATURE_LINES:
            return lines[:index]
    return lines


def _tidy(lines: list[str]) -> str:
    kept = [line.rstrip() for line in lines if not _CONTACT_LINE.match(line)]
    text = "\n".join(kept)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def strip_courtesy(text: str) -> str:
    """`text` without its greeting and its closing formula and signature block (nothing
    masked): the gist of a mail, for excerpts quoted back to its author."""
    lines = strip_invisible(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return _tidy(_strip_signature(_strip_greeting(lines)))


def scrub(text: str, sender_name: str | None, sender: str | None, *, contacts: bool = True) -> str:
    """`text` without the personal data of its author, ready to publish.

    `contacts=False` keeps e-mail addresses and phone numbers (a reviewer's answer may give the
    administration's own contact on purpose) and removes only the greeting, the signature and
    the asker's name. Bidi controls and invisible characters go too (`invisible.py`).
    """
    lines = strip_invisible(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = _strip_signature(_strip_greeting(lines))
    body = "\n".join(lines)
    if contacts:
        body = _EMAIL_MAILTO.sub("", body)
        body = _EMAIL.sub(EMAIL_MASK, body)
        body = _PHONE.sub(PHONE_MASK, body)
    elif sender:
        body = re.sub(re.escape(sender), EMAIL_MASK, body, flags=re.IGNORECASE)
    pattern = _name_pattern(name_parts(sender_name, sender))
    if pattern is not None:
        body = pattern.sub(NAME_MASK, body)
        # « [nom] [nom] » for « Jean Dupont »: one mask is enough.
        body = re.sub(
            rf"{re.escape(NAME_MASK)}(?:[ \u00a0]+{re.escape(NAME_MASK)})+", NAME_MASK, body
        )
    return _tidy(body.split("\n"))
