"""Reviewer commands (subscription cases) and directives (question cases), table-driven."""

from __future__ import annotations

import pytest

from workflows.text.directives import (
    DirectiveResult,
    ReviewerCommand,
    is_protective_line,
    parse_directives,
    parse_people,
)
from workflows.text.help_texts import HELP_TEXT_QUESTION, HELP_TEXT_SUBSCRIPTION

# (new text, verb, people, text of the command, canonical directive, text left)
COMMANDS = [
    ("APPROUVER", "APPROUVER", None, None, "APPROUVER", ""),
    ("approuver", "APPROUVER", None, None, "APPROUVER", ""),
    ("Approuvé.", "APPROUVER", None, None, "APPROUVER", ""),
    ("VALIDER", "APPROUVER", None, None, "APPROUVER", ""),
    ("Validé !", "APPROUVER", None, None, "APPROUVER", ""),
    ("valide, merci", "APPROUVER", None, None, "APPROUVER", ""),
    ("*APPROUVER*", "APPROUVER", None, None, "APPROUVER", ""),
    ("APPROUVER tous", "APPROUVER", None, None, "APPROUVER", ""),
    ("APPROUVER 1,3", "APPROUVER", (1, 3), None, "APPROUVER: 1,3", ""),
    ("APPROUVER: 1, 3", "APPROUVER", (1, 3), None, "APPROUVER: 1,3", ""),
    ("approuver 3 et 1", "APPROUVER", (1, 3), None, "APPROUVER: 1,3", ""),
    ("APPROUVER 1-3", "APPROUVER", (1, 2, 3), None, "APPROUVER: 1,2,3", ""),
    ("APPROUVER 1 à 2, 5", "APPROUVER", (1, 2, 5), None, "APPROUVER: 1,2,5", ""),
    ("APPROUVER n° 2", "APPROUVER", (2,), None, "APPROUVER: 2", ""),
    ("APPROUVER les personnes 2 et 2", "APPROUVER", (2,), None, "APPROUVER: 2", ""),
    ("APPROUVER 1;3 merci.", "APPROUVER", (1, 3), None, "APPROUVER: 1,3", ""),
    ("REFUSER Pas de délibération.", "REFUSER", None, "Pas de délibération.",
     "REFUSER: Pas de délibération.", ""),
    ("refuser : motif\nsuite du motif\n\nMerci", "REFUSER", None, "motif\nsuite du motif",
     "REFUSER: motif suite du motif", "Merci"),
    ("REFUSÉ", "REFUSER", None, None, "REFUSER", ""),
    ("COMPLÉTER le SIREN", "COMPLÉTER", None, "le SIREN", "COMPLÉTER: le SIREN", ""),
    ("completer\nle SIREN\net l'INSEE", "COMPLÉTER", None, "le SIREN\net l'INSEE",
     "COMPLÉTER: le SIREN et l'INSEE", ""),
    ("À compléter : le SIREN", "COMPLÉTER", None, "le SIREN", "COMPLÉTER: le SIREN", ""),
    ("AIDE", "AIDE", None, None, "AIDE", ""),
    ("aide ?", "AIDE", None, None, "AIDE", ""),
    ("Bonjour,\n\nAPPROUVER\n\nBonne journée", "APPROUVER", None, None, "APPROUVER",
     "Bonjour,\n\nBonne journée"),
]  # fmt: skip


@pytest.mark.parametrize(("new_text", "verb", "people", "text", "directive", "left"), COMMANDS)
def test_subscription_commands(
    new_text: str,
    verb: str,
    people: tuple[int, ...] | None,
    text: str | None,
    directive: str,
    left: str,
) -> None:
    result = parse_directives(new_text, "subscription")
    assert result.command == ReviewerCommand(verb, people, text)  # type: ignore[arg-type]
    assert result.directives == [directive]
    assert result.text == left
    assert result.errors == []


@pytest.mark.parametrize(
    ("new_text", "has_error"),
    [
        ("", False),
        ("Je ne valide pas", False),  # phrasings: see tests/test_phrasings.py
        ("Ok mais il manque la délibération", False),
        ("Merci\nAPPROUVER", False),  # not on the first non-empty line
        ("APPROUVERAI demain", False),
        ("NE PAS PUBLIER", False),  # a question directive is not a command
        ("APPROUVER 0", True),
        ("APPROUVER 2 sauf 3", True),
        ("APPROUVER 1-5000", True),
        ("COMPLÉTER", True),  # nothing to ask for
    ],
)
def test_anything_else_on_a_subscription_is_not_a_command(new_text: str, has_error: bool) -> None:
    result = parse_directives(new_text, "subscription")
    assert result.command is None
    assert result.directives == []
    assert result.text == new_text.strip()
    assert bool(result.errors) is has_error


