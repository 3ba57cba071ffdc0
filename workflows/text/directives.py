"""Reviewer commands (subscription cases) and directives (question cases) read from new text.

Keywords are matched in any case, accents optional, `:` optional (required after QUESTION,
whose value is free text), `*bold*` markers ignored; synonyms map to the canonical keyword of
CONTRACTS.md. Protective directives (NE PAS PUBLIER, HORS PÉRIMÈTRE) count wherever they
stand, so that an answer is never published by mistake (fail closed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from workflows.commands import ReviewerCommand, Verb
from workflows.text.fold import fold, fold_aligned
from workflows.text.phrasings import Suggestion, read_phrasing, suggest

__all__ = [
    "SPACE_NAMES",
    "DirectiveResult",
    "ReviewerCommand",
    "Suggestion",
    "help_suggestion",
    "is_directive_line",
    "is_protective_line",
    "parse_directives",
]

SPACE_NAMES = ("ACCUEIL", "DESTA", "ANTAI")

# Folded (upper-case, unaccented, hyphens as spaces) synonym -> canonical keyword.
COMMAND_SYNONYMS: dict[str, Verb] = {
    "APPROUVER": "APPROUVER", "APPROUVE": "APPROUVER", "APPROUVEE": "APPROUVER",
    "APPROUVES": "APPROUVER", "APPROUVEES": "APPROUVER", "VALIDER": "APPROUVER",
    "VALIDE": "APPROUVER", "VALIDEE": "APPROUVER", "VALIDES": "APPROUVER",
    "ACCEPTER": "APPROUVER", "ACCEPTE": "APPROUVER", "ACCEPTEE": "APPROUVER",
    "REFUSER": "REFUSER", "REFUSE": "REFUSER", "REFUSEE": "REFUSER", "REJETER": "REFUSER",
    "REJETE": "REFUSER", "REJETEE": "REFUSER",
    "COMPLETER": "COMPLÉTER", "A COMPLETER": "COMPLÉTER", "INCOMPLET": "COMPLÉTER",
    "INCOMPLETE": "COMPLÉTER",
    "AIDE": "AIDE", "HELP": "AIDE",
}  # fmt: skip
TOP_SYNONYMS: dict[str, str] = {
    "ESPACE": "ESPACE",
    "QUESTION": "QUESTION",
    "TRANSFERER": "TRANSFÉRER", "TRANSFERE": "TRANSFÉRER", "TRANSFERT": "TRANSFÉRER",
    "TRANSMETTRE": "TRANSFÉRER",
}  # fmt: skip
PROTECTIVE_SYNONYMS: dict[str, str] = {
    "NE PAS PUBLIER": "NE PAS PUBLIER", "A NE PAS PUBLIER": "NE PAS PUBLIER",
    "NEPASPUBLIER": "NE PAS PUBLIER", "NON PUBLIABLE": "NE PAS PUBLIER",
    "PAS DE PUBLICATION": "NE PAS PUBLIER",
    "HORS PERIMETRE": "HORS PÉRIMÈTRE", "HORS DU PERIMETRE": "HORS PÉRIMÈTRE",
    "HORSPERIMETRE": "HORS PÉRIMÈTRE",
}  # fmt: skip
_GREETING = re.compile(
    r"^(BONJOUR|BONSOIR|HELLO|HI|MADAME|MONSIEUR|CHERE?S?|MESDAMES|MESSIEURS)\b.{0,40}$"
)
_PEOPLE_FILLER = re.compile(r"\bN\s?°|°|\b(?:NOS?|NUMEROS?|PERSONNES?|LES|LA|LE)\b\.?")
_THANKS = re.compile(r"\s*[.!]*\s*(MERCI( BEAUCOUP| D'AVANCE)?)?\s*[.!]*\s*$")
MAX_PERSON_NUMBER = 1000


@dataclass(frozen=True)
class DirectiveResult:
    """`directives` in canonical form; `text` the new text without directive or command
    lines (for a question: the answer); `errors` French notes for the reviewer."""

    directives: list[str]
    text: str
    command: ReviewerCommand | None = None
    errors: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- folding


def _upper_fold(text: str) -> str:
    """Unaccented upper case, as the keyword tables are written."""
    return fold(text).upper()


def _unbold(line: str) -> str:
    """Drop surrounding whitespace and the *bold* / _underline_ marks of text/plain parts."""
    return line.strip().strip("*_").strip()


@dataclass(frozen=True)
class _Vocabulary:
    """Synonyms of a set of keywords, and the regex that finds one at the start of a line."""

    regex: re.Pattern[str]
    canonical: Mapping[str, str]  # synonym without spaces or hyphens -> canonical keyword


def _compact(keyword: str) -> str:
    return re.sub(r"[-\s]", "", keyword)


def _vocabulary(synonyms: Mapping[str, str]) -> _Vocabulary:
    """Any synonym, its words separated by spaces or hyphens (or nothing), as a whole word."""
    alternatives = [
        r"[-\s]*".join(map(re.escape, synonym.split()))
        for synonym in sorted(synonyms, key=len, reverse=True)
    ]
    # Matched against `fold_aligned` text (lower case): the tables are upper case.
    regex = re.compile(r"(?:" + "|".join(alternatives) + r")(?![\w'])", re.IGNORECASE)
    return _Vocabulary(regex, {_compact(k): v for k, v in synonyms.items()})


COMMANDS = _vocabulary(COMMAND_SYNONYMS)
TOP_DIRECTIVES = _vocabulary(TOP_SYNONYMS)
PROTECTIVE_DIRECTIVES = _vocabulary(PROTECTIVE_SYNONYMS)


def _match_keyword(line: str, vocabulary: _Vocabulary) -> tuple[str, str, bool] | None:
    """(canonical keyword, value as written, colon present) when the line starts with one."""
    raw = _unbold(line)
    # fold_aligned keeps indexes: raw[match.end():] is valid.
    match = vocabulary.regex.match(fold_aligned(raw))
    if not match:
        return None
    rest = raw[match.end() :].strip().strip("*_").strip()
    colon = rest.startswith(":")
    return (
        vocabulary.canonical[_compact(match.group(0)).upper()],
        rest[1:].strip() if colon else rest,
        colon,
    )


def is_protective_line(line: str) -> bool:
    """True when the line starts with NE PAS PUBLIER or HORS PÉRIMÈTRE (or a synonym)."""
    return _match_keyword(line, PROTECTIVE_DIRECTIVES) is not None


def is_directive_line(line: str) -> bool:
    """True when the line starts with any command or directive keyword (or a synonym)."""
    return any(
        _match_keyword(line, vocabulary) is not None
        for vocabulary in (COMMANDS, TOP_DIRECTIVES, PROTECTIVE_DIRECTIVES)
    )


def _is_greeting(line: str) -> bool:
    return bool(_GREETING.match(_upper_fold(_unbold(line))))


def _collapse(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        if line.strip() or (out and out[-1].strip()):
            out.append(line)
    return "\n".join(out).strip()


# --------------------------------------------------------------------------- entry point


def parse_directives(new_text: str, case_kind: str) -> DirectiveResult:
    """Read the directives (question case) or the command (subscription case) of a reply."""
    if case_kind == "question":
        return _parse_question(new_text)
    if case_kind == "subscription":
        return _parse_subscription(new_text)
    raise ValueError(f"unknown case kind: {case_kind!r}")


# --------------------------------------------------------------------------- question


def _parse_question(new_text: str) -> DirectiveResult:
    lines = new_text.split("\n")
    directives: list[str] = []
    errors: list[str] = []
    kept: list[str] = []
    at_top = True
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip():
            kept.append(line)
            continue
        top = _top_directive(line)
        if top and at_top:
            keyword, value = top
            if keyword == "QUESTION":
                value, used = _continuation(value, lines, i)
                i += used
            directive, error = _canonical_top(keyword, value)
            _add(directives, directive)
            errors.extend(error)
            continue
        protective = _match_keyword(line, PROTECTIVE_DIRECTIVES)
        if protective:
            keyword, value, colon = protective
            _add(directives, keyword)
            if value and not colon and value[0] not in ".!;(-–":
                # Fail closed: obeyed, but the sentence stays in the answer and is reported.
                kept.append(line)
                errors.append(f"La ligne « {line.strip()} » a été lue comme la consigne {keyword}.")
            elif value and colon and keyword == "HORS PÉRIMÈTRE":
                # « HORS PÉRIMÈTRE : votre question relève du CEREMA… »: the text after the
                # colon is the reviewer's message to the asker, kept (NE PAS PUBLIER's is a
                # note for the reviewers, dropped as before).
                kept.append(value[:1].upper() + value[1:])
                at_top = False
            continue
        if at_top and _is_greeting(line):
            kept.append(line)
            continue
        at_top = False
        if top:
            errors.append(
                f"La consigne « {line.strip()} » n'a pas été prise en compte : ESPACE, "
                "QUESTION et TRANSFÉRER doivent figurer en tête de la réponse, avant le texte."
            )
        kept.append(line)
    errors.extend(_conflicts(directives))
    return DirectiveResult(directives=directives, text=_collapse(kept), errors=errors)


def _top_directive(line: str) -> tuple[str, str] | None:
    match = _match_keyword(line, TOP_DIRECTIVES)
    if not match:
        return None
    keyword, value, colon = match
    if not value:
        # "QUESTION :" alone: the wording follows on the next lines.
        return (keyword, "") if keyword == "QUESTION" and colon else None
    # Without a colon only a single word counts: "Espace DESTA : voici…" is prose.
    if not colon and (keyword == "QUESTION" or len(value.split()) != 1):
        return None
    return keyword, value


def _continuation(value: str, lines: list[str], start: int) -> tuple[str, int]:
    """A QUESTION wording wrapped by the mail client: following lines that continue the
    sentence (it does not end with . ? ! : and the next line starts in lower case). After
    "QUESTION :" alone, the lines up to the first blank line are the wording."""
    used = 0
    alone = not value
    for line in lines[start:]:
        stripped = line.strip()
        if not stripped:
            break
        if not alone and (
            value.rstrip().endswith((".", "?", "!", ":")) or not stripped[0].islower()
        ):
            break
        value = f"{value} {stripped}".strip()
        used += 1
    return value, used


def _canonical_top(keyword: str, value: str) -> tuple[str, list[str]]:
    value = value.strip()
    if keyword == "QUESTION":
        return f"QUESTION: {value}", []
    value = value.rstrip(".;,!")
    if keyword == "ESPACE":
        folded = _upper_fold(value)
        folded = re.sub(r"^(L'?\s*)?ESPACE\s+", "", folded).strip()
        if folded in SPACE_NAMES:
            return f"ESPACE: {folded}", []
        return f"ESPACE: {value.upper()}", [
            f"L'espace « {value} » n'existe pas : indiquez ACCUEIL, DESTA ou ANTAI."
        ]
    # TRANSFÉRER: the group name as configured (lower-case), "au groupe desta" tolerated.
    group = re.sub(r"^(?:à|a|au|aux|vers)\s+(?:(?:le\s+)?groupe\s+)?", "", value.lower())
    group = re.sub(r"^groupe\s+", "", group).strip()
    return f"TRANSFÉRER: {group}", []


def _add(directives: list[str], directive: str) -> None:
    if directive not in directives:
        directives.append(directive)


def _conflicts(directives: list[str]) -> list[str]:
    errors = []
    for keyword in ("ESPACE", "QUESTION", "TRANSFÉRER"):
        values = [d for d in directives if d.startswith(keyword + ":")]
        if len(values) > 1:
            errors.append(
                f"La consigne {keyword} figure plusieurs fois avec des valeurs différentes."
            )
    return errors


# --------------------------------------------------------------------------- subscription


def _first_line(lines: list[str]) -> int | None:
    """The line a subscription command stands on: the first non-empty one after a greeting."""
    return next(
        (i for i, line in enumerate(lines) if line.strip() and not _is_greeting(line)), None
    )


def help_suggestion(new_text: str, people_count: int = 0) -> Suggestion | None:
    """For the help mail: the reviewer's first line and the command it most likely meant."""
    lines = new_text.split("\n")
    first = _first_line(lines)
    return None if first is None else suggest(lines[first], people_count)


