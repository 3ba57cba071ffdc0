"""The triage measured on the project's labelled questions (bench/triage_questions.tsv, 152
questions) and on a held-out set written after the rules were frozen (bench/triage_holdout.tsv,
12 per label), with the shipped rules of config.toml. Targets (issue 14): at least 90 % to the
right space with out of scope flagged, no label below 10 of 12. The model is only ever scored
on questions it did not learn from (k-fold cross-validation, or the held-out set)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbot.config import QuestionsConfig, load_config
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
from workflows.triage.model import train, train_weighted

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.90
WORST_LABEL = 10 / 12


@pytest.fixture(scope="module")
def questions() -> QuestionsConfig:
    return load_config(ROOT / "config.toml").questions


@pytest.fixture(scope="module")
def settings(questions: QuestionsConfig) -> Settings:
    return Settings(questions.min_score, questions.model_weight, questions.close_margin)


def examples(name: str) -> list[Example]:
    return read_examples((ROOT / "bench" / name).read_text(encoding="utf-8"))


def check(matrix: Confusion, what: str) -> None:
    print(f"\n{what}: {accuracy(matrix):.1%}\n{markdown(matrix)}")
    assert accuracy(matrix) >= TARGET, what
    for label, (right, total) in correct(matrix).items():
        assert right / total >= WORST_LABEL, f"{what}: {label} {right}/{total}"


def test_the_labelled_set_is_balanced_and_large_enough() -> None:
    labelled = examples("triage_questions.tsv")
    assert len(labelled) >= 120
    counts = {
        label: sum(e.label == label for e in labelled) for label in correct(confusion([], str))
    }
    assert min(counts.values()) == max(counts.values()), counts
    assert len(examples("triage_holdout.tsv")) == 48


def test_rules_alone_on_the_labelled_set(questions: QuestionsConfig, settings: Settings) -> None:
    matrix = confusion(
        examples("triage_questions.tsv"), with_rules(questions.rules, settings, None)
    )
    check(matrix, "rules alone, labelled set")


def test_rules_and_model_cross_validated(questions: QuestionsConfig, settings: Settings) -> None:
    matrix = cross_validate(examples("triage_questions.tsv"), questions.rules, settings, k=5)
    check(matrix, "rules + model, 5-fold cross-validation")


def test_model_alone_cross_validated_is_a_real_signal(settings: Settings) -> None:
    lone = Settings(0.5, settings.model_weight, settings.close_margin)
    matrix = cross_validate(examples("triage_questions.tsv"), [], lone, k=5)
    print(f"\nmodel alone, 5-fold cross-validation: {accuracy(matrix):.1%}\n{markdown(matrix)}")
    assert accuracy(matrix) >= 0.8


def test_held_out_questions(questions: QuestionsConfig, settings: Settings) -> None:
    held_out = examples("triage_holdout.tsv")
    model = train((e.text, e.label) for e in examples("triage_questions.tsv"))
    check(confusion(held_out, with_rules(questions.rules, settings, model)), "held-out set")


def test_a_reviewers_correction_moves_questions_of_the_same_kind(
    questions: QuestionsConfig, settings: Settings
) -> None:
    seed = [(e.text, e.label, 1) for e in examples("triage_questions.tsv")]
    asked = "Vidéoverbalisation\nQuelles règles pour la vidéoverbalisation des véhicules ?"
    before = triage("", asked, questions.rules, questions.min_score, train_weighted(seed), settings)
    assert before.space != "antai"
    taught = [
        "La vidéoverbalisation des véhicules garés est-elle compatible avec la réforme ?",
        "Peut-on utiliser la vidéoverbalisation pour le stationnement payant ?",
        "Un constat établi par vidéoverbalisation suffit-il ?",
    ]
    model = train_weighted(seed + [(t, "antai", 3) for t in taught])
    after = triage("", asked, questions.rules, questions.min_score, model, settings)
    assert after.space == "antai" and not after.out_of_scope
    assert "vidéoverbalisation" in after.model_terms["antai"]  # the notification's words


def test_an_out_of_scope_flag_from_the_model_names_its_words(
    questions: QuestionsConfig, settings: Settings
) -> None:
    model = train((e.text, e.label) for e in examples("triage_questions.tsv"))
    asked = "Faut-il une formation particulière pour les agents qui contrôlent le stationnement ?"
    alone = triage("Agents", asked, questions.rules, questions.min_score, None, settings)
    assert not alone.out_of_scope and alone.space is None  # no rule knows this one
    result = triage("Agents", asked, questions.rules, questions.min_score, model, settings)
    assert result.out_of_scope and result.space is None
    assert "agents" in result.out_of_scope_terms