# (new text, directives, answer left, number of errors)
QUESTIONS = [
    ("Réponse.", [], "Réponse.", 0),
    ("ESPACE : ANTAI\n\nRéponse.", ["ESPACE: ANTAI"], "Réponse.", 0),
    ("espace: Désta\nRéponse.", ["ESPACE: DESTA"], "Réponse.", 0),
    ("Espace accueil\n\nRéponse.", ["ESPACE: ACCUEIL"], "Réponse.", 0),
    ("ESPACE : l'espace ANTAI.\n\nRéponse.", ["ESPACE: ANTAI"], "Réponse.", 0),
    ("ESPACE : Lyon\n\nRéponse.", ["ESPACE: LYON"], "Réponse.", 1),
    ("Espace DESTA : voici la procédure.", [], "Espace DESTA : voici la procédure.", 0),
    ("QUESTION : Qui paie ?\n\nRéponse.", ["QUESTION: Qui paie ?"], "Réponse.", 0),
    ("Question de savoir qui paie.", [], "Question de savoir qui paie.", 0),
    ("QUESTION : Le vendeur peut-il\ncontester ?\nOui.", ["QUESTION: Le vendeur peut-il contester ?"],
     "Oui.", 0),
    ("QUESTION : Qui paie ?\nLe redevable.", ["QUESTION: Qui paie ?"], "Le redevable.", 0),
    ("QUESTION :\nQui paie le FPS\nminoré ?\n\nLe redevable.", ["QUESTION: Qui paie le FPS minoré ?"],
     "Le redevable.", 0),
    ("TRANSFÉRER : DESTA", ["TRANSFÉRER: desta"], "", 0),
    ("transferer au groupe antai", [], "transferer au groupe antai", 0),
    ("Transférer : au groupe antai", ["TRANSFÉRER: antai"], "", 0),
    ("TRANSMETTRE desta\n\nPour information.", ["TRANSFÉRER: desta"], "Pour information.", 0),
    ("Réponse.\n\nNE PAS PUBLIER", ["NE PAS PUBLIER"], "Réponse.", 0),
    ("NE PAS PUBLIER\nRéponse.", ["NE PAS PUBLIER"], "Réponse.", 0),
    ("Réponse.\nne-pas-publier !", ["NE PAS PUBLIER"], "Réponse.", 0),
    ("Réponse.\n\nNon publiable", ["NE PAS PUBLIER"], "Réponse.", 0),
    ("Réponse.\n\nÀ ne pas publier.", ["NE PAS PUBLIER"], "Réponse.", 0),
    ("Réponse.\n\nNE PAS PUBLIER : cas particulier", ["NE PAS PUBLIER"], "Réponse.", 0),
    ("Ne pas publier les tarifs avant le vote.", ["NE PAS PUBLIER"],
     "Ne pas publier les tarifs avant le vote.", 1),
    ("Réponse.\nHORS PÉRIMÈTRE", ["HORS PÉRIMÈTRE"], "Réponse.", 0),
    ("hors-perimetre\n\nVoir le CEREMA.", ["HORS PÉRIMÈTRE"], "Voir le CEREMA.", 0),
    ("Réponse.\n\nESPACE : ANTAI", [], "Réponse.\n\nESPACE : ANTAI", 1),
    ("Bonjour,\n\nESPACE : DESTA\n\nRéponse.", ["ESPACE: DESTA"], "Bonjour,\n\nRéponse.", 0),
    ("ESPACE : ANTAI\nESPACE : DESTA\nRéponse.", ["ESPACE: ANTAI", "ESPACE: DESTA"], "Réponse.", 1),
    ("ESPACE : ANTAI\nNE PAS PUBLIER\nQUESTION : Qui ?\nRéponse.",
     ["ESPACE: ANTAI", "NE PAS PUBLIER", "QUESTION: Qui ?"], "Réponse.", 0),
    ("APPROUVER\n\nRéponse.", [], "APPROUVER\n\nRéponse.", 0),
    ("Premier paragraphe.\n\n\nNE PAS PUBLIER\n\n\nSecond.", ["NE PAS PUBLIER"],
     "Premier paragraphe.\n\nSecond.", 0),
]  # fmt: skip


@pytest.mark.parametrize(("new_text", "directives", "answer", "errors"), QUESTIONS)
def test_question_directives(
    new_text: str, directives: list[str], answer: str, errors: int
) -> None:
    result = parse_directives(new_text, "question")
    assert result.directives == directives
    assert result.text == answer
    assert result.command is None
    assert len(result.errors) == errors


def test_errors_are_french_sentences() -> None:
    result = parse_directives("ESPACE : Lyon\n\nRéponse.", "question")
    assert result.errors == ["L'espace « Lyon » n'existe pas : indiquez ACCUEIL, DESTA ou ANTAI."]


def test_unknown_case_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_directives("APPROUVER", "invoice")


def test_result_is_frozen() -> None:
    result = parse_directives("APPROUVER", "subscription")
    assert isinstance(result, DirectiveResult)
    with pytest.raises(AttributeError):
        result.text = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "people"),
    [("", None), ("tous", None), ("2", (2,)), ("3,1,3", (1, 3)), ("1 - 3", (1, 2, 3))],
)
def test_parse_people(value: str, people: tuple[int, ...] | None) -> None:
    assert parse_people(value) == (people, None)


@pytest.mark.parametrize(
    ("line", "protective"),
    [
        ("NE PAS PUBLIER", True),
        ("  *Hors périmètre*  ", True),
        ("Il ne faut pas publier", False),
        ("HORS SUJET", False),
    ],
)
def test_protective_lines(line: str, protective: bool) -> None:
    assert is_protective_line(line) is protective


@pytest.mark.parametrize("keyword", ["APPROUVER", "REFUSER", "COMPLÉTER", "AIDE"])
def test_subscription_help_names_every_command(keyword: str) -> None:
    assert keyword in HELP_TEXT_SUBSCRIPTION


@pytest.mark.parametrize(
    "keyword", ["ESPACE", "QUESTION", "TRANSFÉRER", "NE PAS PUBLIER", "HORS PÉRIMÈTRE"]
)
def test_question_help_names_every_directive(keyword: str) -> None:
    assert keyword in HELP_TEXT_QUESTION
