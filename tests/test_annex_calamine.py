"""xlsx annexes read by python-calamine (issue 13: three times faster than openpyxl) give the
very grid openpyxl gives; what calamine would read differently is left to openpyxl."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
from pathlib import Path
from types import ModuleType

import pytest
from openpyxl import Workbook

from mailbot.annex import grid
from mailbot.annex.grid import read_xlsx, read_xlsx_calamine, read_xlsx_openpyxl
from workflows.annex.header import HEADER_SCAN_ROWS

FIXTURES = Path(__file__).parent / "fixtures" / "annex"
MAX_ROWS = 200
ROW_LIMIT = HEADER_SCAN_ROWS + grid.scan_limit(MAX_ROWS)


def _builders() -> ModuleType:
    spec = importlib.util.spec_from_file_location("annex_fixtures", FIXTURES / "make_fixtures.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mf = _builders()


def _workbook(rows: list[list[object]], title: str = "Demande") -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


TYPED_PERSON: list[object] = [
    "Collectivité",
    "Commune d'Exempleville",
    None,
    210100401,  # a SIREN typed as a number
    1004.0,
    "AUBERT",
    "Noé",
    dt.datetime(2026, 1, 2),  # a date where text was expected
    "noe.aubert@exempleville.fr",
    123456789,
    True,
    dt.time(10, 30),
]


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.xlsx")), ids=lambda p: p.name)
def test_calamine_gives_openpyxls_grid_for_every_fixture(path: Path) -> None:
    data = path.read_bytes()
    assert not grid._needs_openpyxl(data, ROW_LIMIT)
    assert read_xlsx_calamine(data, MAX_ROWS) == read_xlsx_openpyxl(data, MAX_ROWS)


def test_numbers_dates_times_and_booleans_come_out_as_openpyxl_reads_them() -> None:
    data = _workbook(
        [["Titre de la demande"], [], mf.LABELS, TYPED_PERSON, [1.5, dt.date(2026, 3, 4)]]
    )
    assert not grid._needs_openpyxl(data, ROW_LIMIT)
    fast, slow = read_xlsx_calamine(data, MAX_ROWS), read_xlsx_openpyxl(data, MAX_ROWS)
    assert fast == slow
    assert fast.rows[0][1][3] == 210100401 and isinstance(fast.rows[0][1][3], int)
    assert fast.rows[1][1][:2] == [1.5, "2026-03-04"]


def test_a_table_below_blank_rows_and_right_of_blank_columns_keeps_its_numbers() -> None:
    shifted = [[None, None, *row] for row in mf.table()]
    data = _workbook([[], [], [], *shifted])
    fast = read_xlsx_calamine(data, MAX_ROWS)
    assert fast == read_xlsx_openpyxl(data, MAX_ROWS)
    assert fast.header.row == 4 and fast.rows[0][0] == 5


@pytest.mark.parametrize(
    "data",
    [
        mf.table_xlsx(people=[[*mf.PEOPLE[0][:9], "=A1&B1", "Oui", "Non"]]),  # no cached value
        mf.minimal_xlsx(
            mf.sheet_xml(
                mf.sheet_row(1, mf.LABELS).replace(
                    "</row>", '<c r="M1" t="e"><v>#N/A</v></c></row>'
                )
            )
        ),
        _workbook([mf.LABELS, ["Collectivité_x000D_", *mf.PEOPLE[0][1:]]]),
        mf.minimal_xlsx(
            mf.sheet_xml(mf.sheet_row(1, mf.LABELS) + f'<row r="{ROW_LIMIT}"><c r="A1"/></row>')
        ),
        mf.minimal_xlsx(mf.sheet_xml(mf.sheet_row(1, mf.LABELS), prolog="<!DOCTYPE x>")),
    ],
    ids=["formula", "error-cell", "escape", "far-row", "doctype"],
)
def test_what_calamine_reads_differently_is_read_by_openpyxl(data: bytes) -> None:
    assert grid._needs_openpyxl(data, ROW_LIMIT)


def test_a_workbook_calamine_cannot_open_is_left_to_openpyxl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = mf.table_xlsx()

    def broken(_data: bytes, _max_rows: int) -> grid.Grid:
        raise ValueError("calamine: unsupported")

    monkeypatch.setattr(grid, "read_xlsx_calamine", broken)
    assert read_xlsx(data, MAX_ROWS) == read_xlsx_openpyxl(data, MAX_ROWS)
