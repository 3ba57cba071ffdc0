"""The annex's pure rules: labels, header, cell normalisation, validation (workflows.annex.rules)."""

from __future__ import annotations

from typing import Any

import pytest

from workflows.annex.errors import TEMPLATE_HINT
from workflows.annex.rules import (
    FIELDS,
    TEMPLATE_LABELS,
    field_for_label,
    find_header,
    luhn_ok,
    match_header,
    normalise_email,
    normalise_insee,
    normalise_phone,
    normalise_siren,
    parse_requester_type,
    parse_yes_no,
    validate_rows,
)

LABELS = list(TEMPLATE_LABELS.values())
PERSON = [
    "Collectivité",
    "Commune d'Exempleville",
    None,
    "210100400",
    "01004",
    "DUPONT",
    "Jean",
    "Responsable",
    "jean.dupont@exempleville.fr",
    "01 99 00 12 34",
    "Oui",
    "Non",
]


def person(**changes: Any) -> list[Any]:
    row = list(PERSON)
    for name, value in changes.items():
        row[FIELDS.index(name)] = value
    return row


def validate(rows: list[list[Any]], labels: list[str] = LABELS, **options: Any) -> Any:
    header = find_header([(1, labels)])
    assert header is not None
    return validate_rows(header, list(enumerate(rows, start=2)), **options)


@pytest.mark.parametrize(
    ("label", "field"),
    [
        ("Type de demandeur", "requester_type"),
        ("Catégorie", "requester_type"),
        ("Collectivité / Prestataire", "requester_type"),
        ("Nom de la collectivité ou du prestataire", "organisation"),
        ("Organisme", "organisation"),
        ("Raison sociale", "organisation"),
        ("Collectivité représentée", "on_behalf_of"),
        ("Pour le compte de", "on_behalf_of"),
        ("SIREN", "siren"),
        ("N° SIREN", "siren"),
        ("n° siren (9 chiffres)", "siren"),
        ("Code INSEE", "insee_code"),
        ("Code commune", "insee_code"),
        ("Nom", "last_name"),
        ("NOM", "last_name"),
        ("Nom de famille", "last_name"),
        ("Prénom", "first_name"),
        ("PRENOM", "first_name"),
        ("Fonction", "job_title"),
        ("Poste occupé", "job_title"),
        ("Courriel", "email"),
        ("Mail", "email"),
        ("E-mail", "email"),
        ("Mél.", "email"),
        ("Adresse électronique", "email"),
        ("Téléphone", "phone"),
        ("Tél.", "phone"),
        ("Téléphone portable", "phone"),
        ("Espace DESTA", "desta"),
        ("DESTA", "desta"),
        ("Accès ANTAI (oui/non)", "antai"),
        ("  espace   antai ", "antai"),
        ("Observations", None),
        ("Code postal", None),
        ("Nom et prénom", None),
        ("Demande d'abonnement au portail Espace collectivités pour la commune de X", None),
    ],
)
def test_label_names_its_field_whatever_the_case_accents_or_variant(
    label: str, field: str | None
) -> None:
    assert field_for_label(label) == field


def test_template_header_matches_every_field_in_order() -> None:
    assert match_header(LABELS) == {name: i for i, name in enumerate(FIELDS)}


@pytest.mark.parametrize(
    "cells",
    [["Demande d'abonnement au portail"], PERSON, [], ["Nom", "Prénom"]],
)
def test_title_data_and_short_rows_are_not_headers(cells: list[Any]) -> None:
    assert match_header(cells) is None


def test_header_is_found_below_title_rows() -> None:
    rows: list[tuple[int, list[Any]]] = [
        (1, ["Demande d'abonnement"]),
        (2, []),
        (3, list(LABELS)),
        (4, PERSON),
    ]
    header = find_header(rows)
    assert header is not None and header.row == 3


def test_two_row_header_takes_the_lower_labels_under_a_merged_cell() -> None:
    top = [*LABELS[:10], "Espaces demandés", None]
    below = [None] * 10 + ["DESTA", "ANTAI"]
    header = find_header([(1, top), (2, below), (3, PERSON)])
    assert header is not None and header.row == 2
    assert header.columns["desta"] == [10] and header.columns["antai"] == [11]


