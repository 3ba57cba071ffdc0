"""What the triage of a question found (`workflows.text.triage` computes it). On its own so that
the case records and the decisions, which carry it, do not load the triage itself (its
stemmer and model) where nothing is triaged, such as `mailbot inspect` (start-up)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TriageResult:
    """`space`: the winning space, None when unclassified. `scores`: every rule space's score,
    `out_of_scope` included. `matched`: space -> distinct terms found (real spaces only; the
    out-of-scope ones are in `out_of_scope_terms`). `out_of_scope`: the out-of-scope score
    reaches `min_score` and beats every space. `alternative`: a close runner-up (a space or
    `out_of_scope`), None when the lead is clear. `model_terms`: label -> the words that made
    the learnt model lean that way."""

    space: str | None
    scores: dict[str, float] = field(default_factory=dict)
    matched: dict[str, list[str]] = field(default_factory=dict)
    out_of_scope: bool = False
    out_of_scope_terms: list[str] = field(default_factory=list)
    alternative: str | None = None
    model_terms: dict[str, list[str]] = field(default_factory=dict)

    def as_data(self) -> dict[str, object]:
        """A JSON-ready copy for the case data."""
        data: dict[str, object] = {
            "space": self.space,
            "scores": dict(self.scores),
            "matched": {k: list(v) for k, v in self.matched.items()},
            "out_of_scope": self.out_of_scope,
            "out_of_scope_terms": list(self.out_of_scope_terms),
        }
        if self.alternative is not None:
            data["alternative"] = self.alternative
        if self.model_terms:
            data["model_terms"] = {k: list(v) for k, v in self.model_terms.items()}
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> TriageResult:
        """The result `as_data` wrote (any missing or odd part left empty)."""
        scores = data.get("scores")
        matched = data.get("matched")
        terms = data.get("out_of_scope_terms")
        space = data.get("space")
        alternative = data.get("alternative")
        model_terms = data.get("model_terms")
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
            alternative=None if alternative is None else str(alternative),
            model_terms={
                str(k): [str(t) for t in v]
                for k, v in (model_terms.items() if isinstance(model_terms, Mapping) else ())
                if isinstance(v, list)
            },
        )
