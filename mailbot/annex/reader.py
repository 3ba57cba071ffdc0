"""Reading the subscription annex from untrusted bytes, without ever endangering the daemon.

`parse_annex_bytes` sniffs the format by content, runs cheap checks on the container in this
process (`mailbot.annex.container`), then reads and validates the table in a child process
(`python -I -c …` through `subprocess`, not `multiprocessing`: nothing is forked from a
threaded asyncio daemon, and `preexec_fn` is not used since it is unsafe with threads). The
child limits its own address space and CPU time (`resource.setrlimit`); the parent enforces a
wall-clock timeout. A crash, a timeout or garbage from the child becomes a French error.
"""

from __future__ import annotations

import json
import logging
import math
import os
import resource
import struct
import subprocess
import sys
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from mailbot.annex.container import (
    OLE2_MAGIC,
    ZIP_EMPTY,
    ZIP_MAGIC,
    check_xlsx_sheets,
    check_xml_prologs,
    check_zip,
    encrypted_error,
    file_subject,
    iter_zip_entries,
    ods_encrypted,
    ole2_stream_names,
    xls_encrypted,
    xlsx_has_macros,
)
from mailbot.annex.grid import csv_delimiter, decode_text, read_grid, scan_limit
from workflows.annex.rules import AnnexError, validate_rows

log = logging.getLogger(__name__)

FORMATS = ("xlsx", "ods", "xls", "csv")
_ROOT = Path(__file__).resolve().parents[2]  # holds the mailbot and workflows packages
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from mailbot.annex.reader import child_main; raise SystemExit(child_main(sys.argv[2:]))"
)
_MACROS_IGNORED = (
    "Le fichier contient des macros : macros ignorées (elles ne sont jamais exécutées ; seules "
    "les valeurs des cellules ont été lues)."
)


@dataclass(frozen=True)
class AnnexLimits:
    """Bounds on what an annex may cost; `[limits]` of config.toml overrides them."""

    max_rows: int = 200
    max_cell_chars: int = 500
    max_file_bytes: int = 10 * 1024 * 1024
    max_zip_entries: int = 2000
    max_uncompressed_bytes: int = 100 * 1024 * 1024
    timeout_seconds: float = 20.0
    memory_mb: int = 1024
    # Accept addresses under special-use domains such as .test (the demo and the tests only).
    allow_test_domains: bool = False

    @classmethod
    def from_config_file(cls, path: Path | None) -> AnnexLimits:
        """Defaults, overridden by the keys of table `[limits]` present in the TOML file."""
        if path is None:
            return cls()
        with path.open("rb") as handle:
            table = tomllib.load(handle).get("limits", {})
        values: dict[str, Any] = {}
        for key, name in _CONFIG_KEYS.items():
            if key in table:
                value = table[key]
                if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                    raise ValueError(f"[limits] {key} must be a positive number, not {value!r}")
                values[name] = float(value) if name == "timeout_seconds" else int(value)
        allow = table.get("annex_allow_test_domains", False)
        if not isinstance(allow, bool):
            raise ValueError(
                f"[limits] annex_allow_test_domains must be true or false, not {allow!r}"
            )
        values["allow_test_domains"] = allow
        return cls(**values)


_CONFIG_KEYS = {
    "annex_max_rows": "max_rows",
    "annex_max_cell_chars": "max_cell_chars",
    "max_attachment_bytes": "max_file_bytes",
    "annex_max_zip_entries": "max_zip_entries",
    "annex_max_uncompressed_bytes": "max_uncompressed_bytes",
    "annex_parse_timeout_seconds": "timeout_seconds",
    "annex_parse_memory_mb": "memory_mb",
}


# --- sniffing ---------------------------------------------------------------------------------


def _zip_names(data: bytes, limit: int = 100_000) -> list[str]:
    names: list[str] = []
    try:
        for entry in iter_zip_entries(data):
            names.append(entry.name)
            if len(names) >= limit:
                break
    except AnnexError:
        pass
    return names


def _zip_mimetype(data: bytes) -> bytes:
    """ODF puts an uncompressed `mimetype` member first (ODF 1.2 part 3, 3.3)."""
    if data[30:38] == b"mimetype":
        (extra,) = struct.unpack_from("<H", data, 28)
        return data[38 + extra : 38 + extra + 80].split(b"\n")[0].strip()
    return b""


