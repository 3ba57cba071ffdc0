"""Reviewers write as they write (CONTRACTS.md, added 2026-12): French first lines as reviewers
type them, and the decision each one stands for (canonical directive) or "help"."""

from __future__ import annotations

import pytest

from workflows.text.directives import help_suggestion, parse_directives

HELP = "help"

# (first lines of the reply, canonical directive or HELP)
PHRASINGS = [
    # approval, everyone
    ("Je valide, merci.", "APPROUVER"),
    ("je valide", "APPROUVER"),
    ("JE VALIDE", "APPROUVER"),
    ("Validé", "APPROUVER"),
    ("valide.", "APPROUVER"),
    ("Validée, bonne journée", "APPROUVER"),
    ("Ok", "APPROUVER"),
    ("OK !", "APPROUVER"),
    ("ok.", "APPROUVER"),
    ("Ok pour moi", "APPROUVER"),
    ("OK pour moi, merci", "APPROUVER"),
    ("ok pour moi. Cordialement", "APPROUVER"),
    ("D'accord", "APPROUVER"),
    ("D’accord pour moi.", "APPROUVER"),
    ("d'accord, merci beaucoup", "APPROUVER"),
    ("Accord", "APPROUVER"),
    ("Bon pour accord", "APPROUVER"),
    ("BON POUR ACCORD.", "APPROUVER"),
    ("J'approuve", "APPROUVER"),
    ("J’approuve. Bien cordialement", "APPROUVER"),
    ("j approuve", "APPROUVER"),
    ("Avis favorable", "APPROUVER"),
    ("avis favorable, merci d'avance", "APPROUVER"),
    ("Bonjour,\nJe valide.\nCordialement", "APPROUVER"),
    ("Demande validée", "APPROUVER"),
    ("C'est bon pour moi", "APPROUVER"),
    ("Validé pour tous", "APPROUVER"),
    ("*Validé*", "APPROUVER"),
    # partial approval
    ("J'approuve uniquement le n° 1", "APPROUVER: 1"),
    ("Je valide n° 1 et 3", "APPROUVER: 1,3"),
    ("Validé 1, 3", "APPROUVER: 1,3"),
    ("Ok pour les personnes 1 et 3", "APPROUVER: 1,3"),
    ("ok pour 2 et 3, merci", "APPROUVER: 2,3"),
    ("Avis favorable pour les n° 1 et 2.", "APPROUVER: 1,2"),
    ("J'approuve seulement la personne 2", "APPROUVER: 2"),
    ("Validé : 1-3", "APPROUVER: 1,2,3"),
    ("APPROUVER n°1 et n°3", "APPROUVER: 1,3"),
    # refusal
    ("Refusé, pas une collectivité.", "REFUSER: pas une collectivité."),
    ("refusé : pas une collectivité", "REFUSER: pas une collectivité"),
    ("REFUSE - la commune n'a pas délibéré", "REFUSER: la commune n'a pas délibéré"),
    ("Je refuse : demande en double.", "REFUSER: demande en double."),
    ("je refuse, le demandeur n'est pas agent de la commune. Merci",
     "REFUSER: le demandeur n'est pas agent de la commune."),
    ("Avis défavorable : prestataire sans mandat.", "REFUSER: prestataire sans mandat."),
    ("avis defavorable, hors périmètre", "REFUSER: hors périmètre"),
    ("Rejeté. Doublon de ABO-2026-000002.", "REFUSER: Doublon de ABO-2026-000002."),
    ("Demande rejetée : adresse personnelle", "REFUSER: adresse personnelle"),
    ("Refusé\nLa délibération est absente.", "REFUSER: La délibération est absente."),
    # request for more
    ("À compléter : le SIREN de la commune", "COMPLÉTER: le SIREN de la commune"),
    ("a completer, la délibération", "COMPLÉTER: la délibération"),
    ("Il manque la délibération.", "COMPLÉTER: Il manque la délibération."),
    ("il manque le SIREN, merci", "COMPLÉTER: Il manque le SIREN"),
    ("Merci de demander la délibération du conseil municipal.",
     "COMPLÉTER: la délibération du conseil municipal."),
    ("merci de demander au demandeur le mandat signé",
     "COMPLÉTER: le mandat signé"),
    ("Dossier incomplet : le mandat", "COMPLÉTER: le mandat"),
    # help: negations, objections, conflicting verbs, anything else
    ("Je ne valide pas", HELP),
    ("je ne valide pas, merci", HELP),
    ("Pas d'accord", HELP),
    ("Non validé", HELP),
    ("Je n'approuve pas.", HELP),
    ("Ok mais il manque la délibération", HELP),
    ("Validé sauf le n° 2", HELP),
    ("D'accord, mais pas pour la personne 3", HELP),
    ("Ok ?", HELP),
    ("Validé ou refusé ?", HELP),
    ("Refusé, enfin validé", HELP),
    ("Je refuse pas", HELP),
    ("Refusé mais à revoir", HELP),
    ("Il manque la délibération, sinon refusé", HELP),
    ("À compléter, sauf si déjà reçu", HELP),
    ("Je valide la demande de Mme Martin", HELP),
    ("Validé je pense", HELP),
    ("Je regarde et je reviens vers vous", HELP),
    ("1, 3", HELP),  # numbers alone decide nothing
    ("Merci", HELP),
    ("Okapi", HELP),
    ("Accordé à moitié", HELP),
    ("Je validerai demain", HELP),
    ("Bonjour, je ne sais pas quoi faire", HELP),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), PHRASINGS)
def test_phrasing(text: str, expected: str) -> None:
    result = parse_directives(text, "subscription")
    if expected == HELP:
        assert result.command is None, result.directives
        assert result.directives == []
    else:
        assert result.directives == [expected]


def test_there_are_enough_phrasings() -> None:
    assert len(PHRASINGS) >= 60


@pytest.mark.parametrize(
    ("text", "command", "example"),
    [
        ("Ok mais il manque la délibération", "COMPLÉTER Il manque la délibération",
         "COMPLÉTER Il manque la délibération"),
        ("Je ne valide pas", "REFUSER <motif>",
         "REFUSER La délibération de la collectivité n'est pas jointe."),
        ("Refusé mais à revoir", "REFUSER à revoir", "REFUSER à revoir"),
        ("1, 3", "APPROUVER 1,3", "APPROUVER 1,3"),
        ("Validé sauf le n° 2", "APPROUVER 1,3", "APPROUVER 1,3"),
        ("Je regarde et je reviens vers vous", "APPROUVER", "APPROUVER"),
        ("Bonjour,\n\nPas d'accord, merci", "REFUSER <motif>",
         "REFUSER La délibération de la collectivité n'est pas jointe."),
    ],
)  # fmt: skip
def test_help_suggests_the_command_meant(text: str, command: str, example: str) -> None:
    suggestion = help_suggestion(text, people_count=3)
    assert suggestion is not None
    assert (suggestion.command, suggestion.example) == (command, example)
    assert suggestion.written == text.split("\n")[-1]


def test_help_suggestion_quotes_a_long_line_shortened() -> None:
    suggestion = help_suggestion("x" * 500)
    assert suggestion is not None and len(suggestion.written) == 300
    assert help_suggestion("\n\n") is None
