"""Spreadsheet formula injection: text that a spreadsheet program would run as a formula.

An annex cell is stored as written (`=HYPERLINK(…)` stays that text in the case record), but
wherever a value is shown or written back into a spreadsheet (reviewer mails, the values-only
copy of the annex sent to reviewers, CSV/xlsx exports) a text that starts with `=`, `+`, `-`,
`@`, a tab or a carriage return is prefixed with a quote `'`, so no program evaluates it
(OWASP "CSV injection"). A plain number is left alone: an E.164 phone such as `+33123456789`
is a value, not a formula, and stays readable.
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")
COPY_SUFFIX = "-valeurs"


def is_formula_like(value: str) -> bool:
    """True when a spreadsheet would read `value` as a formula (or a DDE command)."""
    return value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value)


def escape_formula(value: str) -> str:
    """`value` as it may be shown or exported: a formula-like text gets a leading quote."""
    return ESCAPE + value if is_formula_like(value) else value


def escape_optional(value: str | None) -> str | None:
    return None if value is None else escape_formula(value)


def copy_filename(original: str | None) -> str:
    """The name of the values-only copy of an annex: the original's stem with a suffix, always
    `.xlsx` (`annexe.xlsm` → `annexe-valeurs.xlsx`)."""
    name = (original or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem.strip(" .") or "annexe"
    return f"{stem}{COPY_SUFFIX}.xlsx"