@pytest.mark.parametrize(
    ("digits", "valid"),
    [("217500016", True), ("210100400", True), ("356000000", True), ("123456789", False)],
)
def test_luhn_key_of_siren(digits: str, valid: bool) -> None:
    assert luhn_ok(digits) is valid


@pytest.mark.parametrize(
    ("value", "siren", "detail"),
    [
        ("210100400", "210100400", None),
        ("210 100 400", "210100400", None),
        ("210\u00a0100\u00a0400", "210100400", None),
        ("210.100.400", "210100400", None),
        (210100400, "210100400", None),
        (210100400.0, "210100400", None),
        (54321005, "054321005", None),  # a number cell lost the leading zero
        ("21010040000014", "210100400", None),  # a SIRET: its first 9 digits
        ("12345678", None, "n'est pas un numéro SIREN valide (9 chiffres attendus)"),
        ("210100401", None, "n'est pas un numéro SIREN valide (sa clé de contrôle est fausse)"),
        ("2,10E+08", None, "notation scientifique"),
        ("SIREN", None, "9 chiffres attendus"),
    ],
)
def test_siren_is_nine_digits_with_a_valid_key(value: Any, siren: str | None, detail: str) -> None:
    found, problem, _ = normalise_siren(value)
    assert found == siren
    assert (problem is None) if detail is None else (detail in str(problem))


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("75056", "75056"),
        ("01004", "01004"),
        (1004, "01004"),
        ("1004", "01004"),
        ("2A004", "2A004"),
        ("2b 033", "2B033"),
        ("97411", "97411"),
        ("97611", "97611"),
        ("98818", "98818"),
        ("20000", None),
        ("96001", None),
        ("97911", None),
        ("75000", None),
        ("7505", "07505"),
        ("ABCDE", None),
    ],
)
def test_insee_commune_code(value: Any, code: str | None) -> None:
    assert normalise_insee(value)[0] == code


def test_corsican_code_error_says_2a_or_2b() -> None:
    assert "2A ou 2B" in str(normalise_insee("20004")[1])


@pytest.mark.parametrize(
    ("value", "e164"),
    [
        ("01 99 00 12 34", "+33199001234"),
        ("06.12.34.56.78", "+33612345678"),
        ("06/12/34/56/78", "+33612345678"),
        (612345678, "+33612345678"),
        (612345678.0, "+33612345678"),
        ("612345678", "+33612345678"),
        ("+33 (0)6 12 34 56 78", "+33612345678"),
        ("0033 6 12 34 56 78", "+33612345678"),
        (33612345678, "+33612345678"),
        ("0262 12 34 56", "+262262123456"),  # La Réunion
        ("0692 12 34 56", "+262692123456"),
        ("0269 61 23 45", "+262269612345"),  # Mayotte
        ("0639 69 12 34", "+262639691234"),
        ("0590 12 34 56", "+590590123456"),  # Guadeloupe
        (590123456, "+590590123456"),
        ("0594 20 12 34", "+594594201234"),  # Guyane
        ("0596 50 12 34", "+596596501234"),  # Martinique
        ("0696 12 34 56", "+596696123456"),
        ("01 99 00 12 34 / 06 12 34 56 78", "+33199001234"),
        ("01 23", None),
        ("bureau", None),
        ("0" * 70, None),
    ],
)
def test_phone_french_and_overseas_to_e164(value: Any, e164: str | None) -> None:
    assert normalise_phone(value)[0] == e164


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("Jean.Dupont@Exempleville.FR", "jean.dupont@exempleville.fr"),
        ("mailto:jean@exempleville.fr", "jean@exempleville.fr"),
        ("Jean Dupont <jean@exempleville.fr>", "jean@exempleville.fr"),
        ("jean@mairie-évry.fr", "jean@mairie-évry.fr"),
        ("jean@", None),
        ("jean.exempleville.fr", None),
        ("jéan@exempleville.fr", None),
        ("a@exempleville.fr; b@exempleville.fr", None),
        ("jean@localhost", None),
    ],
)
def test_email_syntax_only_lower_case(text: str, address: str | None) -> None:
    assert normalise_email(text)[0] == address


