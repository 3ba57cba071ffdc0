"""The annex as reviewers receive it: a new workbook holding the parsed values only.

The requester's file may carry formulas, macros (`.xlsm`, `vbaProject.bin`), links to other
workbooks, hidden sheets or crafted XML. It is never passed on: the daemon never even opens it
(only the sandboxed child reads it, `mailbot.annex.reader`). This module writes, with openpyxl
in write-only mode, a fresh workbook from the rows the child returned: the official template's
columns, one row per person, every cell a plain string (a formula-like text escaped with a
quote, `workflows.annex.formulas`). No formula, no macro, no external link can survive, since
nothing of the original file is copied. The original stays in the journal.

Speed: a workbook made and saved by openpyxl costs 5 ms (its styles, theme and properties are
serialised anew each time) for a few rows that cost 0.1 ms. The worker therefore has openpyxl
save the empty workbook once (`_skeleton`) and, for each annex, writes the rows into the sheet's
`<sheetData>` the way openpyxl writes them (inline strings, `r` references) and zips the
skeleton's other parts unchanged, with the date of the copy in its properties: 0.4 ms a copy.
`tests/test_annex_diff.py` checks that the result is the workbook openpyxl itself writes.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from workflows.annex.formulas import escape_formula
from workflows.annex.rules import FIELDS, TEMPLATE_LABELS

SHEET = "Demande"
_REQUESTER_TYPES = {"collectivite": "Collectivité", "prestataire": "Prestataire"}


def _text(row: Mapping[str, Any], name: str) -> str:
    spaces = row.get("spaces") or ()
    if name in ("desta", "antai"):
        return "Oui" if name in spaces else "Non"
    value = row.get(name)
    if name == "requester_type":
        return _REQUESTER_TYPES.get(str(value), "" if value is None else str(value))
    if name == "phone":
        return "" if value is None else str(value)  # E.164, a value: never escaped
    return "" if value is None else escape_formula(str(value))


_SHEET_PART = "xl/worksheets/sheet1.xml"
_CORE_PART = "docProps/core.xml"
_SHEET_DATA = b"<sheetData></sheetData>"
_W3CDTF = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
# What XML 1.0 cannot hold (control characters are already spaces, `cell_text`; U+FFFE, U+FFFF
# and lone surrogates are not): dropped, so that the copy always opens.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@lru_cache(maxsize=1)
def _skeleton() -> tuple[tuple[tuple[str, bytes], ...], bytes, bytes]:
    """(openpyxl's empty workbook as (part, bytes) in its order, the sheet's XML before the
    rows, after them)."""
    # Imported here: the daemon loads openpyxl only where it writes a copy (start-up).
    from openpyxl import Workbook  # noqa: PLC0415

    out = io.BytesIO()
    wb = Workbook(write_only=True)
    wb.create_sheet(SHEET)
    wb.save(out)
    with zipfile.ZipFile(out) as zf:
        parts = tuple((info.filename, zf.read(info)) for info in zf.infolist())
    sheet = dict(parts)[_SHEET_PART]
    head, found, tail = sheet.partition(_SHEET_DATA)
    if not found:  # an openpyxl that writes the empty sheet otherwise: caught by the tests
        raise RuntimeError("openpyxl's empty sheet has no <sheetData></sheetData>")
    return parts, head + b"<sheetData>", b"</sheetData>" + tail


@lru_cache(maxsize=1)
def _column_letters() -> tuple[str, ...]:
    """A, B, … for the template's columns (worked out once, as the skeleton)."""
    from openpyxl.utils import get_column_letter  # noqa: PLC0415 - as above

    return tuple(get_column_letter(i) for i in range(1, len(FIELDS) + 1))


def _cell_xml(ref: str, value: str) -> str:
    """One string cell as openpyxl writes it (`xml:space` where the text has edge spaces)."""
    space = ' xml:space="preserve"' if value != value.strip() else ""
    return f'<c r="{ref}" t="inlineStr"><is><t{space}>{escape(value)}</t></is></c>'


def _rows_xml(lines: Sequence[Sequence[str]]) -> bytes:
    letters = _column_letters()
    out = []
    for number, line in enumerate(lines, start=1):
        cleaned = (_NOT_XML.sub("", value) for value in line)
        cells = "".join(
            _cell_xml(f"{letter}{number}", value)
            for letter, value in zip(letters, cleaned, strict=True)
            if value  # an empty cell is left out, as openpyxl does
        )
        out.append(f'<row r="{number}">{cells}</row>')
    return "".join(out).encode("utf-8")


def values_only_xlsx(rows: Sequence[Mapping[str, Any]], now: dt.datetime | None = None) -> bytes:
    """The workbook of `rows` (the `rows` of `mailbot annex parse --json`), dated `now`."""
    parts, head, tail = _skeleton()
    lines = [[TEMPLATE_LABELS[name] for name in FIELDS]]
    lines += [[_text(row, name) for name in FIELDS] for row in rows]
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ").encode("ascii")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts:
            if name == _SHEET_PART:
                data = head + _rows_xml(lines) + tail
            elif name == _CORE_PART:
                data = _W3CDTF.sub(stamp, data)
            zf.writestr(name, data)
    return out.getvalue()
