"""Reading the subscription annex from untrusted bytes, without ever endangering the daemon.

`parse_annex_bytes` sniffs the format by content, runs cheap checks on the container in this
process (`mailbot.annex.container`), then reads and validates the table in a sandboxed worker
process: a warm, long-lived child with the readers already imported (`mailbot.annex.pool` on
the daemon's side, `mailbot.annex.worker` on the child's). The worker limits its own address
space and CPU time for each job (`resource.setrlimit`); the parent enforces a wall-clock
timeout. A crash, a timeout or garbage from the worker becomes a French error.
"""

from __future__ import annotations

import base64
import logging
import sys
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from mailbot.annex.container import (
    check_xlsx_sheets,
    check_xml_prologs,
    check_zip,
    encrypted_error,
    file_subject,
    ods_encrypted,
    xlsx_has_macros,
)
from mailbot.annex.grid import read_grid, scan_limit
from mailbot.annex.ole2 import OLE2_MAGIC, ole2_stream_names, xls_encrypted
from mailbot.annex.pool import annex_pool, unreadable_error
from mailbot.annex.sniff import EXTENSION_FORMATS, describe_content, sniff_spreadsheet
from workflows.annex.rules import AnnexError, validate_rows

if TYPE_CHECKING:
    from mailbot.config import LimitsConfig

log = logging.getLogger(__name__)

FORMATS = ("xlsx", "ods", "xls", "csv")
_MACROS_IGNORED = (
    "Le fichier contient des macros : macros ignorées (elles ne sont jamais exécutées ; seules "
    "les valeurs des cellules ont été lues)."
)


@dataclass(frozen=True)
class AnnexLimits:
    """Bounds on what an annex may cost; built from `[limits]` (`LimitsConfig`), the one
    place their defaults live."""

    max_rows: int
    max_cell_chars: int
    max_file_bytes: int
    max_zip_entries: int
    max_uncompressed_bytes: int
    timeout_seconds: float
    memory_mb: int
    # Accept addresses under special-use domains such as .test (the demo and the tests only).
    allow_test_domains: bool
    # The warm sandbox: how many workers at most (0: a fresh child per annex), and how many
    # jobs a worker serves before it is replaced.
    workers: int = 1
    worker_max_jobs: int = 500

    @classmethod
    def from_config(cls, limits: LimitsConfig | None = None) -> AnnexLimits:
        if limits is None:
            # Imported here: the sandboxed child imports this module and never needs pydantic.
            from mailbot.config import LimitsConfig  # noqa: PLC0415

            limits = LimitsConfig()
        return cls(
            max_rows=limits.annex_max_rows,
            max_cell_chars=limits.annex_max_cell_chars,
            max_file_bytes=limits.max_attachment_bytes,
            max_zip_entries=limits.annex_max_zip_entries,
            max_uncompressed_bytes=limits.annex_max_uncompressed_bytes,
            timeout_seconds=limits.annex_parse_timeout_seconds,
            memory_mb=limits.annex_parse_memory_mb,
            allow_test_domains=limits.annex_allow_test_domains,
            workers=limits.annex_workers,
            worker_max_jobs=limits.annex_worker_max_jobs,
        )


# --- parsing ----------------------------------------------------------------------------------


def result_skeleton(fmt: str | None, sheet: str | None = None) -> dict[str, Any]:
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
    if extension in EXTENSION_FORMATS and EXTENSION_FORMATS[extension] != fmt:
        return [
            f"{file_subject(filename)} est en réalité un fichier {fmt.upper()} "
            f"(et non {extension.upper()}) : il a été lu comme tel."
        ]
    return []


class AnnexResult(dict[str, Any]):
    """The JSON object of CONTRACTS.md, and the reviewers' values-only workbook the worker
    wrote when asked (`values_copy`: not part of the object, never serialised with it)."""

    values_copy: bytes | None = None


