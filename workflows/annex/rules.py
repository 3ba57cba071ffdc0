"""The subscription annex as a grid of cells: header matching, normalisation, validation.

Pure: no file I/O. The reader (`mailbot.annex.reader`) turns a spreadsheet into rows of cell
values (str, int, float, bool, dates, None) with their sheet row numbers; this module finds the
header, maps labels to fields the way a person edits them, and validates each person.
Messages for people are French; the structure follows CONTRACTS.md
("`mailbot annex parse FILE --json`").
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

from workflows.annex.errors import TEMPLATE_HINT, AnnexError
from workflows.annex.fields import (
    CellValue,
    cell_text,
    is_number,
    luhn_ok,
    normalise_email,
    normalise_insee,
    normalise_label,
    normalise_phone,
    normalise_siren,
    parse_requester_type,
    parse_yes_no,
)
from workflows.annex.header import (
    FIELDS,
    REQUIRED_FIELDS,
    TEMPLATE_LABELS,
    Header,
    Row,
    field_for_label,
    find_header,
    match_header,
)

__all__ = [
    "FIELDS",
    "REQUIRED_FIELDS",
    "TEMPLATE_LABELS",
    "AnnexError",
    "AnnexTable",
    "CellValue",
    "Header",
    "cell_text",
    "field_for_label",
    "find_header",
    "is_number",
    "luhn_ok",
    "match_header",
    "normalise_email",
    "normalise_insee",
    "normalise_label",
    "normalise_phone",
    "normalise_siren",
    "parse_requester_type",
    "parse_yes_no",
    "validate_rows",
]
_QUOTED_MAX = 80  # characters of a cell quoted back in a message
_VALUE_MAX = 200  # characters of a cell kept in an error's "value"


# ---------------------------------------------------------------------------------------------
# Validation


@dataclass
class AnnexTable:
    """What a validated grid gives: the contract's rows, errors, warnings and error."""

    rows: list[dict[str, object]] = field(default_factory=list)
    errors: list[dict[str, object]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def quote(text: str, limit: int = _QUOTED_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class _RowCheck:
    number: int
    header: Header
    values: dict[str, CellValue]
    columns: dict[str, int]
    errors: list[dict[str, object]] = field(default_factory=list)

    def position(self, error: dict[str, object]) -> int:
        """Left to right, as the sender reads the row (a missing column goes last)."""
        name = str(error["field"])
        return self.columns.get(name, 100_000 + FIELDS.index(name))

    def fail(self, name: str, detail: str, *, quoted: bool = True) -> None:
        text = cell_text(self.values.get(name))
        label = self.header.labels.get(self.columns.get(name, -1), TEMPLATE_LABELS[name])
        prefix = f"La ligne {self.number}, colonne « {label} » : "
        body = f"« {quote(text)} » {detail}" if quoted and text else detail
        self.errors.append(
            {
                "row": self.number,
                "field": name,
                "column": label,
                "value": quote(text, _VALUE_MAX),
                "message": prefix + body + ".",
            }
        )


def _pick(cells: Sequence[CellValue], cols: list[int]) -> tuple[CellValue, int]:
    """First non-empty cell among the columns of a field (two phone columns, say)."""
    for col in cols:
        if col < len(cells) and cell_text(cells[col]):
            return cells[col], col
    return None, cols[0]


def _missing_columns_error(header: Header) -> AnnexError | None:
    missing = [TEMPLATE_LABELS[n] for n in REQUIRED_FIELDS if n not in header.columns]
    if not missing:
        return None
    quoted = [f"« {m} »" for m in missing]  # every one of them, in the template's order
    names = " et ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)
    plural = "les colonnes obligatoires" if len(missing) > 1 else "la colonne obligatoire"
    return AnnexError(
        "missing_column",
        f"Il manque {plural} {names} dans l'en-tête du tableau (ligne {header.row}). "
        + TEMPLATE_HINT,
        f"missing required columns: {missing}",
    )


def header_warnings(header: Header) -> list[str]:
    """French notes on ignored and duplicated columns, and on absent optional ones."""
    notes = [
        f"La colonne « {quote(header.labels[c])} » n'est pas reconnue : elle a été ignorée."
        for c in header.unknown
    ]
    for cols in header.columns.values():
        for col in cols[1:]:
            notes.append(
                f"Les colonnes « {header.labels[cols[0]]} » et « {quote(header.labels[col])} » "
                "désignent la même information : la seconde n'est lue que si la première est vide."
            )
    for name in ("desta", "antai"):
        if name not in header.columns:
            notes.append(
                f"La colonne « {TEMPLATE_LABELS[name]} » est absente : l'accès à cet espace "
                "n'est demandé pour personne."
            )
    return notes


def row_limit_error(max_rows: int) -> AnnexError:
    return AnnexError(
        "too_many_rows",
        f"Le tableau compte plus de {max_rows} personnes, la limite par demande : merci de le "
        f"scinder en plusieurs envois de {max_rows} lignes au plus.",
        f"more than {max_rows} people",
    )


def validate_rows(
    header: Header,
    rows: Iterable[Row],
    *,
    max_rows: int = 200,
    max_cell_chars: int = 500,
    uncalculated: Collection[tuple[int, int]] = (),
    truncated: bool = False,
    allow_test_domains: bool = False,
) -> AnnexTable:
    """Validate the rows below the header (sheet row numbers given) into the contract's shape.

    `uncalculated` holds (row, column) of formulas saved without a computed value: they are
    never evaluated, and a field that holds one is reported. `truncated` says the reader
    stopped before the end of the sheet (a sheet too large to be a request).
    `allow_test_domains` accepts addresses under special-use domains such as `.test` (the demo
    and the tests only: they are not deliverable on the Internet).
    """
    table = AnnexTable(warnings=header_warnings(header))
    try:
        missing = _missing_columns_error(header)
        if missing:
            raise missing
        if truncated:
            raise row_limit_error(max_rows)
        _validate_people(
            header, rows, table, max_rows, max_cell_chars, set(uncalculated), allow_test_domains
        )
    except AnnexError as exc:
        return AnnexTable(warnings=table.warnings, error=exc.french)
    return table


def _validate_people(
    header: Header,
    rows: Iterable[Row],
    table: AnnexTable,
    max_rows: int,
    max_cell_chars: int,
    uncalculated: set[tuple[int, int]],
    allow_test_domains: bool = False,
) -> None:
    people = 0
    seen_emails: dict[str, int] = {}
    seen_names: dict[tuple[str, str, str], int] = {}
    for number, cells in rows:
        filled = [c for c in cells if cell_text(c)]
        if not filled:
            continue
        picked = {name: _pick(cells, cols) for name, cols in header.columns.items()}
        mapped = [name for name, (value, _) in picked.items() if cell_text(value)]
        if not mapped or len(filled) == 1:
            table.warnings.append(
                f"La ligne {number} ne contient qu'une note (« {quote(cell_text(filled[0]))} ») "
                "et non une personne : elle a été ignorée."
            )
            continue
        people += 1
        if people > max_rows:
            raise row_limit_error(max_rows)
        check = _RowCheck(
            number=number,
            header=header,
            values={name: value for name, (value, _) in picked.items()},
            columns={name: col for name, (_, col) in picked.items()},
        )
        person = _check_person(
            check, max_cell_chars, uncalculated, table.warnings, allow_test_domains
        )
        _check_duplicates(check, person, seen_emails, seen_names, table.warnings)
        if check.errors:
            table.errors.extend(sorted(check.errors, key=check.position))
        else:
            table.rows.append(person)
    if people == 0:
        raise AnnexError(
            "no_person",
            "Le tableau ne contient aucune personne : merci d'indiquer une personne par ligne, "
            "sous la ligne d'en-tête.",
            "no person in the table",
        )


def _check_person(
    check: _RowCheck,
    max_cell_chars: int,
    uncalculated: set[tuple[int, int]],
    notes: list[str],
    allow_test_domains: bool = False,
) -> dict[str, object]:
    person: dict[str, object] = {"row": check.number}
    usable: dict[str, CellValue] = {}
    for name in FIELDS:
        if name not in check.header.columns:
            continue
        value = check.values.get(name)
        if (check.number, check.columns[name]) in uncalculated and not cell_text(value):
            check.fail(
                name,
                "la cellule contient une formule enregistrée sans valeur calculée (les formules "
                "ne sont jamais calculées à la lecture) : merci d'y saisir la valeur elle-même",
            )
        elif len(cell_text(value)) > max_cell_chars:
            check.fail(name, f"la valeur dépasse {max_cell_chars} caractères", quoted=False)
        else:
            usable[name] = value
    _fill_person(check, usable, person, notes, allow_test_domains)
    return person


def _text_or_none(value: CellValue) -> str | None:
    return cell_text(value) or None


def _fill_person(
    check: _RowCheck,
    values: dict[str, CellValue],
    person: dict[str, object],
    notes: list[str],
    allow_test_domains: bool = False,
) -> None:
    failed = {e["field"] for e in check.errors}

    def required(name: str) -> bool:
        if name in failed:
            return False
        if not cell_text(values.get(name)):
            check.fail(name, "cette information est obligatoire", quoted=False)
            return False
        return True

    kind = None
    if required("requester_type"):
        kind = parse_requester_type(cell_text(values["requester_type"]))
        if kind is None:
            check.fail(
                "requester_type",
                "n'est pas un type de demandeur reconnu : indiquez « Collectivité » ou "
                "« Prestataire »",
            )
    person["requester_type"] = kind
    person["organisation"] = cell_text(values["organisation"]) if required("organisation") else None
    behalf = _text_or_none(values.get("on_behalf_of"))
    if kind == "prestataire" and not behalf and "on_behalf_of" not in failed:
        check.fail(
            "on_behalf_of",
            "cette information est obligatoire pour un prestataire (la collectivité pour le "
            "compte de laquelle il intervient)",
            quoted=False,
        )
    person["on_behalf_of"] = behalf
    person["siren"] = None
    if required("siren"):
        siren, detail, note = normalise_siren(values["siren"])
        if detail:
            check.fail("siren", detail)
        if note:
            notes.append(f"La ligne {check.number} : {note}.")
        person["siren"] = siren
    person["insee_code"] = _optional(check, values, "insee_code", normalise_insee)
    person["last_name"] = cell_text(values["last_name"]) if required("last_name") else None
    person["first_name"] = cell_text(values["first_name"]) if required("first_name") else None
    person["job_title"] = _text_or_none(values.get("job_title"))
    person["email"] = None
    if required("email"):
        email, detail = normalise_email(cell_text(values["email"]), allow_test_domains)
        if detail:
            check.fail("email", detail)
        person["email"] = email
    person["phone"] = _optional(check, values, "phone", normalise_phone)
    person["spaces"] = _wanted_spaces(check, values)


def _wanted_spaces(check: _RowCheck, values: dict[str, CellValue]) -> list[str]:
    spaces = ["accueil"]
    for space in ("desta", "antai"):
        if space in values:
            wanted = parse_yes_no(values[space])
            if wanted is None:
                check.fail(space, "n'est pas compris : indiquez « Oui » ou « Non »")
            elif wanted:
                spaces.append(space)
    return spaces


def _optional(
    check: _RowCheck,
    values: dict[str, CellValue],
    name: str,
    normalise: Callable[[CellValue], tuple[str | None, str | None]],
) -> str | None:
    value = values.get(name)
    if not cell_text(value):
        return None
    result, detail = normalise(value)
    if detail:
        check.fail(name, detail)
    return result


def _check_duplicates(
    check: _RowCheck,
    person: dict[str, object],
    seen_emails: dict[str, int],
    seen_names: dict[tuple[str, str, str], int],
    notes: list[str],
) -> None:
    email = person.get("email")
    if isinstance(email, str):
        if email in seen_emails:
            check.fail(
                "email",
                f"figure déjà à la ligne {seen_emails[email]} : une personne ne peut être "
                "inscrite qu'une fois",
            )
        else:
            seen_emails[email] = check.number
    name_key = tuple(
        normalise_label(str(person.get(k) or ""))
        for k in ("last_name", "first_name", "organisation")
    )
    if all(name_key):
        key = (name_key[0], name_key[1], name_key[2])
        if key in seen_names:
            notes.append(
                f"Les lignes {seen_names[key]} et {check.number} semblent désigner la même "
                f"personne ({person['first_name']} {person['last_name']}) avec deux adresses "
                "différentes : merci de vérifier qu'il ne s'agit pas d'un doublon."
            )
        else:
            seen_names[key] = check.number