def test_email_errors_say_what_is_wrong() -> None:
    assert "il manque le signe @" in str(normalise_email("jean.exempleville.fr")[1])
    assert "une seule adresse" in str(normalise_email("a@b.fr, c@d.fr")[1])
    assert "accentués" in str(normalise_email("jéan@exempleville.fr")[1])


@pytest.mark.parametrize(
    ("value", "answer"),
    [
        ("Oui", True),
        ("OUI", True),
        ("x", True),
        ("X", True),
        (1, True),
        (True, True),
        ("yes", True),
        ("✓", True),
        ("Non", False),
        ("", False),
        (None, False),
        (0, False),
        ("-", False),
        ("peut-être", None),
    ],
)
def test_yes_no_cells(value: Any, answer: bool | None) -> None:
    assert parse_yes_no(value) is answer


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Collectivité", "collectivite"),
        ("COLLECTIVITE TERRITORIALE", "collectivite"),
        ("Commune", "collectivite"),
        ("EPCI", "collectivite"),
        ("Prestataire", "prestataire"),
        ("prestataire de service", "prestataire"),
        ("Éditeur", "prestataire"),
        ("Autre", None),
    ],
)
def test_requester_type(text: str, kind: str | None) -> None:
    assert parse_requester_type(text) == kind


def test_error_message_names_row_column_and_value() -> None:
    rows: list[list[Any]] = [[None] * 12] * 5 + [person(siren="12345678")]
    table = validate(rows)
    assert table.errors == [
        {
            "row": 7,
            "field": "siren",
            "column": "SIREN",
            "value": "12345678",
            "message": "La ligne 7, colonne « SIREN » : « 12345678 » n'est pas un numéro "
            "SIREN valide (9 chiffres attendus).",
        }
    ]
    assert table.rows == [] and table.error is None


def test_column_in_error_is_the_label_as_written() -> None:
    labels = [*LABELS[:8], "Adresse mail", *LABELS[9:]]
    table = validate([person(email="jean@")], labels)
    assert table.errors[0]["column"] == "Adresse mail"
    assert table.errors[0]["message"].startswith("La ligne 2, colonne « Adresse mail » : ")


def test_valid_person_has_the_contract_shape() -> None:
    table = validate([person(desta="X", antai="oui", phone=" 0262 12 34 56 ")])
    assert table.errors == [] and table.error is None
    assert table.rows == [
        {
            "row": 2,
            "requester_type": "collectivite",
            "organisation": "Commune d'Exempleville",
            "on_behalf_of": None,
            "siren": "210100400",
            "insee_code": "01004",
            "last_name": "DUPONT",
            "first_name": "Jean",
            "job_title": "Responsable",
            "email": "jean.dupont@exempleville.fr",
            "phone": "+262262123456",
            "spaces": ["accueil", "desta", "antai"],
        }
    ]


def test_both_spaces_no_means_accueil_only() -> None:
    assert validate([person(desta="Non", antai=None)]).rows[0]["spaces"] == ["accueil"]


def test_optional_values_empty_are_null() -> None:
    row = validate([person(insee_code=None, job_title="  ", phone=None)]).rows[0]
    assert (row["insee_code"], row["job_title"], row["phone"]) == (None, None, None)


def test_required_empty_cells_are_one_error_each() -> None:
    table = validate([person(organisation=None, last_name="", first_name=" ")])
    assert [e["field"] for e in table.errors] == ["organisation", "last_name", "first_name"]
    assert all("cette information est obligatoire" in e["message"] for e in table.errors)


def test_errors_are_listed_left_to_right() -> None:
    table = validate([person(antai="?", siren="1", requester_type="Autre")])
    assert [e["field"] for e in table.errors] == ["requester_type", "siren", "antai"]


def test_prestataire_needs_the_represented_authority() -> None:
    table = validate([person(requester_type="Prestataire")])
    assert [e["field"] for e in table.errors] == ["on_behalf_of"]
    assert "obligatoire pour un prestataire" in table.errors[0]["message"]


