"""Weighted rules over stems (`[[questions.rules]]` of config.toml).

A term is one word or several (« système d'information »), read through `normalise.stems`, so
it matches any inflection, accents and case aside. A term ending in `*` also matches longer
words that start with its stem (« juridiction* » covers « juridictionnel »). Every occurrence
of a term adds the rule's weight to its space, at most `MAX_HITS` times per term. A rule's
`unless` terms are its negative terms: when one of them is in the question the rule does not
count (« recours » is not a RAPO when the question is about a contractor's contract).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
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


class StemIndex:
    """Where each stem of a text occurs: a term is looked up by its last stem instead of being
    compared with every word (a question against the rules' hundred-odd terms)."""

    def __init__(self, text_stems: Sequence[str]) -> None:
        self.stems = tuple(text_stems)
        self.positions: dict[str, list[int]] = {}
        for i, word in enumerate(self.stems):
            self.positions.setdefault(word, []).append(i)
        self.words = sorted(self.positions)  # the words starting with a prefix are a run

    def ends(self, wanted: str, prefix: bool) -> list[int]:
        """Positions of `wanted` (or, with `prefix`, of any stem starting with it), ascending."""
        if not prefix:
            return self.positions.get(wanted, [])
        first = bisect_left(self.words, wanted)
        found = []
        for word in islice(self.words, first, None):
            if not word.startswith(wanted):
                break
            found.append(self.positions[word])
        return sorted(i for ps in found for i in ps) if len(found) > 1 else next(iter(found), [])


def starts(text_stems: Sequence[str] | StemIndex, term: Term) -> list[int]:
    """Where `term` occurs as a contiguous run of stems, ascending. Its last stem is looked up
    in the text's index, the run before it compared only where that one is."""
    index = text_stems if isinstance(text_stems, StemIndex) else StemIndex(text_stems)
    last = len(term.stems) - 1
    head = term.stems[:last]
    found = []
    for end in index.ends(term.stems[last], term.prefix):
        i = end - last
        if i < 0 or (last and index.stems[i:end] != head):
            continue
        found.append(i)
    return found


def count(text_stems: Sequence[str] | StemIndex, term: Term) -> int:
    return len(starts(text_stems, term))


def _first_found(index: StemIndex, terms: Sequence[str]) -> list[str]:
    found = []
    for raw in terms:
        term = compile_term(raw)
        if term is not None and count(index, term):
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


@lru_cache(maxsize=64)
def _longest_first(
    active: tuple[tuple[str, float, tuple[str, ...]], ...],
) -> tuple[tuple[str, float, Term], ...]:
    """The terms of the rules that count, (space, weight, term), longest first: the same few
    rule sets recur (all the rules, or all but one a negative term silenced)."""
    weighted = [(space, weight, t) for space, weight, terms in active for t in _distinct(terms)]
    return tuple(sorted(weighted, key=lambda w: -len(w[2].stems)))


def apply_rules(text_stems: Sequence[str], rules: Sequence[TriageRuleLike]) -> RuleHits:
    """Longest terms first: words already matched by a longer term of the same space do not
    count again (« commission du contentieux » is one term, not three)."""
    scores: dict[str, float] = {}
    matched: dict[str, list[str]] = {}
    cancelled: dict[str, list[str]] = {}
    active: list[tuple[str, float, tuple[str, ...]]] = []
    index = StemIndex(text_stems)
    for rule in rules:
        scores.setdefault(rule.space, 0.0)
        negatives = _first_found(index, getattr(rule, "unless", None) or ())
        if negatives:
            cancelled.setdefault(rule.space, []).extend(negatives)
            continue
        active.append((rule.space, rule.weight, tuple(rule.terms)))
    covered: dict[str, set[int]] = {}
    for space, weight, term in _longest_first(tuple(active)):
        if not index.ends(term.stems[-1], term.prefix):
            continue  # most terms: their last word is not in the question
        taken = covered.setdefault(space, set())
        size = len(term.stems)
        fresh = [i for i in starts(index, term) if not taken & set(range(i, i + size))]
        if not fresh:
            continue
        for i in fresh:
            taken.update(range(i, i + size))
        scores[space] += min(len(fresh), MAX_HITS) * weight
        found = matched.setdefault(space, [])
        if term.text not in found:
            found.append(term.text)
    return RuleHits(scores=scores, matched=matched, cancelled=cancelled)
