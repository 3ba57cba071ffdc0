"""What a replacement table changed (workflows.annex.diff), formula escaping
(workflows.annex.formulas) and the values-only copy of an annex (mailbot.annex.safecopy), with
no server; the notification that shows them: test_followup_attachments.py, and end to end
test_followup_attachments_e2e.py and test_threat_formulas.py."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from typing import Any

import pytest
from openpyxl import load_workbook
from workflows_support import XLSX, annex, ctx, mail, row, sent, subscription_data

from mailbot.annex import safecopy
from mailbot.annex.safecopy import values_only_xlsx
from workflows import subscription
from workflows.annex.diff import changed_fields, diff_people
from workflows.annex.formulas import copy_filename, escape_formula, is_formula_like
from workflows.annex.rules import FIELDS, TEMPLATE_LABELS
from workflows.subscription_people import person_view

REF = "ABO-2026-000001"


def person(n: int, **fields: Any) -> dict[str, Any]:
    return {**row(n), **fields}


# --------------------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('=HYPERLINK("http://evil.test","x")', '\'=HYPERLINK("http://evil.test","x")'),
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Ville de Testville", "Ville de Testville"),
        ("Jean-Pierre", "Jean-Pierre"),
        ("+33561000000", "+33561000000"),  # an E.164 phone is a value
        ("-12", "-12"),
        ("", ""),
    ],
)
def test_formula_like_text_is_escaped_and_values_are_not(value: str, shown: str) -> None:
    assert escape_formula(value) == shown
    assert is_formula_like(value) == (shown != value)


@pytest.mark.parametrize(
    ("original", "copy"),
    [
        ("annexe.xlsm", "annexe-valeurs.xlsx"),
        ("Demande abonnement.xls", "Demande abonnement-valeurs.xlsx"),
        ("tableau.csv", "tableau-valeurs.xlsx"),
        ("../../etc/annexe.ods", "annexe-valeurs.xlsx"),
        (None, "annexe-valeurs.xlsx"),
        ("", "annexe-valeurs.xlsx"),
    ],
)
def test_the_copy_keeps_the_original_name_with_a_suffix(original: str | None, copy: str) -> None:
    assert copy_filename(original) == copy


def test_the_values_copy_holds_escaped_strings_only() -> None:
    rows = [
        person(1, organisation='=HYPERLINK("http://evil.test","Cliquez")'),
        person(2, job_title="@SUM(1+1)*cmd|' /C calc'!A0", spaces=["accueil"]),
    ]
    name, data = copy_filename("annexe.xlsm"), values_only_xlsx(annex(rows)["rows"])
    assert name == "annexe-valeurs.xlsx"
    ws = load_workbook(io.BytesIO(data))["Demande"]
    cells = [c for line in ws.iter_rows() for c in line if c.value is not None]
    assert all(c.data_type == "s" for c in cells)
    values = [[c.value for c in line] for line in ws.iter_rows()]
    assert values[0][:2] == ["Type de demandeur", "Nom de la collectivité ou du prestataire"]
    assert values[1][1] == '\'=HYPERLINK("http://evil.test","Cliquez")'
    assert values[1][9] == "+33561000000" and values[1][10:] == ["Oui", "Non"]
    assert values[2][7] == "'@SUM(1+1)*cmd|' /C calc'!A0" and values[2][10:] == ["Non", "Non"]


def _openpyxl_copy(lines: list[list[str]]) -> bytes:
    """The copy as openpyxl writes it in full, cell by cell (what `values_only_xlsx` matches)."""
    from openpyxl import Workbook  # noqa: PLC0415
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Demande")
    for line in lines:
        cells = [WriteOnlyCell(ws, value=v) if v else None for v in line]
        for cell in cells:
            if cell is not None:
                cell.data_type = "s"
        ws.append(cells)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _parts(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(name, zf.read(name)) for name in zf.namelist()]


def test_the_values_copy_is_the_workbook_openpyxl_writes() -> None:
    """Only the rows are written by hand: every part of the file is byte for byte openpyxl's
    (the date of the copy aside), edge spaces, markup characters, accents and empty cells
    included."""
    rows = [
        person(1, organisation="  Mairie <de> Saint-Étienne & Co  ", job_title=""),
        person(2, organisation="=1+1", spaces=["desta", "antai"]),
    ]
    at = dt.datetime(2026, 12, 7, 10, 30, tzinfo=dt.UTC)
    ours = _parts(values_only_xlsx(annex(rows)["rows"], now=at))
    lines = [[TEMPLATE_LABELS[n] for n in FIELDS]]
    lines += [[safecopy._text(r, n) for n in FIELDS] for r in annex(rows)["rows"]]
    theirs = _parts(_openpyxl_copy(lines))
    assert [name for name, _ in ours] == [name for name, _ in theirs]
    for (name, mine), (_, reference) in zip(ours, theirs, strict=True):
        if name == "docProps/core.xml":
            assert b"2026-12-07T10:30:00Z" in mine
            mine, reference = (re.sub(rb"\d{4}-[\dT:-]+Z", b"", p) for p in (mine, reference))
        assert mine == reference, name
    sheet = dict(ours)["xl/worksheets/sheet1.xml"]
    assert (
        b'<t xml:space="preserve">  Mairie &lt;de&gt; Saint-\xc3\x89tienne &amp; Co  </t>' in sheet
    )


def test_the_values_copy_drops_what_xml_cannot_hold() -> None:
    """A character XML 1.0 refuses (here U+FFFE, U+FFFF and U+0001) would make a file that no
    spreadsheet opens: it is dropped, the rest of the cell kept."""
    rows = annex([person(1)])["rows"]
    rows[0]["organisation"] = "Mairie\ufffe de\uffff Lyon\x01"
    rows[0]["job_title"] = "\ufffe"  # nothing left: an empty cell, not an empty string
    data = values_only_xlsx(rows)
    ws = load_workbook(io.BytesIO(data))["Demande"]
    assert ws.cell(row=2, column=2).value == "Mairie de Lyon"
    assert ws.cell(row=2, column=8).value is None
    assert b'r="H2"' not in dict(_parts(data))["xl/worksheets/sheet1.xml"]


def test_reviewer_mails_show_cells_escaped_and_the_record_keeps_them_as_written() -> None:
    hostile = '=HYPERLINK("http://evil.test","x")'
    event = mail(annex_data=annex([row(1, organisation=hostile)]), attachments=(XLSX,))
    decision = subscription.start(event, ctx(), REF)
    assert subscription_data(decision.data).people[0].organisation == hostile
    notified = sent(decision, "subscription_notify")[0].context["people"][0]
    assert notified["organisation"] == "'" + hostile
    assert notified["phone"] == "+33561000000"
    view = person_view(subscription_data(decision.data).people[0], ctx())
    assert view["organisation"].startswith("'=")


# --------------------------------------------------------------------------- diff


def test_same_people_same_values_is_no_change() -> None:
    assert diff_people([person(1), person(2)], [person(2), person(1)]) == []


def test_added_removed_and_changed_people_each_get_a_line() -> None:
    old = [person(1), person(2), person(3)]
    new = [
        person(1, job_title="DGS", phone="+33561000001"),
        person(3),
        person(4, first_name="Élodie", last_name="Martin"),
    ]
    assert diff_people(old, new) == [
        "modifiée : Agnès Nom1 <personne1@ville-exemple.fr> (fonction, téléphone)",
        "ajoutée : Élodie Martin <personne4@ville-exemple.fr>",
        "retirée : Bruno Nom2 <personne2@ville-exemple.fr>",
    ]


def test_spaces_and_addresses_compare_as_parsed() -> None:
    old = [person(1, spaces=["accueil", "desta"])]
    new = [person(1, email="PERSONNE1@Ville-Exemple.fr ", spaces=["accueil", "desta", "antai"])]
    assert diff_people(old, new) == [
        "modifiée : Agnès Nom1 <personne1@ville-exemple.fr> (espaces demandés)"
    ]
    assert changed_fields(person(1, organisation=" X "), person(1, organisation="X")) == []


def test_a_changed_name_shows_escaped() -> None:
    lines = diff_people([], [person(1, first_name="=1+1", last_name="")])
    assert lines == ["ajoutée : '=1+1 <personne1@ville-exemple.fr>"]