def _sniff_zip(data: bytes) -> str | None:
    names = _zip_names(data)
    if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
        return "xlsx"
    if _zip_mimetype(data).startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
        return "ods"
    return None


def _sniff_ole2(data: bytes) -> str | None:
    found = ole2_stream_names(data, ("EncryptedPackage", "EncryptionInfo", "Workbook", "Book"))
    if found & {"EncryptedPackage", "EncryptionInfo"}:
        return "xlsx"  # an encrypted OOXML package (MS-OFFCRYPTO 2.3.4): the parse says so
    if found & {"Workbook", "Book"}:
        return "xls"
    return None


def _sniff_csv(data: bytes) -> bool:
    head = data[:65_536]
    if b"\x00" in head:
        return False
    text = decode_text(head, final=len(data) <= len(head))
    if any(ord(c) < 32 and c not in "\t\r\n" for c in text) or text.lstrip().startswith(
        ("<", "{", "%PDF")
    ):
        return False
    lines = [line for line in text.splitlines() if line.strip()]
    if len(data) > len(head):
        lines = lines[:-1]  # the last line may be cut
    return csv_delimiter(lines[:10]) is not None


def sniff_spreadsheet(data: bytes) -> str | None:
    """ "xlsx" (xlsm too), "ods", "xls" or "csv" by content, else None. Cheap: no parse."""
    if data.startswith((ZIP_MAGIC, ZIP_EMPTY)):
        return _sniff_zip(data)
    if data.startswith(OLE2_MAGIC):
        return _sniff_ole2(data)
    return "csv" if _sniff_csv(data) else None


def describe_content(data: bytes) -> str:
    """What a file that is not a spreadsheet looks like, in French ("un document PDF")."""
    kinds = (
        (b"%PDF", "un document PDF"),
        (b"\x89PNG", "une image"),
        (b"\xff\xd8\xff", "une image"),
        (b"GIF8", "une image"),
        (b"{\\rtf", "un document RTF"),
    )
    for magic, kind in kinds:
        if data.startswith(magic):
            return kind
    if data.startswith((ZIP_MAGIC, ZIP_EMPTY)):
        names = _zip_names(data, 5000)
        if any(n.startswith("word/") for n in names):
            return "un document Word"
        if _zip_mimetype(data).startswith(b"application/vnd.oasis.opendocument.text"):
            return "un document texte OpenDocument"
        return "une archive compressée (ZIP)"
    if data.startswith(OLE2_MAGIC):
        if ole2_stream_names(data, ("WordDocument",)):
            return "un document Word"
        return "un document Office qui n'est pas un classeur"
    if data.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
        return "une page web (HTML)"
    return "un fichier qui n'est pas un tableau"


# --- parsing ----------------------------------------------------------------------------------


def _result(fmt: str | None, sheet: str | None = None) -> dict[str, Any]:
    return {"format": fmt, "sheet": sheet, "rows": [], "errors": [], "warnings": [], "error": None}


def _precheck(data: bytes, fmt: str, limits: AnnexLimits, subject: str) -> list[str]:
    """Container checks in this process; returns warnings, raises AnnexError."""
    if data.startswith(OLE2_MAGIC):
        if fmt == "xlsx":
            raise encrypted_error(subject)
        if xls_encrypted(data):
            raise encrypted_error(subject)
        macros = ole2_stream_names(data, ("_VBA_PROJECT_CUR", "VBA"))
        return [_MACROS_IGNORED] if macros else []
    if fmt not in ("xlsx", "ods"):
        return []
    entries = check_zip(data, limits.max_zip_entries, limits.max_uncompressed_bytes, subject)
    check_xml_prologs(data, subject)
    names = [e.name for e in entries]
    if fmt == "ods":
        if ods_encrypted(data, subject):
            raise encrypted_error(subject)
        return [_MACROS_IGNORED] if any(n.startswith("Basic/") for n in names) else []
    check_xlsx_sheets(data, scan_limit(limits.max_rows), limits.max_rows, subject)
    return [_MACROS_IGNORED] if xlsx_has_macros(names, data, subject) else []


