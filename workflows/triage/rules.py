"""Weighted rules over stems (`[[questions.rules]]` of config.toml).

A term is one word or several (« système d'information »), read through `normalise.stems`, so
it matches any inflection, accents and case aside. A term ending in `*` also matches longer
words that start with its stem (« juridiction* » covers « juridictionnel »). Every occurrence
of a term adds the rule's weight to its space, at most `MAX_HITS` times per term. A rule's
`unless` terms are its negative terms: when one of them is in the question the rule does not
count (« recours » is not a RAPO when the question is about a contractor's contract).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from workflows.triage.normalise import stems

MAX_HITS = 2


class TriageRuleLike(Protocol):
    @property
    def space(self) -> str: ...

    @property
    def weight(self) -> float: ...

    @property
    def terms(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class Term:
    text: str
    stems: tuple[str, ...]
    prefix: bool


@dataclass(frozen=True)
class RuleHits:
    """What the rules found: `scores` per space (every rule space, even at 0), `matched` the
    distinct terms found per space, `cancelled` the negative terms that silenced a rule."""

    scores: dict[str, float]
    matched: dict[str, list[str]]
    cancelled: dict[str, list[str]]


@lru_cache(maxsize=4096)
def compile_term(term: str) -> Term | None:
    raw = term.strip()
    prefix = raw.endswith("*")
    found = tuple(stems(raw.rstrip("*")))
    return Term(raw.rstrip("*"), found, prefix) if found else None


def starts(text_stems: Sequence[str], term: Term) -> list[int]:
    """Where `term` occurs as a contiguous run of stems. The last stem is compared first (a
    string test per word), the run before it only where that one matched."""
    last = len(term.stems) - 1
    wanted, head, prefix = term.stems[last], term.stems[:last], term.prefix
    found = []
    for i in range(len(text_stems) - last):
        word = text_stems[i + last]
        if word != wanted and not (prefix and word.startswith(wanted)):
            continue
        if last and tuple(text_stems[i : i + last]) != head:
            continue
        found.append(i)
    return found


def count(text_stems: Sequence[str], term: Term) -> int:
    return len(starts(text_stems, term))


def _first_found(text_stems: Sequence[str], terms: Sequence[str]) -> list[str]:
    found = []
    for raw in terms:
        term = compile_term(raw)
        if term is not None and count(text_stems, term):
            found.append(term.text)
    return found


def _distinct(terms: Sequence[str]) -> list[Term]:
    """The compiled terms, once per stem sequence (« horodateur » and « horodateurs » are one)."""
    seen: set[tuple[tuple[str, ...], bool]] = set()
    kept = []
    for raw in terms:
        term = compile_term(raw)
        if term is not None and (term.stems, term.prefix) not in seen:
            seen.add((term.stems, term.prefix))
            kept.append(term)
    return kept


def apply_rules(text_stems: Sequence[str], rules: Sequence[TriageRuleLike]) -> RuleHits:
    """Longest terms first: words already matched by a longer term of the same space do not
    count again (« commission du contentieux » is one term, not three)."""
    scores: dict[str, float] = {}
    matched: dict[str, list[str]] = {}
    cancelled: dict[str, list[str]] = {}
    weighted: list[tuple[str, float, Term]] = []
    for rule in rules:
        scores.setdefault(rule.space, 0.0)
        negatives = _first_found(text_stems, getattr(rule, "unless", None) or ())
        if negatives:
            cancelled.setdefault(rule.space, []).extend(negatives)
            continue
        weighted += [(rule.space, rule.weight, t) for t in _distinct(rule.terms)]
    covered: dict[str, set[int]] = {}
    for space, weight, term in sorted(weighted, key=lambda w: -len(w[2].stems)):
        taken = covered.setdefault(space, set())
        size = len(term.stems)
        fresh = [i for i in starts(text_stems, term) if not taken & set(range(i, i + size))]
        if not fresh:
            continue
        for i in fresh:
            taken.update(range(i, i + size))
        scores[space] += min(len(fresh), MAX_HITS) * weight
        found = matched.setdefault(space, [])
        if term.text not in found:
            found.append(term.text)
    return RuleHits(scores=scores, matched=matched, cancelled=cancelled)
