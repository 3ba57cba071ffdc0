"""Triage accuracy per space and the confusion matrices (issue 14), on the project's labelled
questions (bench/triage_questions.tsv) and on the held-out set (bench/triage_holdout.tsv), with
the rules of config.toml; then the time to train the model on a few thousand questions."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mailbot.config import load_config
from workflows.text.triage import Settings, triage
from workflows.triage.evaluate import (
    Confusion,
    Example,
    accuracy,
    confusion,
    correct,
    cross_validate,
    markdown,
    read_examples,
    with_rules,
)
from workflows.triage.model import train
from workflows.triage.rules import TriageRuleLike

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.90


def report(title: str, matrix: Confusion, *, targeted: bool = True) -> bool:
    """Print the matrix; True when the targets are met (at least 90 %, no label below 10/12)."""
    per_label = correct(matrix)
    worst = min(right / total for right, total in per_label.values())
    ok = accuracy(matrix) >= TARGET and worst >= 10 / 12
    verdict = "(for comparison)" if not targeted else "(targets met)" if ok else "(BELOW TARGET)"
    print(f"\n{title}: {accuracy(matrix):.1%} {verdict}")
    print(markdown(matrix))
    return ok


def timing(labelled: list[Example], rules: Sequence[TriageRuleLike], settings: Settings) -> None:
    """Train on 4,000 questions (the labelled ones, each with a numbered variant) and triage."""
    many = [
        (f"{e.text} (variante {i})", e.label)
        for i in range(4000 // len(labelled) + 1)
        for e in labelled
    ][:4000]
    started = time.perf_counter()
    model = train(many)
    trained = time.perf_counter() - started
    started = time.perf_counter()
    for e in labelled:
        triage(e.subject, e.question, rules, settings.min_score, model, settings)
    per_question = (time.perf_counter() - started) / len(labelled)
    print(
        f"\nModel: trained on {len(many)} questions in {trained * 1000:.0f} ms; "
        f"triage {per_question * 1000:.2f} ms per question (rules + model)"
    )


def main(argv: list[str]) -> int:  # noqa: ARG001 - the same signature as the other evals
    questions = load_config(ROOT / "config.toml").questions
    settings = Settings(questions.min_score, questions.model_weight, questions.close_margin)
    labelled = read_examples((ROOT / "bench/triage_questions.tsv").read_text(encoding="utf-8"))
    held_out = read_examples((ROOT / "bench/triage_holdout.tsv").read_text(encoding="utf-8"))
    rules = questions.rules
    print(f"{len(labelled)} labelled questions, {len(held_out)} held out")
    ok = report("Labelled set, rules alone", confusion(labelled, with_rules(rules, settings, None)))
    ok &= report(
        "Labelled set, rules + model, 5-fold cross-validation",
        cross_validate(labelled, rules, settings, k=5),
    )
    lone = Settings(0.5, settings.model_weight, settings.close_margin)
    report(
        "Labelled set, model alone, 5-fold cross-validation",
        cross_validate(labelled, [], lone),
        targeted=False,
    )
    report(
        "Held-out set, rules alone",
        confusion(held_out, with_rules(rules, settings, None)),
        targeted=False,
    )
    model = train((e.text, e.label) for e in labelled)
    ok &= report(
        "Held-out set, rules + model learnt from the labelled set",
        confusion(held_out, with_rules(rules, settings, model)),
    )
    timing(labelled, rules, settings)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
