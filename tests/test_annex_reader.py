"""Reading real annex files: openpyxl-made, LibreOffice-saved, CSV as French Excel saves it.

The files are committed under tests/fixtures/annex/ (made by make_fixtures.py there); each is
read through the public path, child process included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailbot.annex.reader import (
    AnnexLimits,
    describe_content,
    exit_code,
    parse_annex_bytes,
    sniff_spreadsheet,
)
from mailbot.config import ConfigError, LimitsConfig, load_config, load_limits

FIXTURES = Path(__file__).parent / "fixtures" / "annex"
LIMITS = AnnexLimits.from_config()

EXPECTED_PEOPLE = [
    {
        "requester_type": "collectivite",
        "organisation": "Commune d'Exempleville",
        "on_behalf_of": None,
        "siren": "210100400",
        "insee_code": "01004",
        "last_name": "DUPONT",
        "first_name": "Jean",
        "job_title": "Responsable du stationnement",
        "email": "jean.dupont@exempleville.fr",
        "phone": "+33199001234",
        "spaces": ["accueil", "desta"],
    },
    {
        "requester_type": "collectivite",
        "organisation": "Communauté d'agglomération du Val d'Exemple",
        "on_behalf_of": None,
        "siren": "200045672",
        "insee_code": None,
        "last_name": "MARTIN",
        "first_name": "Camille",
        "job_title": "DSI",
        "email": "camille.martin@agglo-exemple.fr",
        "phone": None,
        "spaces": ["accueil", "desta", "antai"],
    },
    {
        "requester_type": "prestataire",
        "organisation": "Exemple Parking SAS",
        "on_behalf_of": "Commune d'Exempleville",
        "siren": "443123450",
        "insee_code": None,
        "last_name": "LEFÈVRE",
        "first_name": "Zoé",
        "job_title": "Cheffe de projet",
        "email": "zoe.lefevre@exemple-parking.fr",
        "phone": "+33612345678",
        "spaces": ["accueil", "antai"],
    },
]


def parse(name: str) -> dict[str, Any]:
    return parse_annex_bytes((FIXTURES / name).read_bytes(), name, LIMITS)


def without_row(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "row"} for row in rows]


@pytest.mark.parametrize(
    ("name", "fmt", "sheet", "rows"),
    [
        ("valid.xlsx", "xlsx", "Demande", [2, 3, 4]),
        ("title_merged.xlsx", "xlsx", "Demande", [5, 6, 7]),
        ("second_sheet.xlsx", "xlsx", "Tableau", [2, 3, 4]),
        ("label_variants.xlsx", "xlsx", "Feuil1", [2, 3, 4]),
        ("blank_rows.xlsx", "xlsx", "Demande", [4, 7, 9]),
        ("libreoffice.xlsx", "xlsx", "Demande", [4, 5, 6]),
        ("libreoffice.ods", "ods", "Demande", [4, 5, 6]),
        ("libreoffice.xls", "xls", "Demande", [4, 5, 6]),
        ("excel_fr_cp1252_semicolon.csv", "csv", None, [3, 4, 5]),
    ],
)
def test_the_same_three_people_are_read_from_every_layout_and_format(
    name: str, fmt: str, sheet: str | None, rows: list[int]
) -> None:
    result = parse(name)
    assert (result["error"], result["errors"], result["format"]) == (None, [], fmt)
    assert result["sheet"] == sheet
    assert [r["row"] for r in result["rows"]] == rows
    assert without_row(result["rows"]) == EXPECTED_PEOPLE
    assert exit_code(result) == 0


def test_result_has_exactly_the_contract_keys() -> None:
    result = parse("valid.xlsx")
    assert list(result) == ["format", "sheet", "rows", "errors", "warnings", "error"]
    assert list(result["rows"][0]) == ["row", *EXPECTED_PEOPLE[0]]


def test_utf8_bom_csv_with_commas_and_quoted_commas() -> None:
    result = parse("utf8_bom_comma.csv")
    assert exit_code(result) == 0
    assert result["rows"][0]["organisation"] == "Commune d'Exempleville, services techniques"
    assert result["rows"][0]["requester_type"] == "collectivite"  # BOM not glued to the label
    assert without_row(result["rows"])[1:] == EXPECTED_PEOPLE[1:]


def test_reordered_and_extra_columns() -> None:
    result = parse("reordered_extra.xlsx")
    assert exit_code(result) == 0
    assert [r["email"] for r in result["rows"]] == [p["email"] for p in EXPECTED_PEOPLE]
    assert [r["spaces"] for r in result["rows"]] == [p["spaces"] for p in EXPECTED_PEOPLE]
    assert result["rows"][0]["insee_code"] is None  # no such column: null
    assert sum("n'est pas reconnue" in w for w in result["warnings"]) == 2


def test_numbers_that_lost_leading_zeros_or_gained_spaces_are_recovered() -> None:
    result = parse("lost_zeros.xlsx")
    assert exit_code(result) == 0
    rows = result["rows"]
    assert {r["siren"] for r in rows[:3]} == {"210100400"}
    assert {r["insee_code"] for r in rows[:3]} == {"01004"}
    assert [r["phone"] for r in rows] == [
        "+33199001234",
        "+33612345678",
        "+33612345678",
        "+33612345679",
    ]
    assert rows[3]["siren"] == "054321005"
    assert rows[3]["spaces"] == ["accueil", "desta"]  # 1 / 0


def test_overseas_phones_get_their_own_country_codes() -> None:
    result = parse("overseas.xlsx")
    assert exit_code(result) == 0
    assert [(r["insee_code"], r["phone"]) for r in result["rows"]] == [
        ("97411", "+262262123456"),
        ("97611", "+262269612345"),
        ("97101", "+590590123456"),
        ("97302", "+594594201234"),
        ("97209", "+596596123456"),
        ("2A004", "+262692123456"),
    ]


def test_prestataire_without_represented_column_is_a_row_error() -> None:
    result = parse("prestataire_without_behalf.xlsx")
    assert exit_code(result) == 1
    assert [r["row"] for r in result["rows"]] == [2, 3]
    assert [(e["row"], e["field"]) for e in result["errors"]] == [(4, "on_behalf_of")]


def test_duplicate_email_in_a_file() -> None:
    result = parse("duplicate_email.xlsx")
    assert exit_code(result) == 1
    assert [(e["row"], e["field"], e["value"]) for e in result["errors"]] == [
        (5, "email", "JEAN.DUPONT@EXEMPLEVILLE.FR")
    ]


def test_row_errors_file_reports_each_faulty_cell() -> None:
    result = parse("row_errors.xlsx")
    assert exit_code(result) == 1 and result["rows"] == []
    assert [(e["row"], e["field"]) for e in result["errors"]] == [
        (2, "siren"),
        (3, "siren"),
        (3, "insee_code"),
        (3, "email"),
        (3, "phone"),
        (3, "desta"),
        (4, "organisation"),
        (4, "last_name"),
    ]
    assert all(
        e["message"].startswith(f"La ligne {e['row']}, colonne « ") for e in result["errors"]
    )


def test_201_people_exceed_the_default_limit() -> None:
    result = parse("rows_201.xlsx")
    assert exit_code(result) == 2
    assert (result["rows"], result["errors"]) == ([], [])
    assert "plus de 200 personnes" in result["error"]


def test_blank_rows_trimmed_cells_and_a_note() -> None:
    result = parse("blank_rows.xlsx")
    assert result["rows"][1]["organisation"] == "Communauté d'agglomération du Val d'Exemple"
    assert any("« * Champs obligatoires »" in w for w in result["warnings"])


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("valid.xlsx", "xlsx"),
        ("libreoffice.xlsx", "xlsx"),
        ("libreoffice.ods", "ods"),
        ("libreoffice.xls", "xls"),
        ("libreoffice_encrypted.ods", "ods"),
        ("libreoffice_encrypted.xls", "xls"),
        ("excel_fr_cp1252_semicolon.csv", "csv"),
        ("utf8_bom_comma.csv", "csv"),
    ],
)
def test_sniff_by_content(name: str, fmt: str) -> None:
    assert sniff_spreadsheet((FIXTURES / name).read_bytes()) == fmt


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"%PDF-1.7\n",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
        b"Bonjour,\nje souhaite un acces au portail.\nCordialement,\n",
        b"<html><body><table><tr><td>a;b;c</td></tr></table></body></html>",
        b"a;b\x00;c\nd;e;f\n",
    ],
)
def test_sniff_refuses_what_is_not_a_table(data: bytes) -> None:
    assert sniff_spreadsheet(data) is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("libreoffice_encrypted.ods", "protégé par un mot de passe (chiffré)"),
        ("libreoffice_encrypted.xls", "protégé par un mot de passe (chiffré)"),
    ],
)
def test_password_protected_libreoffice_files(name: str, message: str) -> None:
    result = parse(name)
    assert exit_code(result) == 2 and message in result["error"]
    assert result["error"].startswith(f"Le fichier « {name} »")


def test_description_of_non_spreadsheets_is_french() -> None:
    assert describe_content(b"%PDF-1.4") == "un document PDF"
    assert describe_content(b"\xff\xd8\xff\xe0") == "une image"
    assert describe_content(b"just text") == "un fichier qui n'est pas un tableau"


def test_limits_from_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        "[limits]\nannex_max_rows = 50\nannex_parse_timeout_seconds = 5\n"
        "max_attachment_bytes = 2048\n[other]\nx = 1\n",
        encoding="utf-8",
    )
    limits = AnnexLimits.from_config(load_limits(config))
    assert (limits.max_rows, limits.timeout_seconds, limits.max_file_bytes) == (50, 5.0, 2048)
    assert (limits.max_cell_chars, limits.memory_mb) == (500, 1024)


def test_limits_have_one_source_of_defaults(tmp_path: Path) -> None:
    """No file, or a file without `[limits]`: the config model's defaults, which are also
    what the daemon uses."""
    assert load_limits(None) == LimitsConfig()
    empty = tmp_path / "empty.toml"
    empty.write_text("[instance]\ndomain = 'x'\n", encoding="utf-8")
    assert AnnexLimits.from_config(load_limits(empty)) == AnnexLimits.from_config()
    assert AnnexLimits.from_config() == AnnexLimits(
        max_rows=200,
        max_cell_chars=500,
        max_file_bytes=10 * 1024 * 1024,
        max_zip_entries=2000,
        max_uncompressed_bytes=100 * 1024 * 1024,
        timeout_seconds=20.0,
        memory_mb=1024,
        allow_test_domains=False,
    )
    daemon = load_config(Path(__file__).resolve().parent.parent / "config.toml")
    assert AnnexLimits.from_config(daemon.limits) == AnnexLimits.from_config(
        load_limits(Path(__file__).resolve().parent.parent / "config.toml")
    )


def test_limits_refuse_nonsense(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[limits]\nannex_max_rows = -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"limits\.annex_max_rows"):
        load_limits(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[limits]\nannex_max_rowz = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="annex_max_rowz: unknown setting"):
        load_limits(unknown)
