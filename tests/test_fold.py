"""The one accent and case fold (workflows.text.fold) and its two variants."""

from __future__ import annotations

import pytest

from workflows.text.fold import fold, fold_aligned, fold_char, fold_words


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Réglementation", "reglementation"),
        ("ÉLÈVE À L’ÉCOLE", "eleve a l'ecole"),
        ("Cœur Æther", "coeur aether"),
        ("Straße", "strasse"),
        ("ﬁche n° ２", "fiche n° 2"),  # noqa: RUF001 - compatibility forms: ligature, full-width digit
        ("it`s ‘quoted’", "it's 'quoted'"),
        ("İstanbul", "istanbul"),
        ("", ""),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_fold_is_idempotent_and_ignores_case_and_accents() -> None:
    for text in ("Système d’Information", "SYSTEME D'INFORMATION", "système d'information"):
        assert fold(text) == "systeme d'information"
        assert fold(fold(text)) == fold(text)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Post-stationnement  (FPS) !", "post stationnement fps"),
        ("  « Système d’information »  ", "systeme d information"),
        ("Œuvre n°3", "oeuvre n 3"),
        ("—", ""),
    ],
)
def test_fold_words(text: str, words: str) -> None:
    assert fold_words(text) == words


def test_fold_aligned_keeps_every_position() -> None:
    text = "Ne pas publiÉ : Straße œuvre l’été ﬁn\u0301"
    folded = fold_aligned(text)
    assert len(folded) == len(text)
    assert folded.startswith("ne pas publie : stra")
    assert folded[text.index("l’été") :].startswith("l'ete")
    assert fold_char("ß") == "ß" and fold_char("É") == "e" and fold_char("’") == "'"
    assert all(len(fold_char(c)) == 1 for c in text)
