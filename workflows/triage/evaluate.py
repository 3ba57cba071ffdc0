"""Measuring the triage on a labelled set (bench/triage_questions.tsv): accuracy per label, the
confusion matrix, and k-fold cross-validation of the model, so that the model is never scored
on the questions it learnt from."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from workflows.text.triage import OUT_OF_SCOPE, Settings, TriageResult, TriageRuleLike, triage
from workflows.triage.model import Model, train

LABELS = ("accueil", "desta", "antai", OUT_OF_SCOPE)
UNCLASSIFIED = "unclassified"
COLUMNS = (*LABELS, UNCLASSIFIED)

Confusion = dict[str, dict[str, int]]  # true label -> predicted label -> count


@dataclass(frozen=True)
class Example:
    label: str
    subject: str
    question: str

    @property
    def text(self) -> str:
        return f"{self.subject}\n{self.question}"


def read_examples(tsv: str) -> list[Example]:
    """`label<TAB>subject<TAB>question` lines; `#` comments and blank lines skipped."""
    found = []
    for number, line in enumerate(tsv.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[0] not in LABELS:
            raise ValueError(f"line {number}: expected label<TAB>subject<TAB>question")
        found.append(Example(*parts))
    return found


def predicted(result: TriageResult) -> str:
    """What the triage did with a question: out of scope when flagged, else its space."""
    if result.out_of_scope:
        return OUT_OF_SCOPE
    return result.space or UNCLASSIFIED


def empty() -> Confusion:
    return {label: dict.fromkeys(COLUMNS, 0) for label in LABELS}


def confusion(examples: Sequence[Example], predict: Callable[[Example], str]) -> Confusion:
    matrix = empty()
    for example in examples:
        matrix[example.label][predict(example)] += 1
    return matrix


def add(into: Confusion, other: Confusion) -> Confusion:
    for label, row in other.items():
        for column, n in row.items():
            into[label][column] += n
    return into


def correct(matrix: Confusion) -> dict[str, tuple[int, int]]:
    """label -> (right, total)."""
    return {label: (row[label], sum(row.values())) for label, row in matrix.items()}


def accuracy(matrix: Confusion) -> float:
    right = sum(r for r, _ in correct(matrix).values())
    total = sum(t for _, t in correct(matrix).values())
    return right / total if total else 0.0


def folds(examples: Sequence[Example], k: int) -> list[list[Example]]:
    """k stratified folds, deterministic: within each label, the i-th example goes to fold
    i mod k."""
    parts: list[list[Example]] = [[] for _ in range(k)]
    for label in LABELS:
        for i, example in enumerate(e for e in examples if e.label == label):
            parts[i % k].append(example)
    return parts


def with_rules(
    rules: Sequence[TriageRuleLike], settings: Settings, model: Model | None
) -> Callable[[Example], str]:
    def predict(example: Example) -> str:
        result = triage(
            example.subject, example.question, rules, settings.min_score, model, settings
        )
        return predicted(result)

    return predict


def cross_validate(
    examples: Sequence[Example],
    rules: Sequence[TriageRuleLike],
    settings: Settings,
    k: int = 5,
) -> Confusion:
    """Each fold is triaged by a model trained on the other folds only (plus `rules`)."""
    matrix = empty()
    parts = folds(examples, k)
    for i, held_out in enumerate(parts):
        learnt = [e for j, part in enumerate(parts) if j != i for e in part]
        model = train((e.text, e.label) for e in learnt)
        add(matrix, confusion(held_out, with_rules(rules, settings, model)))
    return matrix


def markdown(matrix: Confusion) -> str:
    """The confusion matrix as a Markdown table (rows: true label; columns: triage's)."""
    head = "| true \\ triage | " + " | ".join(COLUMNS) + " | right |"
    rule = "|---" * (len(COLUMNS) + 2) + "|"
    lines = [head, rule]
    for label, (right, total) in correct(matrix).items():
        cells = " | ".join(str(matrix[label][c]) for c in COLUMNS)
        lines.append(f"| {label} | {cells} | {right}/{total} |")
    return "\n".join(lines)
