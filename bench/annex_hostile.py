"""Time and memory of reading hostile and large annexes; results go to docs/annex.md.

    .venv/bin/python bench/annex_hostile.py

Each case runs in a fresh process, so `getrusage(RUSAGE_CHILDREN)` gives the peak resident
memory of that case's reader child alone (the warm worker is closed, hence reaped, before
the count; each case starts its worker cold, as the first annex after a daemon start does). "parent" is the whole call of parse_annex_bytes
(container checks + child); "child" cases call run_isolated directly, as if the container
checks had let the file through, to show what the limits of the child do.
"""

from __future__ import annotations

import importlib.util
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailbot.annex.pool import annex_pool  # noqa: E402
from mailbot.annex.reader import AnnexLimits, parse_annex_bytes, run_isolated  # noqa: E402
from workflows.annex.rules import AnnexError  # noqa: E402


def builders() -> ModuleType:
    path = ROOT / "tests" / "fixtures" / "annex" / "make_fixtures.py"
    spec = importlib.util.spec_from_file_location("annex_make_fixtures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mf = builders()


def ods(rows: list[list[Any]]) -> bytes:
    """A minimal OpenDocument spreadsheet (mimetype first and stored, ODF 1.2 part 3)."""

    def cell(value: Any) -> str:
        if value is None:
            return "<table:table-cell/>"
        text = str(value).replace("&", "&amp;").replace("<", "&lt;")
        return f'<table:table-cell office:value-type="string"><text:p>{text}</text:p></table:table-cell>'

    body = "".join(
        f"<table:table-row>{''.join(cell(v) for v in r)}</table:table-row>" for r in rows
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="Demande">{body}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"),
            "application/vnd.oasis.opendocument.spreadsheet",
            compress_type=zipfile.ZIP_STORED,
        )
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", manifest)
    return buffer.getvalue()


def people(count: int) -> list[list[Any]]:
    return [
        ["Collectivité", "Commune d'Exempleville", None, "210100400", "01004", f"NOM{n}",
         f"Prénom{n}", None, f"agent{n}@exempleville.fr", f"01 99 {n % 100:02d} 12 34", "Non",
         "Oui"]
        for n in range(count)
    ]  # fmt: skip


def csv_bytes(count: int) -> bytes:
    lines = [";".join(mf.LABELS)] + [
        ";".join("" if v is None else str(v) for v in row) for row in people(count)
    ]
    return "\r\n".join(lines).encode("cp1252")


def case_data(name: str) -> tuple[str, bytes, str]:
    """(how to call, bytes, format) of a case."""
    far = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    rows = "".join(mf.sheet_row(n, r) for n, r in enumerate(mf.table(), start=1))

    def bomb() -> bytes:
        padding = "<sheetData>" + " " * 150_000_000
        return mf.minimal_xlsx(mf.sheet_xml(rows).replace("<sheetData>", padding))

    cases: dict[str, tuple[str, Any, str]] = {
        "valid xlsx, 3 people": ("parent", mf.table_xlsx, "xlsx"),
        "xlsx, 100,000 rows": ("parent", lambda: mf.many_rows_xlsx(100_000), "xlsx"),
        "xlsx, 100,000 rows, checks bypassed": (
            "child",
            lambda: mf.many_rows_xlsx(100_000, dimension=False),
            "xlsx",
        ),
        "xlsx, 9,000 rows": ("parent", lambda: mf.many_rows_xlsx(9000), "xlsx"),
        "ods, 100,000 rows": ("parent", lambda: ods([mf.LABELS, *people(100_000)]), "ods"),
        "csv, 70,000 rows": ("parent", lambda: csv_bytes(70_000), "csv"),
        "zip bomb 120 MB": ("parent", lambda: mf.zip_bomb_xlsx(120), "xlsx"),
        "zip bomb 150 MB sheet, checks bypassed": ("child", bomb, "xlsx"),
        "whole-grid dimension": (
            "parent",
            lambda: mf.minimal_xlsx(mf.sheet_xml(rows + far, "A1:XFD1048576")),
            "xlsx",
        ),
        "whole-grid dimension, read by calamine": (
            "child",
            lambda: mf.minimal_xlsx(mf.sheet_xml(rows + far, "A1:XFD1048576")),
            "ods",
        ),
    }
    how, build, fmt = cases[name]
    return how, build(), fmt


def run_case(name: str, how: str, fmt: str, path: Path) -> dict[str, Any]:
    """Run in a process that holds nothing but the file, so the child's peak is its own (a
    child's max RSS starts from its parent's at fork/exec on Linux)."""
    data = path.read_bytes()
    start = time.perf_counter()
    try:
        if how == "parent":
            result = parse_annex_bytes(data, "annexe", AnnexLimits.from_config())
        else:
            result = run_isolated(data, fmt, "annexe", AnnexLimits.from_config())
        answer = result["error"] or f"{len(result['rows'])} rows, {len(result['errors'])} errors"
    except AnnexError as exc:
        answer = f"{exc.french} ({exc.english})"
    elapsed = time.perf_counter() - start
    annex_pool().close()  # reaps the warm worker, so that RUSAGE_CHILDREN counts it
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    return {
        "case": name,
        "how": how,
        "file_kb": len(data) // 1024,
        "seconds": round(elapsed, 2),
        "child_peak_mb": peak if peak else None,
        "answer": answer[:160],
    }


CASES = [
    "valid xlsx, 3 people",
    "xlsx, 9,000 rows",
    "xlsx, 100,000 rows",
    "xlsx, 100,000 rows, checks bypassed",
    "ods, 100,000 rows",
    "csv, 70,000 rows",
    "zip bomb 120 MB",
    "zip bomb 150 MB sheet, checks bypassed",
    "whole-grid dimension",
    "whole-grid dimension, read by calamine",
]


def main() -> None:
    if len(sys.argv) == 3:  # build NAME into the file named, print how to run it
        how, data, fmt = case_data(sys.argv[1])
        Path(sys.argv[2]).write_bytes(data)
        print(json.dumps([how, fmt]))
        return
    if len(sys.argv) == 5:  # run NAME HOW FMT FILE
        result = run_case(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]))
        print(json.dumps(result, ensure_ascii=False))
        return
    print("| case | call | file | time | child peak RSS | answer |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in CASES:
            path = str(Path(tmp) / "case")
            how, fmt = json.loads(_run(name, path))
            r = json.loads(_run(name, how, fmt, path))
            peak = f"{r['child_peak_mb']} MB" if r["child_peak_mb"] else "no child"
            print(
                f"| {r['case']} | {r['how']} | {r['file_kb']} KB | {r['seconds']} s | {peak} "
                f"| {r['answer']} |"
            )


def _run(*args: str) -> str:
    command = [sys.executable, __file__, *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603


if __name__ == "__main__":
    main()
