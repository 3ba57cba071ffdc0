"""The commands a reviewer writes about an answer (CONTRACTS.md, "Answers are held"):
ANNULER, PUBLIER, CORRIGER <texte>, RETIRER [texte], CLASSER [message].

A command stands alone at the start of the first non-empty line of the reply's new text (after
a greeting line, if any), any case, accents optional, `:` optional. ANNULER and PUBLIER take
nothing but politeness after them; CORRIGER, RETIRER and CLASSER take a text: the rest of their
line and the lines that follow. On a preview, an approval phrasing (« ok », « je valide »…,
workflows.text.phrasings) means PUBLIER.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from workflows.text.fold import fold_aligned, fold_words
from workflows.text.phrasings import read_phrasing

HoldVerb = Literal["ANNULER", "PUBLIER", "CORRIGER", "RETIRER", "CLASSER"]

_KEYWORDS: dict[str, HoldVerb] = {
    "annuler": "ANNULER", "annule": "ANNULER", "annulee": "ANNULER", "annulation": "ANNULER",
    "publier": "PUBLIER", "publie": "PUBLIER", "publication": "PUBLIER",
    "corriger": "CORRIGER", "correction": "CORRIGER", "corrige": "CORRIGER",
    "retirer": "RETIRER", "retrait": "RETIRER", "depublier": "RETIRER",
    "classer": "CLASSER", "classer sans suite": "CLASSER", "sans suite": "CLASSER",
    "classe sans suite": "CLASSER",
}  # fmt: skip
_KEYWORD_RE = re.compile(
    r"^(?:"
    + "|".join(re.escape(k).replace(r"\ ", r"[\s-]+") for k in sorted(_KEYWORDS, key=len)[::-1])
    + r")(?![\w'])"
)
_GREETING = re.compile(
    r"^(?:bonjour|bonsoir|hello|madame|monsieur|cher|chere|chers|cheres|mesdames|messieurs)\b"
)
_POLITE = re.compile(
    r"\b(?:merci(?: beaucoup| d avance)?|cordialement|svp|s il vous plait|maintenant|"
    r"tout de suite|des maintenant|la reponse|cette reponse|l envoi)\b"
)
_TEXT_VERBS: frozenset[HoldVerb] = frozenset({"CORRIGER", "RETIRER", "CLASSER"})


@dataclass(frozen=True)
class HoldCommand:
    """`text` is what follows CORRIGER, RETIRER or CLASSER ("" when nothing)."""

    verb: HoldVerb
    text: str = ""
    phrasing: bool = False  # an approval phrasing read as PUBLIER


def _first_line(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        stripped = line.strip().strip("*_").strip()
        if not stripped:
            continue
        folded = fold_words(stripped)
        if _GREETING.match(folded) and len(stripped) <= 40 and not _KEYWORD_RE.match(folded):
            continue
        return i
    return None


def read_hold_command(
    text: str, *, approval_means_publish: bool = False, strict: bool = False
) -> HoldCommand | None:
    """The command `text` (a reviewer's new text) opens with, or None (an answer).

    `strict` (while an answer may still be written): CORRIGER, RETIRER and CLASSER count only
    alone on their line or followed by `:`, so that an answer opening with « Corriger une
    erreur de saisie… » stays an answer."""
    lines = text.split("\n")
    first = _first_line(lines)
    if first is None:
        return None
    raw = lines[first].strip().strip("*_").strip()
    folded = fold_aligned(raw)
    match = _KEYWORD_RE.match(folded)
    if match is None:
        if approval_means_publish:
            phrasing = read_phrasing(raw)
            if phrasing is not None and phrasing.verb == "APPROUVER" and not phrasing.value:
                return HoldCommand("PUBLIER", phrasing=True)
        return None
    verb = _KEYWORDS[" ".join(fold_words(match.group(0)).split())]
    rest = raw[match.end() :].strip()
    colon = rest.startswith(":")
    rest = rest.lstrip(":").strip()
    if verb in _TEXT_VERBS:
        sans_suite = re.match(r"sans[\s-]+suite\b", fold_aligned(rest)) is not None
        if strict and rest and not colon and not sans_suite:
            return None
        following = "\n".join(lines[first + 1 :]).strip()
        body = "\n".join(part for part in (rest, following) if part).strip()
        if verb == "CLASSER" and not colon:
            body = re.sub(r"^(?:sans suite)\b[\s.,;:!-]*", "", body, flags=re.IGNORECASE)
        return HoldCommand(verb, body.strip())
    # ANNULER and PUBLIER: nothing but politeness may follow on their line ("Publier la
    # réponse sur le portail permet…" is an answer, not a command).
    leftover = _POLITE.sub(" ", fold_words(rest)).strip()
    if leftover:
        return None
    return HoldCommand(verb)
