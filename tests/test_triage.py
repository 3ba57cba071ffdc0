"""Triage of a question to a space: weighted terms, whole words, accents and case ignored."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mailbot.config import TriageRule
from workflows.text.triage import triage

RULES = [
    TriageRule(
        space="antai",
        weight=2.0,
        terms=["antai", "fps", "forfait post-stationnement", "avis de paiement"],
    ),
    TriageRule(
        space="desta",
        weight=2.0,
        terms=["desta", "ccsp", "interface", "système d'information", "api"],
    ),
    TriageRule(space="accueil", weight=1.5, terms=["décret", "loi", "arrêté"]),
    TriageRule(space="out_of_scope", weight=2.0, terms=["horodateur", "horodateurs", "tarif"]),
]


@pytest.mark.parametrize(
    ("subject", "text", "space"),
    [
        ("Question FPS", "Quand l'ANTAI émet-elle l'avis de paiement ?", "antai"),
        ("Interface", "Où trouver la spécification de l'interface avec la CCSP ?", "desta"),
        ("Texte", "Le décret d'application est-il paru ?", "accueil"),
        ("Bonjour", "Pouvez-vous m'aider ?", None),  # nothing matched: unclassified
        ("", "Le FPS et la CCSP", None),  # a tie is left to a person
        ("", "Le SYSTÈME D’INFORMATION de la DESTA", "desta"),  # accents, case, curly apostrophe
        ("", "Un forfait post stationnement impayé", "antai"),  # hyphen or space alike
    ],
)
def test_question_goes_to_the_best_space(subject: str, text: str, space: str | None) -> None:
    assert triage(subject, text, RULES, 1.0).space == space


def test_terms_match_whole_words_only() -> None:
    result = triage("", "L'apiculture et les fpsx ne comptent pas.", RULES, 1.0)
    assert result.space is None
    assert result.matched == {}


def test_every_occurrence_adds_the_weight_and_matched_terms_are_listed() -> None:
    result = triage("FPS", "Les FPS de l'ANTAI", RULES, 1.0)
    assert result.scores["antai"] == 6.0
    assert result.matched == {"antai": ["antai", "fps"]}


def test_below_min_score_is_unclassified() -> None:
    assert triage("", "une loi", RULES, 2.0).space is None
    assert triage("", "une loi", RULES, 1.5).space == "accueil"


def test_out_of_scope_wins_only_over_every_space() -> None:
    alone = triage("Horodateurs", "Quel tarif pour nos horodateurs ?", RULES, 1.0)
    assert alone.out_of_scope is True
    assert alone.space is None
    assert alone.out_of_scope_terms == ["horodateurs", "tarif"]
    mixed = triage("", "Le tarif du FPS et l'avis de paiement ANTAI", RULES, 1.0)
    assert mixed.out_of_scope is False
    assert mixed.space == "antai"
    assert mixed.out_of_scope_terms == ["tarif"]


def test_rules_are_duck_typed() -> None:
    @dataclass(frozen=True)
    class Rule:
        space: str
        weight: float
        terms: tuple[str, ...]

    result = triage("", "question sur la CCSP", [Rule("desta", 1.0, ("ccsp",))], 1.0)
    assert result.space == "desta"
    assert result.as_data()["scores"] == {"desta": 1.0}