def _parse_subscription(new_text: str) -> DirectiveResult:
    lines = new_text.split("\n")
    first = _first_line(lines)
    if first is None:
        return DirectiveResult(directives=[], text=_collapse(lines))
    # Canonical commands and reviewers' phrasings alike (workflows.text.phrasings).
    phrasing = read_phrasing(lines[first])
    if phrasing is None:
        return DirectiveResult(directives=[], text=_collapse(lines))
    command, used, errors = _build_command(phrasing.verb, phrasing.value, lines, first + 1)
    if command is None:
        return DirectiveResult(directives=[], text=_collapse(lines), errors=errors)
    rest = lines[:first] + lines[first + 1 + used :]
    return DirectiveResult(
        directives=[command.canonical()], text=_collapse(rest), command=command, errors=errors
    )


def _build_command(
    verb: Verb, value: str, lines: list[str], start: int
) -> tuple[ReviewerCommand | None, int, list[str]]:
    if verb == "AIDE":
        return ReviewerCommand("AIDE"), 0, []
    if verb == "APPROUVER":
        people, error = parse_people(value)
        if error:
            return None, 0, [error]
        return ReviewerCommand("APPROUVER", people=people), 0, []
    following = []
    for line in lines[start:]:
        if not line.strip():
            break
        following.append(line.strip())
    text = "\n".join(([value] if value else []) + following).strip()
    if verb == "COMPLÉTER" and not text:
        return None, 0, ["Précisez ce qui manque après COMPLÉTER, sur la même ligne."]
    return ReviewerCommand(verb, text=text or None), len(following), []


