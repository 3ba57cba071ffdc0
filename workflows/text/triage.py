"""Triage of a question to a space: the rules of config.toml (`[[questions.rules]]`) read
through French stems, plus the model learnt from the reviewers (`workflows.triage`).

Matching is accent- and case-insensitive, on whole words or phrases, and on stems: « abrogées »
matches the term « abrogation », « post stationnement » matches `post-stationnement`. The result
says which words decided (rule terms and model words), and names a close runner-up.
"""

from __future__ import annotations

from collections.abc import Sequence

from workflows.text.fold import fold
from workflows.text.triage_result import TriageResult
from workflows.triage.decide import OUT_OF_SCOPE, Settings, judge
from workflows.triage.model import Model
from workflows.triage.rules import TriageRuleLike

__all__ = ["OUT_OF_SCOPE", "Settings", "TriageResult", "TriageRuleLike", "triage"]


def triage(
    subject: str,
    text: str,
    rules: Sequence[TriageRuleLike],
    min_score: float,
    model: Model | None = None,
    settings: Settings | None = None,
) -> TriageResult:
    """Score the subject and the text against `rules` (and `model`, when one has been learnt);
    the best label at or above `min_score` wins; a tie is left to a person (unclassified).
    When out of scope wins, the question still goes to the best space that reached
    `min_score`, flagged (its reviewers decide), else it is unclassified."""
    chosen = settings or Settings(min_score=min_score)
    if settings is None or settings.min_score != min_score:
        chosen = Settings(min_score, chosen.model_weight, chosen.close_margin)
    verdict = judge(subject, text, rules, chosen, model)
    out_of_scope = verdict.label == OUT_OF_SCOPE
    space = verdict.label
    alternative = verdict.runner_up
    if out_of_scope:  # the best space that reached min_score still gets it, flagged
        spaces = {k: v for k, v in verdict.scores.items() if k != OUT_OF_SCOPE}
        best = max(spaces, key=lambda k: (spaces[k], k == alternative), default=None)
        space = best if best is not None and spaces[best] >= chosen.min_score else None
        alternative = None
    matched = {s: list(t) for s, t in verdict.rule_terms.items()}
    oos_terms = matched.pop(OUT_OF_SCOPE, [])
    model_terms = {  # the model's words that the rules did not already name
        label: [
            w for w in words if fold(w) not in {fold(t) for t in verdict.rule_terms.get(label, [])}
        ]
        for label, words in verdict.model_terms.items()
    }
    model_terms = {label: words for label, words in model_terms.items() if words}
    if out_of_scope:
        oos_terms += [w for w in model_terms.pop(OUT_OF_SCOPE, []) if w not in oos_terms]
    return TriageResult(
        space=space,
        scores=verdict.scores,
        matched=matched,
        out_of_scope=out_of_scope,
        out_of_scope_terms=oos_terms,
        alternative=alternative,
        model_terms=model_terms,
    )
