"""Names of people in a text to publish: the known identities (the asker's, the reviewer's)
wherever they are written, and any name after a civility (« Mme Garnier », « M. DUPONT ») or in
a greeting (« Bonjour Madame Garnier, » → « Bonjour, »).

A title after a civility is not a name: « Monsieur le Maire », « Madame la Préfète »,
« Monsieur le Directeur » stay.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from workflows.text.fold import fold

NAME_MASK = "[nom]"

# Local parts of mailboxes that are services, not people (so no name is taken from them).
_GENERIC_LOCAL_WORDS = frozenset(
    "accueil agglo contact courrier dgs direction dsp info infos mairie police secretariat "
    "service services stationnement ville commune communaute metropole admin support "
    "relecteur relecteurs relecture bureau cellule pole noreply ne-pas-repondre".split()
)
# Words after a civility that are titles or the start of a sentence, not names.
_NOT_NAMES = frozenset(
    fold(w)
    for w in (
        "le la les l' maire préfet préfète président présidente directeur directrice ministre "
        "adjoint adjointe sénateur sénatrice député députée conseiller conseillère secrétaire "
        "délégué déléguée chef cheffe responsable trésorier trésorière receveur comptable "
        "procureur juge commissaire madame monsieur mademoiselle mesdames messieurs bonjour "
        "merci cordialement vous votre nous je et ou"
    ).split()
)
# Words of a service's or a title's line, not of a person's name.
_ORG_WORDS = frozenset(
    fold(w)
    for w in (
        "bureau service services direction mairie ville commune pôle cellule mission ministère "
        "préfecture département région agglomération communauté syndicat police régie "
        "secrétariat affaires générale général municipale municipal urbaine stationnement "
        "payant conseil centre hôtel équipe division délégation antai dgcl desta accueil "
        "finances locales chargé chargée mission envoyé bonne belle journée"
    ).split()
)
_LOWER = "a-zàâäéèêëïîôöùûüÿç"
_PERSON_LINE = re.compile(
    rf"^[ \t]*(?:(?:M\.|Mme|Mlle|Madame|Monsieur)[ \u00a0]+)?"
    rf"(?:(?P<first>[A-ZÉÈ][{_LOWER}]+(?:-[A-ZÉÈ][{_LOWER}]+)?)[ \u00a0]+"
    rf"(?P<last>[A-ZÉÈ][\w'’-]+)"
    rf"|(?P<last2>[A-ZÉÈ][A-ZÉÈ'’-]+)[ \u00a0]+(?P<first2>[A-ZÉÈ][{_LOWER}]+(?:-[A-ZÉÈ][{_LOWER}]+)?))"
    rf"[ \t]*,?[ \t]*$"
)
_NAME_WORD = r"(?:[A-ZÉÈÊÀÂÎÔÇ][\w'’]*(?:-[A-ZÉÈÊÀÂÎÔÇ][\w'’]*)*)"
_CIVILITY = r"(?:M\.|Mme\.?|Mmes|Mlle|MM\.|Me|Dr\.?|(?i:madame|monsieur|mademoiselle|ma[iî]tre))"
_CIVILITY_NAME = re.compile(
    rf"(?<![\w.])({_CIVILITY})([ \u00a0]+)({_NAME_WORD}(?:[ \u00a0]+{_NAME_WORD}){{0,2}})"
)
_GREETING_NAME = re.compile(
    rf"^([ \t]*(?i:bonjour|bonsoir|hello|salut|coucou))[ \u00a0]+"
    rf"(?:{_CIVILITY}[ \u00a0]+)?{_NAME_WORD}(?:[ \u00a0]+{_NAME_WORD}){{0,2}}[ \u00a0]*(?=[,!:]|$)",
    re.MULTILINE,
)
_DEAR_NAME = re.compile(
    rf"^([ \t]*(?:(?i:ch[eè]re?s?)[ \u00a0]+)?(?i:madame|monsieur|mademoiselle))[ \u00a0]+"
    rf"{_NAME_WORD}(?:[ \u00a0]+{_NAME_WORD}){{0,2}}[ \u00a0]*(?=[,!:]|$)",
    re.MULTILINE,
)


def name_parts(sender_name: str | None, sender: str | None) -> list[str]:
    """The words of a person's name worth masking (3 letters or more), longest first.

    From the display name (« DUPONT Jean », « Dupont, Jean ») and from a `prenom.nom@`
    address (a service mailbox such as `contact.mairie@` gives none)."""
    words: list[str] = []
    if sender_name:
        words = [w for w in re.split(r"[\s,;()\"']+", sender_name) if w and "@" not in w]
    if sender and "@" in sender:
        local = sender.split("@", 1)[0].lower()
        parts = re.split(r"[._]", local)
        if len(parts) == 2 and all(p.isalpha() for p in parts):
            if not any(p in _GENERIC_LOCAL_WORDS for p in parts):
                words += parts
    words = [w.strip(".-") for w in words]
    kept = {w for w in words if len(w) >= 3 and fold(w) not in _NOT_NAMES}
    unique = {fold(w): w for w in sorted(kept)}
    return sorted(unique.values(), key=len, reverse=True)


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
    if char.isspace():
        return r"[ \u00a0]+"
    base = fold(char)
    variants = _ACCENTS.get(base)
    if variants:
        return f"[{variants}]"
    return re.escape(char)


def name_pattern(parts: Iterable[str]) -> re.Pattern[str] | None:
    # Accent-insensitive: each letter matches itself with or without its accent.
    alternatives = ["".join(_accent_class(c) for c in part) for part in parts]
    if not alternatives:
        return None
    # A name inside a hyphenated place (Saint-Pierre) is left alone.
    joined = "|".join(alternatives)
    return re.compile(rf"(?<![\w-])(?:{joined})(?![\w-])", re.IGNORECASE)


def _civility(match: re.Match[str]) -> str:
    civility, space, names = match.groups()
    end = 0
    for word in re.finditer(r"[^ \u00a0]+", names):
        if fold(word[0]) in _NOT_NAMES:
            break
        end = word.end()
    if end == 0:
        return match[0]
    return f"{civility}{space}{NAME_MASK}{names[end:]}"


def _greeting(match: re.Match[str]) -> str:
    words = re.findall(r"[\w'’.-]+", match[0])
    if any(fold(w) in _NOT_NAMES - {"madame", "monsieur", "mademoiselle"} for w in words[1:]):
        return match[0]
    return match[1]


def person_name(line: str) -> tuple[str, str] | None:
    """(first name, last name) when `line` is only a person's name (« Claire Dubois »,
    « DUBOIS Claire », « Mme Claire DUBOIS »), as a signature starts."""
    match = _PERSON_LINE.match(line)
    if match is None:
        return None
    first = match["first"] or match["first2"]
    last = match["last"] or match["last2"]
    if any(fold(w) in _ORG_WORDS or fold(w) in _NOT_NAMES for w in (first, last)):
        return None
    return first, last


def _mask_signed(text: str, signed: Iterable[tuple[str, str]]) -> str:
    """A name read from a signature: the whole name in any case, the last name alone only when
    it is written as a name (capitalised), since it may be a common word (« Claire »)."""
    for first, last in signed:
        whole = name_pattern([f"{first} {last}", f"{last} {first}"])
        alone = name_pattern([last])
        if whole is None or alone is None:
            continue
        text = whole.sub(NAME_MASK, text)
        text = alone.sub(lambda m: NAME_MASK if m[0][0].isupper() else m[0], text)
    return text


def mask_names(text: str, identities: Iterable[str], signed: Iterable[tuple[str, str]] = ()) -> str:
    """`text` without the names of `identities` and of `signed` (masked) and without the names
    in greetings (dropped) or after a civility (masked)."""
    text = _GREETING_NAME.sub(_greeting, text)
    text = _mask_signed(text, signed)
    text = _DEAR_NAME.sub(_greeting, text)
    pattern = name_pattern(identities)
    if pattern is not None:
        text = pattern.sub(NAME_MASK, text)
    text = _CIVILITY_NAME.sub(_civility, text)
    # « [nom] [nom] » for « Jean Dupont »: one mask is enough.
    return re.sub(rf"{re.escape(NAME_MASK)}(?:[ \u00a0]+{re.escape(NAME_MASK)})+", NAME_MASK, text)
