"""A 1,000-row annex (xlsx and ods) read end to end in the warm sandbox: sniff, container
checks, the worker's read and validation, the JSON back (`parse_annex_bytes`)."""

from __future__ import annotations

import io
import statistics
import time
import zipfile
from dataclasses import replace
from xml.sax.saxutils import escape

from openpyxl import Workbook

from mailbot.annex.pool import annex_pool
from mailbot.annex.reader import AnnexLimits, parse_annex_bytes

HEADER = [
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
ROWS = 1000


def _rows() -> list[list[str]]:
    return [
        [
            "Collectivité",
            "Commune de Banc",
            "",
            "217500016",
            "75056",
            f"Mesure{n}",
            "Agent",
            "Responsable du stationnement",
            f"agent{n}@example.test",
            "01 23 45 67 89",
            "Oui",
            "Non",
        ]
        for n in range(ROWS)
    ]


def xlsx_table() -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Demande"
    ws.append(HEADER)
    for row in _rows():
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _ods_row(cells: list[str]) -> str:
    return (
        "<table:table-row>"
        + "".join(
            f'<table:table-cell office:value-type="string"><text:p>{escape(c)}</text:p>'
            "</table:table-cell>"
            for c in cells
        )
        + "</table:table-row>"
    )


def ods_table() -> bytes:
    """A minimal OpenDocument spreadsheet, as LibreOffice structures it."""
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )
    rows = "".join(_ods_row(r) for r in [HEADER, *_rows()])
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="Demande">{rows}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def annex_speed(repeat: int = 5) -> None:
    limits = replace(AnnexLimits.from_config(), max_rows=ROWS, allow_test_domains=True, workers=1)
    annex_pool().warm(limits)
    print(f"## Annex of {ROWS} rows, warm sandbox (median of {repeat})")
    print("| format | seconds | rows | error |")
    print("|---|---|---|---|")
    for fmt, data in (("xlsx", xlsx_table()), ("ods", ods_table())):
        times, result = [], {}
        for _ in range(repeat):
            start = time.perf_counter()
            result = parse_annex_bytes(data, f"annexe.{fmt}", limits)
            times.append(time.perf_counter() - start)
        rows = len(result["rows"])
        print(
            f"| {fmt} | {statistics.median(times):.3f} | {rows} | {result['error']} |", flush=True
        )
        assert rows == ROWS, result["error"] or result["errors"][:3]
