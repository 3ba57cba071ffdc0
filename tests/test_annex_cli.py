"""`mailbot annex template` and `mailbot annex parse FILE --json` (CONTRACTS.md)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from mailbot.annex.cli import annex_app
from mailbot.annex.template import build_template
from workflows.annex.rules import FIELDS, TEMPLATE_LABELS

FIXTURES = Path(__file__).parent / "fixtures" / "annex"
runner = CliRunner()
CONTRACT_KEYS = ["format", "sheet", "rows", "errors", "warnings", "error"]


def run_json(*args: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(annex_app, ["parse", *args, "--json"])
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout  # one JSON object, nothing else on stdout
    return result.exit_code, json.loads(lines[0])


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("valid.xlsx", 0),
        ("libreoffice.ods", 0),
        ("excel_fr_cp1252_semicolon.csv", 0),
        ("row_errors.xlsx", 1),
        ("duplicate_email.xlsx", 1),
        ("rows_201.xlsx", 2),
        ("libreoffice_encrypted.xls", 2),
        ("make_fixtures.py", 2),
    ],
)
def test_parse_json_exit_codes(
    name: str, code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./config.toml here: built-in limits
    exit_code, result = run_json(str(FIXTURES / name))
    assert exit_code == code
    assert list(result) == CONTRACT_KEYS
    assert (result["error"] is None) == (code != 2)


def test_parse_json_keeps_accents_unescaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(annex_app, ["parse", str(FIXTURES / "valid.xlsx"), "--json"])
    assert "LEFÈVRE" in result.stdout and "\\u00c8" not in result.stdout


def test_missing_file_is_exit_2_with_a_french_reason(tmp_path: Path) -> None:
    exit_code, result = run_json(str(tmp_path / "absent.xlsx"))
    assert exit_code == 2
    assert (
        result["error"] == "Le fichier « absent.xlsx » est introuvable ou ne peut pas être ouvert."
    )


def test_config_option_sets_the_row_limit(tmp_path: Path) -> None:
    config = tmp_path / "mailbot.toml"
    config.write_text("[limits]\nannex_max_rows = 2\n", encoding="utf-8")
    exit_code, result = run_json(str(FIXTURES / "valid.xlsx"), "--config", str(config))
    assert exit_code == 2 and "plus de 2 personnes" in str(result["error"])


def test_config_toml_in_the_current_directory_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.toml").write_text("[limits]\nannex_max_rows = 1\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    exit_code, result = run_json(str(FIXTURES / "valid.xlsx"))
    assert exit_code == 2 and "plus de 1 personnes" in str(result["error"])


def test_oversized_file_reports_its_real_size(tmp_path: Path) -> None:
    config = tmp_path / "small.toml"
    config.write_text("[limits]\nmax_attachment_bytes = 1048576\n", encoding="utf-8")
    big = tmp_path / "grand.csv"
    big.write_bytes(b"a;b;c\n" * 600_000)
    exit_code, result = run_json(str(big), "--config", str(config))
    assert exit_code == 2
    assert "est trop volumineux (3,4 Mo)" in str(result["error"])
    assert "la taille maximale acceptée est de 1 Mo" in str(result["error"])


def test_bad_config_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[limits]\nannex_max_rows = 'beaucoup'\n", encoding="utf-8")
    result = runner.invoke(
        annex_app, ["parse", str(FIXTURES / "valid.xlsx"), "--config", str(config)]
    )
    assert result.exit_code == 2 and result.stdout == ""


def test_parse_without_json_prints_a_french_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(annex_app, ["parse", str(FIXTURES / "row_errors.xlsx")])
    assert result.exit_code == 1
    assert result.stdout.startswith("Tableau lu (xlsx, feuille « Demande ») : 0 personne(s)")
    assert "La ligne 2, colonne « SIREN »" in result.stdout


def test_template_writes_a_table_that_parses_as_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "annexe.xlsx"
    result = runner.invoke(annex_app, ["template", str(out)])
    assert result.exit_code == 0 and out.stat().st_size > 0
    exit_code, parsed = run_json(str(out))
    assert exit_code == 2 and parsed["format"] == "xlsx" and parsed["sheet"] == "Demande"
    assert "aucune personne" in str(parsed["error"])
    assert parsed["warnings"] == []


def test_template_layout_lists_and_text_cells() -> None:
    wb = openpyxl.load_workbook(io.BytesIO(build_template()))
    assert wb.sheetnames == ["Demande", "Mode d'emploi"]
    ws = wb["Demande"]
    assert [c.value for c in ws[1]] == [
        "Type de demandeur",
        "Nom de la collectivité ou du prestataire",
        "Collectivité représentée",
        "SIREN",
        "Code INSEE",
        "Nom",
        "Prénom",
        "Fonction",
        "Courriel",
        "Téléphone",
        "Espace DESTA",
        "Espace ANTAI",
    ]
    lists = {str(v.sqref): v.formula1 for v in ws.data_validations.dataValidation}
    assert lists == {"A2:A201": '"Collectivité,Prestataire"', "K2:L201": '"Oui,Non"'}
    for letter in "DEJ":  # SIREN, INSEE code, phone: text, so no leading zero is lost
        assert {ws[f"{letter}{row}"].number_format for row in range(2, 202)} == {"@"}
    assert ws["A2"].number_format == "General"


def test_template_help_sheet_explains_every_column_in_french() -> None:
    wb = openpyxl.load_workbook(io.BytesIO(build_template()))
    text = [list(row) for row in wb["Mode d'emploi"].iter_rows(values_only=True)]
    explained = {row[0]: row for row in text if row[0] in TEMPLATE_LABELS.values()}
    assert list(explained) == [TEMPLATE_LABELS[name] for name in FIELDS]
    assert all(row[2] and len(str(row[2])) > 10 for row in explained.values())
    assert explained["SIREN"][1] == "Oui" and explained["Fonction"][1] == "Non"
    assert explained["Collectivité représentée"][1] == "Pour un prestataire"
