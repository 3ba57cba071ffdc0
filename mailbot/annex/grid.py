"""Reading a spreadsheet into numbered rows of cell values; runs only in the child process.

xlsx/xlsm: python-calamine (three times faster) when the workbook holds nothing it reads
differently from openpyxl, else openpyxl, read-only, values only (cached results of formulas,
never evaluated; VBA never loaded), parsed through defusedxml. ods/xls: python-calamine. csv: the csv module, `;` or
`,`, UTF-8 (with or without BOM) or cp1252 as French Excel saves it. Every reader stops after a
bounded number of rows and columns, whatever the file declares.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import Any

from workflows.annex.errors import TEMPLATE_HINT
from workflows.annex.header import HEADER_SCAN_ROWS, Row
from workflows.annex.rules import (
    AnnexError,
    CellValue,
    Header,
    cell_text,
    find_header,
)

MAX_COLUMNS = 64  # the template has 12; a person's edits never reach this far
MAX_SHEETS = 50
NOTE_SLACK = 50  # non-blank rows tolerated beyond the row limit before stopping (notes)


@dataclass
class Grid:
    """The sheet that holds the table and the rows below its header."""

    sheet: str | None
    header: Header
    rows: list[Row]
    truncated: bool = False
    uncalculated: set[tuple[int, int]] = field(default_factory=set)


def scan_limit(max_rows: int) -> int:
    """Rows read below the header at most (blank ones included)."""
    return max(10_000, 50 * max_rows)


def no_header_error() -> AnnexError:
    return AnnexError(
        "no_header",
        "Aucune ligne d'en-tête n'a été reconnue dans le tableau : il doit comporter au moins "
        "les colonnes « Type de demandeur », « Nom de la collectivité ou du prestataire », "
        "« SIREN », « Nom », « Prénom » et « Courriel ». " + TEMPLATE_HINT,
        "no header row found",
    )


def _clean(value: Any) -> CellValue:
    if value is None or value == "":
        return None
    if isinstance(value, str | int | float | bool):
        return value
    return cell_text(value) or None  # dates and times: their text


def collect(rows: Iterable[Row], header: Header, max_rows: int) -> tuple[list[Row], bool]:
    """The non-blank rows below the header. Stops early on a sheet far too long: after
    `max_rows` + a few non-blank rows (then truncated is True: too many people), or with an
    error when something lies far below the table (blank rows are filled in by the readers)."""
    kept: list[Row] = []
    limit = header.row + scan_limit(max_rows)
    for number, cells in rows:
        if number <= header.row:
            continue
        if len(kept) > max_rows + NOTE_SLACK:
            return kept, True
        if number > limit:
            raise AnnexError(
                "sheet_too_long",
                f"La feuille du tableau contient des données au-delà de la ligne {limit}, bien "
                f"au-delà de la limite de {max_rows} personnes par demande : merci de supprimer "
                "les lignes inutiles sous le tableau, ou de scinder la demande.",
                f"data below row {limit}",
            )
        if any(cell_text(c) for c in cells):
            kept.append((number, cells))
    return kept, False


def _best(candidates: Iterable[tuple[str | None, Header | None]]) -> tuple[str | None, Header]:
    best: tuple[str | None, Header] | None = None
    for name, header in candidates:
        if header is not None and (best is None or header.score > best[1].score):
            best = (name, header)
    if best is None:
        raise no_header_error()
    return best


# --- xlsx -------------------------------------------------------------------------------------


def _openpyxl_rows(ws: Any, **bounds: int) -> Iterator[Row]:
    start = bounds.get("min_row", 1)
    for offset, values in enumerate(ws.iter_rows(max_col=MAX_COLUMNS, values_only=True, **bounds)):
        yield start + offset, [_clean(v) for v in values]


def _load_workbook(data: bytes, data_only: bool) -> Any:
    # Imported here: openpyxl is heavy and only the sandboxed child process needs it.
    import openpyxl  # noqa: PLC0415

    if not openpyxl.DEFUSEDXML:  # entity expansion must be refused by defusedxml
        raise RuntimeError("openpyxl is not using defusedxml")
    return openpyxl.load_workbook(
        io.BytesIO(data), read_only=True, data_only=data_only, keep_vba=False, keep_links=False
    )


def read_xlsx(data: bytes, max_rows: int) -> Grid:
    if not _needs_openpyxl(data, HEADER_SCAN_ROWS + scan_limit(max_rows)):
        try:
            return read_xlsx_calamine(data, max_rows)
        except MemoryError:
            raise
        except Exception:  # what calamine cannot read, openpyxl reads or refuses
            pass
    return read_xlsx_openpyxl(data, max_rows)


# Where calamine's grid could differ from openpyxl's, openpyxl reads the workbook: formulas
# (openpyxl tells those saved without a value: they are reported), error cells (openpyxl reads
# their text, "#N/A", calamine an empty cell), _xHHHH_ escapes, and DTDs (refused by defusedxml
# under openpyxl; calamine's parser would ignore them).
# One pattern each, every one starting with a literal that the regex engine looks for first: as
# one alternation (or with `\s` first) the search tried every byte and cost 1.1 ms an annex.
_OPENPYXL_ONLY = (
    re.compile(rb"<(?:\w+:)?f[\s>/]"),
    re.compile(rb't="e"(?<=\st="e")'),
    re.compile(rb"_x[0-9A-Fa-f]{4}_"),
    re.compile(rb"<!(?i:doctype|entity)"),
)
_ROW = re.compile(rb"<(?:\w+:)?row[\s>/]")
_ROW_NUMBER = re.compile(rb'<(?:\w+:)?row\s[^>]*?\br="(\d+)"')


def _needs_openpyxl(data: bytes, row_limit: int) -> bool:
    """True when openpyxl must read the workbook: one of the cases above, or a row far below
    the table (openpyxl reads every row and stops on it with its own error)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if not name.endswith((".xml", ".rels")):
                continue
            part = archive.read(name)
            if any(pattern.search(part) for pattern in _OPENPYXL_ONLY):
                return True
            if name.startswith("xl/worksheets/"):
                numbers = [int(n) for n in _ROW_NUMBER.findall(part)]
                if max([len(_ROW.findall(part)), *numbers]) >= row_limit:
                    return True
    return False


