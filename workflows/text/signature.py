"""Signatures, closings and mobile footers at the end of a reply's new text."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator

from workflows.text.directives import is_directive_line, is_protective_line

_MOBILE_FOOTER = re.compile(
    r"^\s*(?:"
    r"(?:envoy[ée]|exp[ée]di[ée])\s+(?:de|depuis|avec|à partir de|a partir de)\s+"
    r"(?:mon|ma|mes|l['’]|outlook|yahoo|courrier|mail|gmail|free|orange|sfr|bouygues)"
    r"|sent\s+(?:from|with|via)\s+\w+"
    r"|get\s+outlook\s+for|obten(?:ir|ez)\s+outlook\s+pour|t[ée]l[ée]charger\s+outlook\s+pour"
    r"|provenance\s*:\s*courrier\s+pour"
    r")[^,;]{0,60}$",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^\s*(?:(?:bien\s+|tr[èeé]s\s+)?cordialement|cdlt|cdt|bien\s+[àa]\s+vous"
    r"|(?:sinc[èe]res\s+|meilleures\s+|mes\s+)?salutations(?:\s+distingu[ée]es|\s+respectueuses)?"
    r"|respectueusement|(?:best|kind|warm|warmest|with\s+kind)?\s*regards|best\s+wishes"
    r"|(?:yours\s+)?sincerely|yours\s+truly)"
    r"\s*(?:[,.!;]\s*(?:[A-ZÀ-Ý][\w.'’ -]{0,40})?)?\s*$",
    re.IGNORECASE,
)
_THANKS = re.compile(
    r"^\s*(?:merci(?:\s+(?:beaucoup|d['’]avance|par\s+avance|encore|à\s+vous|a\s+vous))?"
    r"|(?:many\s+)?thanks(?:\s+again|\s+in\s+advance)?|thank\s+you|thx)\s*[,.!]*\s*$",
    re.IGNORECASE,
)
_NAME_WORD = r"(?:[A-ZÀ-Ý][\w'’-]*\.?|[A-ZÀ-Ý]\.)"
_LONE_NAME = re.compile(rf"^\s*{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}}\s*$")
_NOT_NAMES = {"OUI", "NON", "OK", "ANTAI", "DESTA", "ACCUEIL", "CEREMA", "CCSP", "FPS", "RAPO"}
_DASH_NAME = re.compile(r"^-[A-ZÀ-Ý][\w'’.-]*(?:\s[A-ZÀ-Ý][\w'’.-]*){0,3}\s*$")
_PHONE = re.compile(
    r"(?:\+\d{2}\s?\(?0?\)?\s?|\b0)[1-9](?:[\s.-]?\d{2}){4}\b|\(\d{3}\)\s?\d{3}-\d{4}"
)
_CONTACT = re.compile(
    r"(?:^|\s)(?:t[ée]l|tel|t[ée]l[ée]phone|phone|mob|mobile|port|portable|fax)\b\.?\s*:?|@|www\.",
    re.IGNORECASE,
)

# --------------------------------------------------------------------------- signatures

SignatureRule = Callable[[list[str], int], bool]


def _is_dash_delimiter(lines: list[str], i: int) -> bool:
    # RFC 3676 section 4.3: "-- " alone on a line; clients and re-wrapping often drop the space.
    return lines[i].strip() in {"--", "__"}


def _content_lines_after(lines: list[str], i: int, limit: int) -> int:
    """How many non-blank lines follow line i, counting no further than `limit`."""
    count = 0
    for line in islice_from(lines, i + 1):
        if line.strip():
            count += 1
            if count >= limit:
                break
    return count


def islice_from(lines: list[str], start: int) -> Iterator[str]:
    return (lines[j] for j in range(start, len(lines)))


def _is_mobile_footer(lines: list[str], i: int) -> bool:
    # Only near the end: "Sent from my desk, …" in a sentence is prose.
    return bool(_MOBILE_FOOTER.match(lines[i])) and _content_lines_after(lines, i, 3) <= 2


def _is_closing(lines: list[str], i: int) -> bool:
    return bool(_CLOSING.match(lines[i]))


def _is_thanks_and_name(lines: list[str], i: int) -> bool:
    """ "Merci,\nJean Dupont\nMairie de X" as the last paragraph: the thanks opens a card of
    1-4 short lines. "Merci." alone, or followed by more text, stays."""
    if not _THANKS.match(lines[i]) or (i > 0 and lines[i - 1].strip()):
        return False
    card = list(itertools.islice(islice_from(lines, i + 1), 5))
    while card and not card[-1].strip():
        card.pop()
    if not 1 <= len(card) <= 4 or any(not line.strip() or len(line) > 60 for line in card):
        return False
    return _content_lines_after(lines, i + len(card), 1) == 0


def _is_dash_name(lines: list[str], i: int) -> bool:
    """ "-Abhishek Kona" alone as the last paragraph (a list item has a space after its dash)."""
    if not _DASH_NAME.match(lines[i]) or (i > 0 and lines[i - 1].strip()):
        return False
    return _content_lines_after(lines, i, 1) == 0


def _is_lone_name(lines: list[str], i: int) -> bool:
    """ "Marie" or "Jean-Pierre MARTIN" alone as the last paragraph, after some text."""
    line = lines[i].strip()
    if not _LONE_NAME.match(line) or len(line) > 40 or line.upper() in _NOT_NAMES:
        return False
    if i == 0 or lines[i - 1].strip() or _content_lines_after(lines, i, 1):
        return False
    return any(prior.strip() for prior in lines[:i])


def _is_contact_block(lines: list[str], i: int) -> bool:
    """The last paragraph is 2-8 short lines with a phone number, an address or a web site,
    and reads like a card, not a sentence (no line ends with ":" or "?")."""
    if i > 0 and lines[i - 1].strip():
        return False
    block = list(itertools.islice(islice_from(lines, i), 9))
    while block and not block[-1].strip():
        block.pop()
    if not block or _content_lines_after(lines, i + len(block) - 1, 1):
        return False
    if not 2 <= len(block) <= 8 or any(not line.strip() for line in block):
        return False
    if any(len(line) > 80 or line.rstrip().endswith((":", "?", ".")) for line in block):
        return False
    return any(_PHONE.search(line) or _CONTACT.search(line) for line in block[1:])


SIGNATURE_RULES: list[tuple[str, SignatureRule]] = [
    ("signature_delimiter", _is_dash_delimiter),
    ("mobile_footer", _is_mobile_footer),
    ("closing_formula", _is_closing),
    ("thanks_and_name", _is_thanks_and_name),
    ("dash_name", _is_dash_name),
    ("lone_name", _is_lone_name),
    ("contact_block", _is_contact_block),
]


def drop_signature(lines: list[str]) -> list[str]:
    """Cut at the first signature start. Lines below it that say NE PAS PUBLIER or HORS
    PÉRIMÈTRE are kept: a reviewer who writes them under the signature must be obeyed."""
    for i in range(len(lines)):
        if not lines[i].strip() or is_directive_line(lines[i]):
            continue
        if any(rule(lines, i) for _, rule in SIGNATURE_RULES):
            protective = [line for line in lines[i:] if is_protective_line(line)]
            return lines[:i] + (["", *protective] if protective else [])
    return lines