def parse_people(value: str) -> tuple[tuple[int, ...] | None, str | None]:
    """ "1,3" / "1, 3" / "1 et 3" / "1-3" / "n° 2" -> sorted unique numbers; "" / "tous" -> None
    (everyone). Returns (people, French error)."""
    folded = _THANKS.sub("", _upper_fold(value))
    folded = _PEOPLE_FILLER.sub(" ", folded).strip(" :,;.!")
    folded = re.sub(r"\s*(?:-|–|\bA\b|\bAU\b)\s*", "-", folded)
    tokens = [t for t in re.split(r"\s*(?:,|;|/|\+|\bET\b|\bAND\b|\s)\s*", folded) if t]
    if not tokens or folded in ("TOUS", "TOUTES", "TOUT", "TOUT LE MONDE"):
        return None, None
    numbers: set[int] = set()
    for token in tokens:
        bounds = re.fullmatch(r"(\d{1,4})-(\d{1,4})|(\d{1,4})", token)
        if not bounds:
            return None, _people_error(value)
        low, high = (int(bounds[1]), int(bounds[2])) if bounds[3] is None else (int(bounds[3]),) * 2
        low, high = min(low, high), max(low, high)
        if low < 1 or high > MAX_PERSON_NUMBER:
            return None, _people_error(value)
        numbers.update(range(low, high + 1))
    return tuple(sorted(numbers)), None


def _people_error(value: str) -> str:
    return (
        f"Les numéros « {value} » n'ont pas été compris : indiquez les numéros des personnes "
        "de la liste, par exemple APPROUVER 1,3."
    )
