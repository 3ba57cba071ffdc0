"""Rules and model together, and why: the best label wins when it reaches `min_score`; the
runner-up is named when it comes within `close_margin`; the words that decided are kept for the
reviewer's notification."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workflows.triage.model import Model
from workflows.triage.normalise import stems
from workflows.triage.rules import TriageRuleLike, apply_rules

OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True)
class Settings:
    min_score: float = 1.0
    model_weight: float = 3.0  # a sure model adds model_weight to a label, a guess 0
    close_margin: float = 1.0  # runner-up within this margin: named as possible


@dataclass(frozen=True)
class Verdict:
    label: str | None  # a space, OUT_OF_SCOPE, or None (nothing reached min_score, or a tie)
    runner_up: str | None  # close second label, None when the lead is clear
    scores: dict[str, float]
    rule_terms: dict[str, list[str]]
    model_terms: dict[str, list[str]]
    cancelled: dict[str, list[str]]


def _ranked(scores: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def judge(
    subject: str,
    text: str,
    rules: Sequence[TriageRuleLike],
    settings: Settings,
    model: Model | None = None,
) -> Verdict:
    whole = f"{subject}\n{text}"
    hits = apply_rules(stems(whole), rules)
    scores = dict(hits.scores)
    probabilities = model.probabilities(whole) if model is not None else {}
    chance = 1 / len(probabilities) if probabilities else 0.0
    for name, p in probabilities.items():
        # what the model knows beyond chance: 0 for a uniform guess, model_weight when sure
        lift = max(0.0, (p - chance) / (1 - chance))
        scores[name] = round(scores.get(name, 0.0) + settings.model_weight * lift, 3)
    ranked = [*_ranked(scores), ("", 0.0), ("", 0.0)]
    (best, top), (second, next_score) = ranked[0], ranked[1]
    tie = second != "" and next_score == top
    label: str | None = best if top >= settings.min_score and not tie else None
    close = (
        second != ""
        and next_score >= settings.min_score
        and top - next_score < settings.close_margin
    )
    runner_up = second if label is not None and close else None
    model_terms: dict[str, list[str]] = {}
    if model is not None and label is not None and probabilities:
        words = model.deciding_words(whole, label, runner_up)
        if words:
            model_terms[label] = words
    return Verdict(
        label=label,
        runner_up=runner_up,
        scores=scores,
        rule_terms=hits.matched,
        model_terms=model_terms,
        cancelled=hits.cancelled,
    )