def parse_annex_bytes(
    data: bytes, filename: str | None, limits: AnnexLimits, *, values_copy: bool = False
) -> AnnexResult:
    """The JSON object of CONTRACTS.md for these bytes. Never raises for bad input (an
    OSError when the child cannot even be started is the machine's fault, not the file's).
    `values_copy`: the worker also writes the reviewers' copy when the table has rows."""
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
        result = run_isolated(data, fmt, filename, limits, values_copy=values_copy)
    except AnnexError as exc:
        log.info("annex refused: %s (%s)", exc.reason, exc.english)
        result = AnnexResult(result_skeleton(fmt))
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


# --- the sandboxed worker's side ---------------------------------------------------------------


def run_isolated(
    data: bytes,
    fmt: str,
    filename: str | None,
    limits: AnnexLimits,
    *,
    fault: str | None = None,
    values_copy: bool = False,
) -> AnnexResult:
    """Read and validate in a sandboxed worker process (`mailbot.annex.pool`); `fault`
    ("abort", "hang", "memory", "bloat") is a test-only hook that makes the worker misbehave on
    purpose."""
    request = {
        "format": fmt,
        "filename": filename,
        "limits": asdict(limits),
        "fault": fault,
        "values_copy": values_copy,
    }
    result = annex_pool().run(request, data, limits)
    copy = result.pop("values_copy", None) if isinstance(result, dict) else None
    if not isinstance(result, dict) or set(result) != set(result_skeleton(None)):
        raise unreadable_error(file_subject(filename), "worker wrote an unexpected object")
    out = AnnexResult(result)
    if isinstance(copy, str):
        out.values_copy = base64.b64decode(copy, validate=True)
    return out


def blank_template_bytes(limits: AnnexLimits) -> bytes:
    """The official blank annex, written by a worker: spreadsheets are read and written in the
    workers, so the daemon does not load openpyxl (docs/benchmarks.md). AnnexError or OSError
    when no worker could write it."""
    request = {"job": "blank_template", "limits": asdict(limits)}
    result = annex_pool().run(request, b"", limits)
    template = result.get("template") if isinstance(result, dict) else None
    if not isinstance(template, str):
        raise unreadable_error("le modèle", "worker wrote no template")
    return base64.b64decode(template, validate=True)


def read_and_validate(
    data: bytes, fmt: str, filename: str | None, limits: AnnexLimits
) -> dict[str, Any]:
    """The child's work: read the grid, validate it, answer the contract's object."""
    subject = file_subject(filename)
    result = result_skeleton(fmt)
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
        raise  # a limit breach: the worker answers it and is recycled
    except Exception as exc:
        if _caused_by_memory(exc):
            raise MemoryError from exc  # any library failure is an unreadable file; say why when known
        print(f"annex read failed: {exc!r}"[:2000], file=sys.stderr)
        result["error"] = _library_failure(exc, subject)
        return result
    result.update(rows=table.rows, errors=table.errors, warnings=table.warnings)
    if table.error:
        result.update(rows=[], errors=[], error=table.error)
    return result


def _caused_by_memory(exc: BaseException) -> bool:
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, MemoryError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _library_failure(exc: BaseException, subject: str) -> str:
    """The French reason for a library's exception, looking through its chain (openpyxl
    wraps what defusedxml raises in a ValueError)."""
    # Imported here: only the sandboxed child process parses, so only it needs defusedxml.
    from defusedxml import DefusedXmlException  # noqa: PLC0415

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
        cause = cause.__cause__ or cause.__context__
    return unreadable_error(subject, repr(exc)).french


def memory_error(subject: str, limits: AnnexLimits) -> str:
    return (
        f"{subject} demande trop de mémoire pour être lu (plus de {limits.memory_mb} Mo) : il "
        "est trop volumineux ou mal formé. Merci de nous renvoyer seulement le tableau rempli."
    )


__all__ = [
    "FORMATS",
    "AnnexLimits",
    "AnnexResult",
    "blank_template_bytes",
    "describe_content",
    "exit_code",
    "parse_annex_bytes",
    "run_isolated",
    "sniff_spreadsheet",
    "too_big_error",
]
