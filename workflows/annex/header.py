"""Finding the header row of an annex wherever it stands, and the field each column label means
(label variants, accents and case ignored)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from workflows.annex.fields import (
    CellValue,
    cell_text,
    normalise_label,
)

Row = tuple[int, Sequence[CellValue]]

# Field names, in the order of the official template, with the template's labels.
TEMPLATE_LABELS: dict[str, str] = {
    "requester_type": "Type de demandeur",
    "organisation": "Nom de la collectivité ou du prestataire",
    "on_behalf_of": "Collectivité représentée",
    "siren": "SIREN",
    "insee_code": "Code INSEE",
    "last_name": "Nom",
    "first_name": "Prénom",
    "job_title": "Fonction",
    "email": "Courriel",
    "phone": "Téléphone",
    "desta": "Espace DESTA",
    "antai": "Espace ANTAI",
}
FIELDS: tuple[str, ...] = tuple(TEMPLATE_LABELS)
REQUIRED_FIELDS: tuple[str, ...] = (
    "requester_type",
    "organisation",
    "siren",
    "last_name",
    "first_name",
    "email",
)
HEADER_SCAN_ROWS = 30  # the header is looked for in the first rows of each sheet
_MIN_HEADER_FIELDS = 3

# ---------------------------------------------------------------------------------------------
# Labels

_ORG_WORDS = {
    "collectivite",
    "collectivites",
    "prestataire",
    "organisme",
    "structure",
    "entite",
    "societe",
    "entreprise",
    "etablissement",
    "organisation",
    "raison",
    "denomination",
    "employeur",
    "commune",
    "epci",
}
_JOB_WORDS = {"fonction", "fonctions", "poste", "qualite", "titre", "emploi", "role", "grade"}
_MAIL_WORDS = {"courriel", "mail", "email", "mel", "messagerie", "electronique"}
_PHONE_WORDS = {"telephone", "tel", "portable", "mobile", "fixe", "telephonique"}
_BEHALF_WORDS = {"representee", "represente", "representees", "mandante", "cliente"}


@lru_cache(maxsize=512)
def field_for_label(label: str) -> str | None:
    """The field a header label names, or None. Order matters: the most specific first.
    (Cached: the same few labels come back in every annex a worker reads.)"""
    norm = normalise_label(label)
    words = norm.split()
    if not words or len(words) > 10:  # a sentence (a title row), not a label
        return None
    w = set(words)
    code = _code_field(norm, w)
    if code is not None:
        return code
    if w & _MAIL_WORDS:
        return "email"
    if w & _PHONE_WORDS:
        return "phone"
    if "prenom" in w:
        return None if "nom" in w else "first_name"  # "Nom et prénom" in one column: unusable
    return _role_field(norm, w, words)


def _code_field(norm: str, w: set[str]) -> str | None:
    """The identifiers: SIREN, INSEE code, the spaces' columns."""
    if w & {"siren", "siret"}:
        return "siren"
    if "insee" in w or norm in {"cog", "code officiel geographique", "code geographique"}:
        return "insee_code"
    if "code" in w and "commune" in w and "postal" not in w:
        return "insee_code"
    for space in ("desta", "antai"):
        if space in w:
            return space
    return None


def _role_field(norm: str, w: set[str], words: list[str]) -> str | None:
    """On whose behalf, the requester's type, job title, organisation, last name: in that order."""
    if w & _BEHALF_WORDS or "pour le compte" in norm:
        return "on_behalf_of"
    if w & {"type", "categorie", "nature", "statut"} or norm in {
        "collectivite prestataire",
        "collectivite ou prestataire",
    }:
        return "requester_type"
    if w & _JOB_WORDS:
        return "job_title"
    if w & _ORG_WORDS:
        return "organisation"
    if words[0] == "nom" or norm in {"patronyme", "nom de famille"}:
        return "last_name"
    return None


@dataclass(frozen=True)
class Header:
    """Where the table starts and which column holds which field."""

    row: int  # sheet row number of the (last) header row; data starts below
    columns: dict[str, list[int]]  # field -> column indexes (0-based), first one preferred
    labels: dict[int, str]  # column index -> label as written
    unknown: list[int]  # columns with a label that names no field

    @property
    def score(self) -> int:
        return len(self.columns)

    def label(self, name: str) -> str:
        cols = self.columns.get(name)
        return self.labels[cols[0]] if cols else TEMPLATE_LABELS[name]


def _header_from_labels(row: int, labels: dict[int, str]) -> Header:
    columns: dict[str, list[int]] = {}
    unknown: list[int] = []
    for col in sorted(labels):
        name = field_for_label(labels[col])
        if name is None:
            unknown.append(col)
        else:
            columns.setdefault(name, []).append(col)
    return Header(row=row, columns=columns, labels=labels, unknown=unknown)


def _labels(cells: Sequence[CellValue]) -> dict[int, str]:
    return {i: t for i, c in enumerate(cells) if c is not None and (t := cell_text(c))}


def match_header(cells: Sequence[CellValue]) -> dict[str, int] | None:
    """Field -> column index when this row looks like the annex's header row, else None."""
    header = _header_from_labels(0, _labels(cells))
    if not _is_header(header):
        return None
    return {name: cols[0] for name, cols in header.columns.items()}


def _is_header(header: Header) -> bool:
    required = sum(1 for name in REQUIRED_FIELDS if name in header.columns)
    return header.score >= _MIN_HEADER_FIELDS and required >= 2


def find_header(rows: Sequence[Row]) -> Header | None:
    """The best header among the first rows of a sheet, or None.

    A two-row header (a merged "Espaces demandés" above "DESTA" / "ANTAI") is read by taking,
    for each column, the lower label when there is one.
    """
    best: Header | None = None
    scan = list(rows[:HEADER_SCAN_ROWS])
    labels_of = [_labels(cells) for _, cells in scan]  # each row's, read once
    for i, (number, _cells) in enumerate(scan):
        labels = labels_of[i]
        if not labels:
            continue
        candidate = _header_from_labels(number, labels)
        if i + 1 < len(scan):
            below = labels_of[i + 1]
            if below and "email" not in _header_from_labels(0, below).columns:
                merged = _header_from_labels(scan[i + 1][0], labels | below)
                if merged.score > candidate.score:
                    candidate = merged
        if _is_header(candidate) and (best is None or candidate.score > best.score):
            best = candidate
    return best
