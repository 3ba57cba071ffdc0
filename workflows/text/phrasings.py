"""Reviewers write as they write (CONTRACTS.md, "Reviewer commands", added 2026-12).

`read_phrasing` reads the first non-empty line of a reply to a subscription case: the canonical
commands (APPROUVER, REFUSER, COMPLÉTER, AIDE and their synonyms) and the phrasings reviewers
use (« je valide », « ok pour moi », « refusé, … », « il manque … »). A phrasing counts only
when the rest of its line is empty, politeness or person numbers (approval) or a reason
(refusal, request for more); a negation, « sauf », « mais » or a second, conflicting verb makes
it no command at all (the reviewer gets the help mail), never a decision.

`suggest` proposes, for the help mail, the command a line that is not one most likely meant.
Everything is matched on `fold_aligned` text (lower case, no accents, same indexes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workflows.commands import Verb
from workflows.text.fold import fold_aligned

__all__ = ["Phrasing", "Suggestion", "read_phrasing", "suggest"]

_SP = r"[\s-]+"
_ED = r"(?:er|ee|ees|es|e|s)?"  # valider, validé(e)(s), je valide
_APPROVE_VERB = rf"(?:approuv|valid|accept){_ED}"
_REFUSE_VERB = rf"(?:refus{_ED}|rejet(?:te|{_ED}))"
_SUBJECT = rf"(?:(?:moi{_SP})?je{_SP}|j(?:'\s*|\s+))?"
_CASE = rf"(?:(?:la{_SP}|le{_SP})?(?:demande|dossier){_SP})?"

# (regex on folded text, canonical verb, how the value is read)
_PHRASINGS: tuple[tuple[str, Verb, str], ...] = (
    (rf"{_SUBJECT}{_CASE}{_APPROVE_VERB}", "APPROUVER", "rest"),
    (rf"bon{_SP}pour{_SP}accord", "APPROUVER", "rest"),
    (rf"avis{_SP}favorable|favorable", "APPROUVER", "rest"),
    (rf"c'est{_SP}(?:ok|bon)|okay|ok|d'\s*accord|accord", "APPROUVER", "rest"),
    (rf"{_SUBJECT}{_CASE}{_REFUSE_VERB}", "REFUSER", "rest"),
    (rf"avis{_SP}defavorable|defavorable", "REFUSER", "rest"),
    (rf"(?:a{_SP})?completer|{_CASE}incomplete?", "COMPLÉTER", "rest"),
    (rf"merci{_SP}de{_SP}(?:lui{_SP})?demander(?:{_SP}au{_SP}demandeur)?", "COMPLÉTER", "rest"),
    (rf"(?:il{_SP})?manque", "COMPLÉTER", "phrase"),
    (r"aide|help", "AIDE", "rest"),
)
_PHRASING_RE = [
    (re.compile(rf"(?:{pattern})(?![\w'])"), verb, mode) for pattern, verb, mode in _PHRASINGS
]

_POLITE = re.compile(
    rf"(?:bien{_SP})?cordialement|merci(?:{_SP}(?:beaucoup|bien|d'\s*avance|a{_SP}vous))?"
    rf"|bonne{_SP}(?:fin{_SP}de{_SP})?(?:journee|soiree|semaine)|bien{_SP}a{_SP}vous"
    rf"|salutations|a{_SP}bientot|pour{_SP}(?:moi|ma{_SP}part)|de{_SP}mon{_SP}cote"
    rf"|c'est{_SP}(?:bon|ok)|tout{_SP}est{_SP}(?:bon|ok)|:-?\)"
)
_PEOPLE_WORDS = re.compile(
    rf"\b(?:uniquement|seulement|seule?s?|que|pour|qu'?\s*)\b|(?:les{_SP})?demandes?{_SP}"
)
_TRAILING_POLITE = re.compile(rf"(?:[\s,;-]*(?:{_POLITE.pattern})[\s.!]*)+$")


def _without_thanks(text: str) -> str:
    """« pas une collectivité. Merci » -> « pas une collectivité. »"""
    match = _TRAILING_POLITE.search(fold_aligned(text))
    return text[: match.start()].rstrip(" ,;-") if match else text


_OBJECTION = re.compile(r"\b(?:mais|sauf|pourtant|cependant|toutefois)\b|\?")
_NEGATION = re.compile(  # « je refuse pas », not « REFUSER Pas de délibération. »
    r"^\s*(?:pas|non|jamais|plus)(?:\s+(?:encore|maintenant|pour\s+l'instant))?\b[\s.!,]*"
    r"(?:$|merci|cordialement)"
)
_CONFLICT_APPROVAL = re.compile(
    rf"(?:^|[,;/.!]|\bou\b|\bet\b|\bpuis\b)\s*{_SUBJECT}{_APPROVE_VERB}(?![\w'])"
    rf"|\b{_APPROVE_VERB}(?=\s*(?:[,;.!?]|$))"
    rf"|\bok{_SP}pour{_SP}moi\b|\bbon{_SP}pour{_SP}accord\b|\bavis{_SP}favorable\b"
)
_CONFLICT_REFUSAL = re.compile(rf"\b(?:{_REFUSE_VERB}|refus|defavorable)(?![\w'])")
_LEADING = " \t,;:.!?-–—)"
_CONNECTOR = re.compile(
    r"^(?:(?:car|parce\s+que|parce\s+qu'|au\s+motif\s+que|mais|sauf)\b|motif\s*:)\s*"
)


def _reason(text: str) -> str:
    """« , car pas une collectivité. » -> « pas une collectivité. »"""
    text = text.lstrip(_LEADING)
    match = _CONNECTOR.match(fold_aligned(text))
    return text[match.end() :].lstrip(_LEADING) if match else text


@dataclass(frozen=True)
class Phrasing:
    """A command read on the first line: `value` is what follows it (for APPROUVER: the person
    numbers only, "" for everyone; for REFUSER and COMPLÉTER: the text as written)."""

    verb: Verb
    value: str


def read_phrasing(line: str) -> Phrasing | None:
    """The command a first line stands for, or None (the help mail)."""
    raw = line.strip().strip("*_").strip()
    folded = fold_aligned(raw)
    for regex, verb, mode in _PHRASING_RE:
        match = regex.match(folded)
        if match:
            start = match.start() if mode == "phrase" else match.end()
            return _value(verb, raw[start:], folded[match.end() :], phrase=mode == "phrase")
    return None


def _value(verb: Verb, rest: str, folded_rest: str, *, phrase: bool) -> Phrasing | None:
    if verb == "AIDE":
        return Phrasing("AIDE", "")
    if verb == "APPROUVER":
        return _approval(folded_rest)
    if _OBJECTION.search(folded_rest.rstrip(" ?")) or _CONFLICT_APPROVAL.search(folded_rest):
        return None
    if verb == "REFUSER" and (
        _NEGATION.match(folded_rest) or _CONFLICT_REFUSAL.search(folded_rest)
    ):
        return None
    if verb == "COMPLÉTER" and _CONFLICT_REFUSAL.search(folded_rest):
        return None
    text = rest.strip()
    text = _without_thanks(text)
    text = _reason(text) if not phrase else text
    return Phrasing(verb, text[:1].upper() + text[1:] if phrase else text)


def _approval(folded_rest: str) -> Phrasing | None:
    """Only politeness and person numbers may follow an approval."""
    if "?" in folded_rest:
        return None
    cleaned = _POLITE.sub(" ", folded_rest)
    people = _PEOPLE_WORDS.sub(" ", cleaned).strip(" \t,;:.!-")
    if not people:
        return Phrasing("APPROUVER", "")
    if re.search(r"\d", people) or re.fullmatch(
        rf"(?:a{_SP})?(?:tous|toutes|tout le monde)", people
    ):
        return Phrasing("APPROUVER", people)
    return None


# --------------------------------------------------------------------------- help mail


@dataclass(frozen=True)
class Suggestion:
    """For the help mail: the line as written, the command most likely meant (with a
    placeholder when we cannot fill it in) and a line to reply with."""

    written: str
    command: str
    example: str

    @property
    def verb(self) -> str:
        return self.command.split()[0]


_REFUSAL_WORD = re.compile(rf"(?:{_REFUSE_VERB}|refus|(?:avis{_SP})?defavorable)(?![\w'])")
_MISSING_WORD = re.compile(r"\b(?:il\s+)?manque\b|\bcomplet|\bincomplet")
_NEGATED_APPROVAL = re.compile(
    rf"\b(?:ne|n'|pas|non)\b.*?(?:{_APPROVE_VERB}|accord|ok|favorable)(?![\w'])"
    rf"|(?:{_APPROVE_VERB}|accord|ok)\b.*\bpas\b"
)
_REFUSAL_EXAMPLE = "REFUSER La délibération de la collectivité n'est pas jointe."
_WRITTEN_MAX = 300


def suggest(line: str, people_count: int = 0) -> Suggestion:
    """The command most likely meant by a first line that is not one."""
    raw = " ".join(line.split())
    written = raw if len(raw) <= _WRITTEN_MAX else raw[: _WRITTEN_MAX - 1] + "…"
    folded = fold_aligned(raw)
    refusal = _REFUSAL_WORD.search(folded)
    if refusal:
        reason = _without_thanks(_reason(raw[refusal.end() :]).strip())
        if reason:
            return Suggestion(written, f"REFUSER {reason}", f"REFUSER {reason}")
        return Suggestion(written, "REFUSER <motif>", _REFUSAL_EXAMPLE)
    missing = _MISSING_WORD.search(folded)
    if missing and folded[missing.start() :].startswith(("il", "manque")):
        text = raw[missing.start() :].strip()
        text = text[:1].upper() + text[1:]
        return Suggestion(written, f"COMPLÉTER {text}", f"COMPLÉTER {text}")
    if missing:
        example = "COMPLÉTER Merci de joindre la délibération de la collectivité."
        return Suggestion(written, "COMPLÉTER <ce qui manque>", example)
    if _NEGATED_APPROVAL.search(folded):
        return Suggestion(written, "REFUSER <motif>", _REFUSAL_EXAMPLE)
    numbers = sorted({int(n) for n in re.findall(r"\b\d{1,4}\b", folded) if int(n) >= 1})
    if numbers and re.search(r"\bsauf\b", folded) and people_count:
        numbers = [n for n in range(1, people_count + 1) if n not in numbers]
    if numbers:
        command = "APPROUVER " + ",".join(map(str, numbers))
        return Suggestion(written, command, command)
    return Suggestion(written, "APPROUVER", "APPROUVER")
