"""Hostile annexes: each gets its own French answer, in bounded time, and the caller lives on.

The files are built here (builders in fixtures/annex/make_fixtures.py). The timeout marks are
hang guards only; nothing asserts a duration.
"""

from __future__ import annotations

import importlib.util
import io
import os
import struct
import zipfile
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mailbot.annex.reader import (
    AnnexLimits,
    exit_code,
    parse_annex_bytes,
    run_isolated,
    sniff_spreadsheet,
)
from workflows.annex.rules import AnnexError


def _builders() -> ModuleType:
    path = Path(__file__).parent / "fixtures" / "annex" / "make_fixtures.py"
    spec = importlib.util.spec_from_file_location("annex_make_fixtures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mf = _builders()
LIMITS = AnnexLimits.from_config()
TABLE_ROWS = "".join(mf.sheet_row(n, r) for n, r in enumerate(mf.table(), start=1))
LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
)
EXTERNAL = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def refused(data: bytes, filename: str = "annexe.xlsx", **limits: Any) -> str:
    result = parse_annex_bytes(data, filename, replace(LIMITS, **limits))
    assert exit_code(result) == 2
    assert (result["rows"], result["errors"]) == ([], [])
    assert isinstance(result["error"], str)
    return result["error"]


def with_entity(prolog: str, rows: str = TABLE_ROWS) -> bytes:
    return mf.minimal_xlsx(mf.sheet_xml(rows, prolog=prolog))


def lying_sizes(data: bytes, member: str, declared: int) -> bytes:
    """The central directory and local header say `member` inflates to `declared` bytes."""
    raw = bytearray(data)
    name = member.encode()
    central = raw.find(b"PK\x01\x02")
    while central >= 0:
        (length,) = struct.unpack_from("<H", raw, central + 28)
        if raw[central + 46 : central + 46 + length] == name:
            struct.pack_into("<I", raw, central + 24, declared)
            (local,) = struct.unpack_from("<I", raw, central + 42)
            struct.pack_into("<I", raw, local + 22, declared)
        central = raw.find(b"PK\x01\x02", central + 4)
    return bytes(raw)


@pytest.mark.timeout(60)
def test_zip_bomb_is_refused_from_the_declared_sizes() -> None:
    bomb = mf.zip_bomb_xlsx(120)
    assert len(bomb) < 1_000_000
    assert "se décompresse en un volume anormalement grand" in refused(bomb)


@pytest.mark.timeout(60)
def test_zip_bomb_lying_about_its_size_is_damaged_without_inflating_it() -> None:
    body = mf.sheet_xml(TABLE_ROWS).replace("<sheetData>", "<sheetData>" + " " * 50_000_000)
    bomb = lying_sizes(mf.minimal_xlsx(body), "xl/worksheets/sheet1.xml", 4096)
    assert "est endommagé ou n'est pas un classeur valide" in refused(bomb)


@pytest.mark.timeout(60)
def test_declared_whole_grid_dimension_is_refused_before_any_library() -> None:
    far = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    data = mf.minimal_xlsx(mf.sheet_xml(TABLE_ROWS + far, "A1:XFD1048576"))
    error = refused(data)
    assert "une feuille de 1\u202f048\u202f576 lignes sur 16\u202f384 colonnes" in error
    assert "limite de 200 personnes" in error


@pytest.mark.timeout(60)
def test_far_away_cell_without_dimension_stops_the_reader() -> None:
    far = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    error = refused(mf.minimal_xlsx(mf.sheet_xml(TABLE_ROWS + far)))
    assert "contient des données au-delà de la ligne 10001" in error


@pytest.mark.timeout(60)
@pytest.mark.parametrize("prolog", [LAUGHS, EXTERNAL], ids=["billion-laughs", "external-entity"])
def test_xml_entities_are_refused(prolog: str) -> None:
    rows = TABLE_ROWS.replace("DUPONT", "&amp;lol4;" if "lol" in prolog else "&amp;xxe;")
    assert "déclarations XML interdites" in refused(with_entity(prolog, rows))