def _as_openpyxl(value: Any) -> Any:
    """A value as openpyxl gives it: whole numbers as int, dates as midnight datetimes."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time())
    return value


def _calamine_xlsx_rows(sheet: Any, limit: int) -> Iterator[Row]:
    """The rows as openpyxl yields them: numbered from 1, MAX_COLUMNS cells each."""
    blank: list[CellValue] = [None] * MAX_COLUMNS
    start = sheet.start
    if start is None:
        return
    first_row, first_col = start
    yield from ((number, list(blank)) for number in range(1, min(first_row, limit) + 1))
    if first_col >= MAX_COLUMNS or first_row >= limit:
        return
    values = sheet.to_python(skip_empty_area=True, nrows=limit - first_row)
    for offset, row in enumerate(values):
        cells = [_clean(_as_openpyxl(v)) for v in row[: MAX_COLUMNS - first_col]]
        yield first_row + offset + 1, [None] * first_col + cells + blank[first_col + len(cells) :]


def read_xlsx_calamine(data: bytes, max_rows: int) -> Grid:
    """The xlsx read by calamine into the grid openpyxl would give."""
    # Imported here: only the sandboxed child process reads spreadsheets.
    from python_calamine import CalamineWorkbook, SheetTypeEnum  # noqa: PLC0415

    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    limit = HEADER_SCAN_ROWS + scan_limit(max_rows) + 1
    sheets = {
        meta.name: list(_calamine_xlsx_rows(wb.get_sheet_by_name(meta.name), limit))
        for meta in wb.sheets_metadata[:MAX_SHEETS]
        if meta.typ == SheetTypeEnum.WorkSheet
    }
    name, header = _best(
        (sheet_name, find_header(rows[:HEADER_SCAN_ROWS])) for sheet_name, rows in sheets.items()
    )
    rows, truncated = collect(sheets[str(name)], header, max_rows)
    return Grid(sheet=name, header=header, rows=rows, truncated=truncated)


def read_xlsx_openpyxl(data: bytes, max_rows: int) -> Grid:
    wb = _load_workbook(data, data_only=True)
    sheets = wb.worksheets[:MAX_SHEETS]
    for ws in sheets:
        ws.reset_dimensions()  # the declared range may be wrong or hostile: read what is there
    name, header = _best(
        (ws.title, find_header(list(islice(_openpyxl_rows(ws), HEADER_SCAN_ROWS)))) for ws in sheets
    )
    rows, truncated = collect(_openpyxl_rows(wb[name]), header, max_rows)
    wb.close()
    grid = Grid(sheet=name, header=header, rows=rows, truncated=truncated)
    if rows:
        grid.uncalculated = _uncalculated_formulas(data, name, rows)
    return grid


def _uncalculated_formulas(data: bytes, sheet: str | None, rows: list[Row]) -> set[tuple[int, int]]:
    """Cells holding a formula saved without its computed value (read as empty above): the
    same rows read again, formulas this time. They are reported, never evaluated."""
    empty = {(number, col) for number, cells in rows for col, v in enumerate(cells) if v is None}
    wb = _load_workbook(data, data_only=False)
    ws = wb[sheet]
    ws.reset_dimensions()
    found = set()
    for row in ws.iter_rows(min_row=rows[0][0], max_row=rows[-1][0], max_col=MAX_COLUMNS):
        for col, cell in enumerate(row):
            if getattr(cell, "data_type", None) == "f" and (cell.row, col) in empty:
                found.add((cell.row, col))
    wb.close()
    return found


# --- ods / xls --------------------------------------------------------------------------------


def _calamine_rows(sheet: Any, limit: int) -> Iterator[Row]:
    start = sheet.start
    if start is None:
        return
    first_row, first_col = start
    if first_col >= MAX_COLUMNS:
        return
    for offset, values in enumerate(sheet.to_python(skip_empty_area=True, nrows=limit)):
        cells = [None] * first_col + [_clean(v) for v in values[: MAX_COLUMNS - first_col]]
        yield first_row + offset + 1, cells


def read_calamine(data: bytes, max_rows: int) -> Grid:
    # Imported here: only the sandboxed child process reads spreadsheets.
    from python_calamine import CalamineWorkbook, SheetTypeEnum  # noqa: PLC0415

    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    limit = HEADER_SCAN_ROWS + scan_limit(max_rows) + 1
    sheets = {}
    for meta in wb.sheets_metadata[:MAX_SHEETS]:
        if meta.typ == SheetTypeEnum.WorkSheet:
            sheets[meta.name] = list(_calamine_rows(wb.get_sheet_by_name(meta.name), limit))
    name, header = _best(
        (sheet_name, find_header(rows[:HEADER_SCAN_ROWS])) for sheet_name, rows in sheets.items()
    )
    rows, truncated = collect(sheets[str(name)], header, max_rows)
    return Grid(sheet=name, header=header, rows=rows, truncated=truncated)


# --- csv --------------------------------------------------------------------------------------


def decode_text(data: bytes, final: bool = True) -> str:
    """UTF-8 (BOM or not), else cp1252: what French Excel writes for "CSV (séparateur : ;)"."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(data, final=final)
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def csv_delimiter(lines: list[str]) -> str | None:
    """`;` or `,` when the lines split into ≥ 3 fields consistently (None otherwise)."""
    if lines and lines[0].lower().startswith("sep=") and len(lines[0].strip()) == 5:
        return lines[0].strip()[4] if lines[0].strip()[4] in ";," else None  # Excel's hint
    best: tuple[int, str] | None = None
    for delimiter in ";,":
        counts = [len(next(csv.reader([line], delimiter=delimiter))) for line in lines]
        wide = [c for c in counts if c >= 3]
        if not wide or len(wide) < min(2, len(lines)):
            continue
        usual = max(set(wide), key=wide.count)
        agreeing = sum(1 for c in counts if c == usual)
        if agreeing * 10 >= len(counts) * 6 and (best is None or agreeing > best[0]):
            best = (agreeing, delimiter)
    return best[1] if best else None


def _csv_rows(text: str, delimiter: str) -> Iterator[Row]:
    reader = csv.reader(io.StringIO(text.replace("\x00", ""), newline=""), delimiter=delimiter)
    line = 1
    for record in reader:
        yield line, [_clean(v) for v in record[:MAX_COLUMNS]]
        line = reader.line_num + 1


def read_csv(data: bytes, max_rows: int) -> Grid:
    text = decode_text(data)
    lines = [line for line in text.splitlines()[:50] if line.strip()][:10]
    delimiter = csv_delimiter(lines) or ";"
    rows = _csv_rows(text, delimiter)
    head = list(islice(rows, HEADER_SCAN_ROWS))
    _, header = _best([(None, find_header(head))])
    kept, truncated = collect(chain(head, rows), header, max_rows)
    return Grid(sheet=None, header=header, rows=kept, truncated=truncated)


def read_grid(data: bytes, fmt: str, max_rows: int) -> Grid:
    if fmt == "xlsx":
        return read_xlsx(data, max_rows)
    if fmt in ("ods", "xls"):
        return read_calamine(data, max_rows)
    if fmt == "csv":
        return read_csv(data, max_rows)
    raise ValueError(f"unknown format {fmt!r}")