def _extension_warning(filename: str | None, fmt: str) -> list[str]:
    if not filename or "." not in filename:
        return []
    extension = filename.rsplit(".", 1)[1].lower()
    family = {"xlsx": "xlsx", "xlsm": "xlsx", "ods": "ods", "xls": "xls", "csv": "csv"}
    if extension in family and family[extension] != fmt:
        return [
            f"{file_subject(filename)} est en réalité un fichier {fmt.upper()} "
            f"(et non {extension.upper()}) : il a été lu comme tel."
        ]
    return []


def parse_annex_bytes(data: bytes, filename: str | None, limits: AnnexLimits) -> dict[str, Any]:
    """The JSON object of CONTRACTS.md for these bytes. Never raises for bad input (an
    OSError when the child cannot even be started is the machine's fault, not the file's)."""
    subject = file_subject(filename)
    fmt: str | None = None
    warnings: list[str] = []
    try:
        if not data:
            raise AnnexError("empty", f"{subject} est vide.", "empty file")
        fmt = sniff_spreadsheet(data)
        if len(data) > limits.max_file_bytes:
            raise too_big_error(filename, len(data), limits.max_file_bytes)
        if fmt is None:
            raise AnnexError(
                "not_a_spreadsheet",
                f"{subject} n'est pas un tableur : son contenu est celui d'"
                f"{describe_content(data)}. Merci de nous envoyer le tableau au format "
                "Excel (.xlsx ou .xls), OpenDocument (.ods) ou CSV.",
                "not a spreadsheet",
            )
        warnings = _extension_warning(filename, fmt) + _precheck(data, fmt, limits, subject)
        result = run_isolated(data, fmt, filename, limits)
    except AnnexError as exc:
        log.info("annex refused: %s (%s)", exc.reason, exc.english)
        result = _result(fmt)
        result["error"] = exc.french
    result["warnings"] = warnings + list(result["warnings"])
    return result


def too_big_error(filename: str | None, size: int, limit: int) -> AnnexError:
    subject = file_subject(filename)
    return AnnexError(
        "too_big",
        f"{subject} est trop volumineux ({_megabytes(size)} Mo) : la taille maximale "
        f"acceptée est de {_megabytes(limit)} Mo.",
        f"{size} bytes",
    )


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:.1f}".replace(".", ",").removesuffix(",0")


def exit_code(result: dict[str, Any]) -> int:
    """0: a table without error; 1: row errors; 2: no usable table."""
    if result.get("error"):
        return 2
    return 1 if result.get("errors") else 0


# --- the child process ------------------------------------------------------------------------


def _unreadable(subject: str, english: str) -> AnnexError:
    return AnnexError(
        "unreadable",
        f"{subject} est illisible : sa lecture a échoué (fichier endommagé, trop volumineux ou "
        "mal formé). Merci de l'enregistrer à nouveau depuis votre tableur et de nous le "
        "renvoyer.",
        english,
    )


def run_isolated(
    data: bytes,
    fmt: str,
    filename: str | None,
    limits: AnnexLimits,
    *,
    fault: str | None = None,
) -> dict[str, Any]:
    """Read and validate in a child process; `fault` ("abort", "hang", "memory") is a
    test-only hook that makes the child misbehave on purpose."""
    subject = file_subject(filename)
    request = json.dumps(
        {"format": fmt, "filename": filename, "limits": asdict(limits), "fault": fault}
    )
    command = [sys.executable, "-I", "-c", _BOOTSTRAP, str(_ROOT), request]
    try:
        child = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            command,
            input=data,
            capture_output=True,
            timeout=limits.timeout_seconds,
            env={"LC_ALL": "C.UTF-8", "PATH": os.defpath},
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # subprocess.run has killed and reaped it
        raise AnnexError(
            "timeout",
            f"{subject} n'a pas pu être lu dans le temps imparti ({limits.timeout_seconds:g} s) "
            ": il est trop volumineux ou mal formé. Merci de nous renvoyer le tableau "
            "enregistré à nouveau, une ligne par personne.",
            f"child timed out after {limits.timeout_seconds} s",
        ) from exc
    if child.returncode != 0:
        tail = child.stderr[-2000:].decode("utf-8", "replace")
        log.warning("annex child exited with %s: %s", child.returncode, tail)
        raise _unreadable(subject, f"child exited with {child.returncode}")
    if child.stderr:
        log.info("annex child said: %s", child.stderr[-2000:].decode("utf-8", "replace"))
    try:
        result = json.loads(child.stdout)
    except ValueError as exc:
        raise _unreadable(subject, "child wrote no JSON") from exc
    if not isinstance(result, dict) or set(result) != set(_result(None)):
        raise _unreadable(subject, "child wrote an unexpected object")
    return result


