"""Triage of a question to a space by weighted terms (`[[questions.rules]]` of config.toml).

Matching is accent- and case-insensitive and on whole words or phrases: both the text and the
terms are folded to lower-case ASCII letters and digits separated by single spaces, so
« Système d’information » matches `système d'information` and « post stationnement » matches
`post-stationnement`. Every occurrence of a term adds the rule's weight to its space.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from workflows.text.fold import fold_words

OUT_OF_SCOPE = "out_of_scope"


class TriageRuleLike(Protocol):
    @property
    def space(self) -> str: ...

    @property
    def weight(self) -> float: ...

    @property
    def terms(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class TriageResult:
    """`space`: the winning space, None when unclassified. `scores`: every rule space's score,
    `out_of_scope` included. `matched`: space -> distinct terms found (real spaces only; the
    out-of-scope ones are in `out_of_scope_terms`). `out_of_scope`: the out-of-scope score
    reaches `min_score` and beats every space."""

    space: str | None
    scores: dict[str, float] = field(default_factory=dict)
    matched: dict[str, list[str]] = field(default_factory=dict)
    out_of_scope: bool = False
    out_of_scope_terms: list[str] = field(default_factory=list)

    def as_data(self) -> dict[str, object]:
        """A JSON-ready copy for the case data."""
        return {
            "space": self.space,
            "scores": dict(self.scores),
            "matched": {k: list(v) for k, v in self.matched.items()},
            "out_of_scope": self.out_of_scope,
            "out_of_scope_terms": list(self.out_of_scope_terms),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> TriageResult:
        """The result `as_data` wrote (any missing or odd part left empty)."""
        scores = data.get("scores")
        matched = data.get("matched")
        terms = data.get("out_of_scope_terms")
        space = data.get("space")
        return cls(
            space=None if space is None else str(space),
            scores={
                str(k): float(v)
                for k, v in (scores.items() if isinstance(scores, Mapping) else ())
                if isinstance(v, int | float)
            },
            matched={
                str(k): [str(t) for t in v]
                for k, v in (matched.items() if isinstance(matched, Mapping) else ())
                if isinstance(v, list)
            },
            out_of_scope=bool(data.get("out_of_scope")),
            out_of_scope_terms=[str(t) for t in terms] if isinstance(terms, list) else [],
        )


@lru_cache(maxsize=1024)
def _pattern(term: str) -> re.Pattern[str] | None:
    folded = fold_words(term)
    if not folded:
        return None
    # Lookarounds instead of consuming the spaces, so that "fps fps" counts twice.
    return re.compile(rf"(?<![a-z0-9]){re.escape(folded)}(?![a-z0-9])")


def count_term(folded_text: str, term: str) -> int:
    pattern = _pattern(term)
    return 0 if pattern is None else len(pattern.findall(folded_text))


def triage(
    subject: str, text: str, rules: Sequence[TriageRuleLike], min_score: float
) -> TriageResult:
    """Score the subject and the text against `rules`; the best space at or above `min_score`
    wins. A tie between the best spaces leaves the question unclassified (a person sorts it)."""
    folded = fold_words(f"{subject}\n{text}")
    scores: dict[str, float] = {}
    matched: dict[str, list[str]] = {}
    for rule in rules:
        scores.setdefault(rule.space, 0.0)
        found = matched.setdefault(rule.space, [])
        for term in rule.terms:
            hits = count_term(folded, term)
            if hits:
                scores[rule.space] += hits * rule.weight
                if term not in found:
                    found.append(term)
    oos_terms = matched.pop(OUT_OF_SCOPE, [])
    oos_score = scores.get(OUT_OF_SCOPE, 0.0)
    space_scores = {s: v for s, v in scores.items() if s != OUT_OF_SCOPE}
    best = max(space_scores.values(), default=0.0)
    leaders = [s for s, v in space_scores.items() if v == best]
    space = leaders[0] if best >= min_score and len(leaders) == 1 else None
    return TriageResult(
        space=space,
        scores=scores,
        matched={s: terms for s, terms in matched.items() if terms},
        out_of_scope=oos_score >= min_score and oos_score > best,
        out_of_scope_terms=oos_terms,
    )