def test_prestataire_without_the_column_gets_a_row_error() -> None:
    labels = [label for label in LABELS if label != "Collectivité représentée"]
    rows = [[c for i, c in enumerate(person(requester_type="Prestataire")) if i != 2]]
    table = validate(rows, labels)
    assert table.errors[0]["field"] == "on_behalf_of"
    assert table.errors[0]["column"] == "Collectivité représentée"


def test_same_email_twice_makes_the_second_an_error() -> None:
    table = validate([person(), person(first_name="Jeanne", email="JEAN.DUPONT@exempleville.fr")])
    assert [r["row"] for r in table.rows] == [2]
    assert table.errors[0]["row"] == 3 and table.errors[0]["field"] == "email"
    assert "figure déjà à la ligne 2" in table.errors[0]["message"]


def test_same_name_with_two_addresses_is_a_warning() -> None:
    table = validate([person(), person(email="j.dupont@exempleville.fr")])
    assert len(table.rows) == 2
    assert any("même personne" in w for w in table.warnings)


def test_cell_longer_than_the_limit_is_an_error() -> None:
    table = validate([person(job_title="x" * 501)], max_cell_chars=500)
    assert table.errors[0]["field"] == "job_title"
    assert "dépasse 500 caractères" in table.errors[0]["message"]
    assert len(table.errors[0]["value"]) <= 200


def test_formula_without_value_is_reported_not_evaluated() -> None:
    table = validate([person(email=None)], uncalculated={(2, 8)})
    assert table.errors[0]["field"] == "email"
    assert "formule" in table.errors[0]["message"]


def test_control_characters_never_reach_the_output() -> None:
    row = validate([person(last_name="DUPONT\r\nBcc: x@y.fr")]).rows[0]
    assert row["last_name"] == "DUPONT Bcc: x@y.fr"


def test_a_lone_note_below_the_table_is_ignored_with_a_warning() -> None:
    table = validate([person(), ["* champs obligatoires"]])
    assert len(table.rows) == 1 and table.errors == []
    assert "ne contient qu'une note" in table.warnings[0]


def test_more_people_than_the_limit_is_refused() -> None:
    rows = [person(email=f"p{n}@exempleville.fr", first_name=f"P{n}") for n in range(4)]
    table = validate(rows, max_rows=3)
    assert table.rows == [] and table.errors == []
    assert "plus de 3 personnes" in str(table.error)


def test_no_person_is_refused() -> None:
    assert "aucune personne" in str(validate([[None] * 12, []]).error)


def test_missing_required_column_is_refused() -> None:
    labels = [label if label != "SIREN" else "Numéro" for label in LABELS]
    table = validate([person()], labels)
    assert "Il manque la colonne obligatoire « SIREN »" in str(table.error)


def test_every_missing_required_column_is_named_at_once() -> None:
    gone = {"Type de demandeur", "SIREN", "Courriel"}
    table = validate(
        [person()], [f"Colonne {i}" if lab in gone else lab for i, lab in enumerate(LABELS)]
    )
    assert table.error is not None
    assert (
        "Il manque les colonnes obligatoires « Type de demandeur », « SIREN » et « Courriel » "
        "dans l'en-tête du tableau (ligne 1)." in table.error
    )
    assert table.error.endswith(TEMPLATE_HINT)


def test_unknown_and_absent_columns_are_warnings() -> None:
    labels = [*LABELS[:10], "Observations"]
    table = validate([[*person()[:10], "RAS"]], labels)
    assert table.error is None and len(table.rows) == 1
    assert any("« Observations » n'est pas reconnue" in w for w in table.warnings)
    assert any("« Espace DESTA » est absente" in w for w in table.warnings)


def test_second_phone_column_is_used_when_the_first_is_empty() -> None:
    labels = [*LABELS, "Téléphone portable"]
    table = validate([[*person(phone=None), "06 12 34 56 78"]], labels)
    assert table.rows[0]["phone"] == "+33612345678"


@pytest.mark.parametrize(("allow", "ok"), [(False, False), (True, True)])
def test_special_use_domains_are_accepted_only_when_configured(allow: bool, ok: bool) -> None:
    email, error = normalise_email("agent@demo.test", allow)
    assert (email == "agent@demo.test") is ok
    assert (error is None) is ok