def _limit_resources(limits: AnnexLimits) -> None:
    def lower(kind: int, soft: int) -> None:
        _, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(kind, (soft, hard if hard != resource.RLIM_INFINITY else soft))

    lower(resource.RLIMIT_AS, limits.memory_mb * 1024 * 1024)
    lower(resource.RLIMIT_CPU, math.ceil(limits.timeout_seconds) + 1)
    lower(resource.RLIMIT_CORE, 0)


def _inject(fault: str | None, limits: AnnexLimits) -> None:
    if fault == "abort":
        os.abort()
    if fault == "hang":
        while True:
            pass
    if fault == "memory":
        bytearray(limits.memory_mb * 2 * 1024 * 1024)


def read_and_validate(
    data: bytes, fmt: str, filename: str | None, limits: AnnexLimits
) -> dict[str, Any]:
    """The child's work: read the grid, validate it, answer the contract's object."""
    subject = file_subject(filename)
    result = _result(fmt)
    try:
        grid = read_grid(data, fmt, limits.max_rows)
        result["sheet"] = grid.sheet
        table = validate_rows(
            grid.header,
            grid.rows,
            max_rows=limits.max_rows,
            max_cell_chars=limits.max_cell_chars,
            uncalculated=grid.uncalculated,
            truncated=grid.truncated,
            allow_test_domains=limits.allow_test_domains,
        )
    except AnnexError as exc:
        result["error"] = exc.french
        return result
    except MemoryError:
        result["error"] = _memory_error(subject, limits)
        return result
    except Exception as exc:  # any library failure is an unreadable file; say why when known
        print(f"annex read failed: {exc!r}"[:2000], file=sys.stderr)
        result["error"] = _library_failure(exc, subject)
        return result
    result.update(rows=table.rows, errors=table.errors, warnings=table.warnings)
    if table.error:
        result.update(rows=[], errors=[], error=table.error)
    return result


def _library_failure(exc: BaseException, subject: str) -> str:
    """The French reason for a library's exception, looking through its chain (openpyxl
    wraps what defusedxml raises in a ValueError)."""
    from defusedxml import DefusedXmlException

    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, DefusedXmlException):
            return (
                f"{subject} contient des déclarations XML interdites (entités ou références "
                "externes), signe d'un fichier piégé : par sécurité, il n'a pas été lu."
            )
        if type(cause).__name__ == "PasswordError":  # python_calamine
            return encrypted_error(subject).french
        if isinstance(cause, MemoryError):
            return f"{subject} demande trop de mémoire pour être lu."
        cause = cause.__cause__ or cause.__context__
    return _unreadable(subject, repr(exc)).french


def _memory_error(subject: str, limits: AnnexLimits) -> str:
    return (
        f"{subject} demande trop de mémoire pour être lu (plus de {limits.memory_mb} Mo) : il "
        "est trop volumineux ou mal formé. Merci de nous renvoyer seulement le tableau rempli."
    )


def child_main(argv: list[str]) -> int:
    """Entry point of the child: limits first, then the bytes from stdin, JSON to stdout."""
    request = json.loads(argv[0])
    known = {f.name for f in fields(AnnexLimits)}
    limits = AnnexLimits(**{k: v for k, v in request["limits"].items() if k in known})
    _limit_resources(limits)
    data = sys.stdin.buffer.read()
    try:
        _inject(request.get("fault"), limits)
        result = read_and_validate(data, request["format"], request["filename"], limits)
    except MemoryError:
        result = _result(request["format"])
        result["error"] = _memory_error(file_subject(request["filename"]), limits)
    sys.stdout.buffer.write(json.dumps(result, ensure_ascii=False).encode("utf-8"))
    return 0


if __name__ == "__main__":  # python -m mailbot.annex.reader '{"format": …}' < file
    raise SystemExit(child_main(sys.argv[1:]))


__all__ = [
    "AnnexLimits",
    "FORMATS",
    "describe_content",
    "exit_code",
    "parse_annex_bytes",
    "run_isolated",
    "sniff_spreadsheet",
    "too_big_error",
]
