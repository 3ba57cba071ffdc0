"""Reply-text scores per reply (a reply is right when every check on it passes), overall and on
French client replies: the two numbers issue 11 tracks.

A check of `eval_replies` is one expectation; a reply (one input mail) may carry several. The
upstream corpora are scored apart from the project's own fixtures, which pass by construction.
A reply is "French" when it was written with a French client: its text holds a French reply
marker (« a écrit », « De : … Objet : », « Message d'origine », « Envoyé de mon … » …).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

_FRENCH = re.compile(
    r"a\s+[ée]crit\s*:|^\s*\**(?:De|Objet|Envoy[ée])\s*\**\s*:|message d['’]origine"
    r"|mail original|message transf[ée]r[ée]|envoy[ée] (?:de|depuis) mon|^\s*Message du \d",
    re.IGNORECASE | re.MULTILINE,
)
OWN = "mailbot fixtures (own)"


class _Source(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def html(self) -> str | None: ...


class _Check(Protocol):
    @property
    def corpus(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def reply(self) -> str: ...
    @property
    def source(self) -> _Source: ...


@dataclass
class Tally:
    replies: int = 0
    ours: int = 0
    ours_or_design: int = 0
    library: int = 0
    missed: list[str] = field(default_factory=list)

    def line(self, label: str) -> str:
        pct = 100 * self.ours / self.replies if self.replies else 0.0
        return (
            f"{label:<44} {self.ours:>4}/{self.replies:<4} ({pct:5.1f} %)"
            f"   counting design differences as right: {self.ours_or_design:>4}"
            f"   library alone: {self.library:>4}"
        )


def reply_key(corpus: str, fixture: str | None, text: str, html: str | None) -> str:
    if fixture:
        return f"{corpus}:{fixture}"
    digest = hashlib.sha1((text + "\0" + (html or "")).encode("utf-8")).hexdigest()[:12]
    return f"{corpus}:inline:{digest}"


def is_french(text: str, html: str | None) -> bool:
    return bool(_FRENCH.search(text) or (html and _FRENCH.search(html)))


def score_replies(
    checks: Iterable[_Check],
    ours: Callable[[_Check], bool],
    library: Callable[[_Check], bool],
    by_design: Callable[[_Check], bool],
) -> dict[str, Tally]:
    """Tallies "corpus" (the upstream corpora), "french" (their French replies) and "own"."""
    grouped: dict[str, list[_Check]] = {}
    for check in checks:
        grouped.setdefault(check.reply or f"{check.corpus}:{check.name}", []).append(check)
    tallies = {"corpus": Tally(), "french": Tally(), "own": Tally()}
    for key, group in grouped.items():
        first = group[0]
        names = ["own"] if first.corpus == OWN else ["corpus"]
        if first.corpus != OWN and is_french(first.source.text, first.source.html):
            names.append("french")
        failed = [check for check in group if not ours(check)]
        for name in names:
            tally = tallies[name]
            tally.replies += 1
            tally.ours += not failed
            tally.ours_or_design += all(by_design(check) for check in failed)
            tally.library += all(library(check) for check in group)
            if failed:
                tally.missed.append(key)
    return tallies