@pytest.mark.timeout(60)
def test_entities_hidden_after_a_long_prolog_are_refused_by_defusedxml_in_the_child() -> None:
    padded = "<!--" + "x" * 10_000 + "-->" + LAUGHS
    assert "déclarations XML interdites" in refused(with_entity(padded))


@pytest.mark.timeout(60)
def test_encrypted_ooxml_package_says_encrypted() -> None:
    data = mf.encrypted_ole2()
    assert sniff_spreadsheet(data) == "xlsx"
    result = parse_annex_bytes(data, "annexe.xlsx", LIMITS)
    assert result["format"] == "xlsx"
    assert "protégé par un mot de passe (chiffré)" in result["error"]


@pytest.mark.timeout(60)
def test_macro_enabled_workbook_is_read_for_data_only() -> None:
    vba = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1024
    data = mf.table_xlsx(macro=True, extra={"xl/vbaProject.bin": vba})
    result = parse_annex_bytes(data, "annexe.xlsm", LIMITS)
    assert exit_code(result) == 0 and result["format"] == "xlsx"
    assert len(result["rows"]) == 3
    assert any("macros ignorées" in w for w in result["warnings"])


@pytest.mark.timeout(60)
def test_pdf_named_xlsx_is_not_a_spreadsheet() -> None:
    result = parse_annex_bytes(b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", "annexe.xlsx", LIMITS)
    assert result["format"] is None and exit_code(result) == 2
    assert result["error"] == (
        "Le fichier « annexe.xlsx » n'est pas un tableur : son contenu est celui d'un document "
        "PDF. Merci de nous envoyer le tableau au format Excel (.xlsx ou .xls), OpenDocument "
        "(.ods) ou CSV."
    )


@pytest.mark.timeout(60)
def test_xlsx_named_csv_is_read_as_xlsx() -> None:
    result = parse_annex_bytes(mf.table_xlsx(), "annexe.csv", LIMITS)
    assert exit_code(result) == 0 and result["format"] == "xlsx"
    assert any("en réalité un fichier XLSX" in w for w in result["warnings"])


@pytest.mark.timeout(60)
def test_formula_without_cached_value_is_reported_never_evaluated() -> None:
    person = [*mf.PEOPLE[0][:8], '=LOWER("PIRATE@EXEMPLE.FR")', *mf.PEOPLE[0][9:]]
    result = parse_annex_bytes(mf.table_xlsx(people=[person]), "annexe.xlsx", LIMITS)
    assert exit_code(result) == 1
    assert [(e["row"], e["field"]) for e in result["errors"]] == [(2, "email")]
    assert "formule enregistrée sans valeur calculée" in result["errors"][0]["message"]


@pytest.mark.timeout(60)
def test_100000_rows_are_refused_without_reading_them() -> None:
    data = mf.many_rows_xlsx(100_000)
    assert "bien au-delà de la limite de 200 personnes" in refused(data)


@pytest.mark.timeout(60)
def test_100000_rows_without_dimension_are_refused_by_the_sheet_size() -> None:
    data = mf.many_rows_xlsx(100_000, dimension=False)
    assert "bien au-delà de la limite de 200 personnes" in refused(data)


@pytest.mark.timeout(60)
def test_5000_rows_sheet_stops_at_the_row_limit() -> None:
    assert "plus de 200 personnes" in refused(mf.many_rows_xlsx(5000))


@pytest.mark.timeout(60)
def test_100000_rows_csv_stops_at_the_row_limit() -> None:
    line = "Collectivité;Commune;;210100400;01004;NOM{0};Prénom;;p{0}@exempleville.fr;;Non;Non"
    lines = [";".join(mf.LABELS)] + [line.format(n) for n in range(100_000)]
    data = "\r\n".join(lines).encode("cp1252")
    assert "plus de 200 personnes" in refused(data, "annexe.csv")


@pytest.mark.timeout(60)
def test_too_many_zip_entries_are_refused() -> None:
    extra = {f"xl/media/image{n}.png": b"" for n in range(2001)}
    assert "nombre anormal d'éléments internes" in refused(mf.table_xlsx(extra=extra))


@pytest.mark.timeout(60)
def test_duplicate_zip_members_are_refused() -> None:
    buffer = io.BytesIO(mf.table_xlsx())
    with pytest.warns(UserWarning), zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", mf.sheet_xml(""))
    assert "est endommagé" in refused(buffer.getvalue())


@pytest.mark.timeout(60)
def test_truncated_workbook_is_damaged_not_a_crash() -> None:
    data = mf.table_xlsx()
    assert "n'est pas un tableur" in refused(data[: len(data) // 2])
    corrupt = bytearray(data)
    corrupt[200:400] = b"\x00" * 200
    result = parse_annex_bytes(bytes(corrupt), "annexe.xlsx", LIMITS)
    assert exit_code(result) == 2 and "Le fichier « annexe.xlsx »" in result["error"]


@pytest.mark.timeout(60)
def test_one_megabyte_cell_is_a_row_error() -> None:
    person = [*mf.PEOPLE[0][:7], "x" * 1_000_000, *mf.PEOPLE[0][8:]]
    result = parse_annex_bytes(mf.table_xlsx(people=[person]), "annexe.xlsx", LIMITS)
    assert [(e["field"], len(e["value"])) for e in result["errors"]] == [("job_title", 200)]
    assert "dépasse 500 caractères" in result["errors"][0]["message"]


def test_empty_and_oversized_files() -> None:
    assert refused(b"") == "Le fichier « annexe.xlsx » est vide."
    error = refused(mf.table_xlsx(), max_file_bytes=1024)
    assert "est trop volumineux" in error and "la taille maximale acceptée est de" in error


@pytest.mark.timeout(60)
def test_child_killed_by_a_signal_is_an_unreadable_file_and_the_caller_lives_on() -> None:
    data = mf.table_xlsx()
    with pytest.raises(AnnexError) as crash:
        run_isolated(data, "xlsx", "annexe.xlsx", LIMITS, fault="abort")
    assert crash.value.reason == "unreadable"
    assert "est illisible : sa lecture a échoué" in crash.value.french
    assert os.getpid() > 0 and exit_code(parse_annex_bytes(data, "annexe.xlsx", LIMITS)) == 0


@pytest.mark.timeout(60)
def test_calamine_aborting_on_a_declared_grid_is_an_unreadable_file() -> None:
    # As if the container checks had let the whole-grid dimension through to calamine: the
    # Rust allocation failure aborts the child (SIGABRT), never the caller.
    far = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    data = mf.minimal_xlsx(mf.sheet_xml(TABLE_ROWS + far, "A1:XFD1048576"))
    with pytest.raises(AnnexError) as crash:
        run_isolated(data, "ods", "annexe.xlsx", LIMITS)
    assert crash.value.english == "child exited with -6"
    assert "Le fichier « annexe.xlsx » est illisible" in crash.value.french


@pytest.mark.timeout(60)
def test_child_that_hangs_is_stopped_by_the_wall_clock() -> None:
    limits = replace(LIMITS, timeout_seconds=2)
    with pytest.raises(AnnexError) as hang:
        run_isolated(mf.table_xlsx(), "xlsx", "annexe.xlsx", limits, fault="hang")
    assert "n'a pas pu être lu dans le temps imparti (2 s)" in hang.value.french


@pytest.mark.timeout(60)
def test_child_out_of_memory_says_so() -> None:
    limits = replace(LIMITS, memory_mb=512)
    result = run_isolated(mf.table_xlsx(), "xlsx", "annexe.xlsx", limits, fault="memory")
    assert "demande trop de mémoire pour être lu (plus de 512 Mo)" in result["error"]
