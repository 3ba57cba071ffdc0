"""The annex as reviewers receive it: a new workbook holding the parsed values only.

The requester's file may carry formulas, macros (`.xlsm`, `vbaProject.bin`), links to other
workbooks, hidden sheets or crafted XML. It is never passed on: the daemon never even opens it
(only the sandboxed child reads it, `mailbot.annex.reader`). This module writes, with openpyxl
in write-only mode, a fresh workbook from the rows the child returned: the official template's
columns, one row per person, every cell a plain string (a formula-like text escaped with a
quote, `workflows.annex.formulas`). No formula, no macro, no external link can survive, since
nothing of the original file is copied. The original stays in the journal.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workflows.annex.formulas import escape_formula
from workflows.annex.rules import FIELDS, TEMPLATE_LABELS

if TYPE_CHECKING:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

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


def _string_cell(ws: WriteOnlyWorksheet, value: str) -> WriteOnlyCell | None:
    # Imported here: the daemon loads openpyxl only when it writes a copy (start-up).
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415

    if not value:
        return None  # an empty cell
    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"  # a string, whatever it looks like: never a formula
    return cell


def values_only_xlsx(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """The workbook of `rows` (the `rows` of `mailbot annex parse --json`)."""
    from openpyxl import Workbook  # noqa: PLC0415 - as above

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(SHEET)
    ws.append([_string_cell(ws, TEMPLATE_LABELS[name]) for name in FIELDS])
    for row in rows:
        ws.append([_string_cell(ws, _text(row, name)) for name in FIELDS])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
