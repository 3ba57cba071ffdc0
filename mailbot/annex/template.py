"""The official blank annex: the table a local authority fills in to ask for portal accounts."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from workflows.annex.rules import FIELDS, REQUIRED_FIELDS, TEMPLATE_LABELS

SHEET = "Demande"
HELP_SHEET = "Mode d'emploi"
DATA_ROWS = 200  # the default row limit: the lists and text formats cover these rows
TEXT_FIELDS = ("siren", "insee_code", "phone")  # text, so no leading zero is ever lost

_WIDTHS = {
    "requester_type": 20,
    "organisation": 38,
    "on_behalf_of": 30,
    "siren": 13,
    "insee_code": 12,
    "last_name": 20,
    "first_name": 18,
    "job_title": 26,
    "email": 34,
    "phone": 18,
    "desta": 14,
    "antai": 14,
}

# (what to write, example) for each column, in French, for the "Mode d'emploi" sheet.
HELP: dict[str, tuple[str, str]] = {
    "requester_type": (
        "« Collectivité » si vous demandez l'accès pour votre collectivité, « Prestataire » si "
        "vous intervenez pour le compte d'une collectivité (éditeur, délégataire…).",
        "Collectivité",
    ),
    "organisation": (
        "Le nom de votre collectivité (commune, EPCI…) ou de votre société.",
        "Commune d'Exempleville",
    ),
    "on_behalf_of": (
        "Pour un prestataire seulement, et alors obligatoire : la collectivité pour le compte "
        "de laquelle vous intervenez.",
        "Commune d'Exempleville",
    ),
    "siren": (
        "Le numéro SIREN de la collectivité ou de la société : 9 chiffres (on le trouve sur "
        "annuaire-entreprises.data.gouv.fr).",
        "217500016 (Ville de Paris)",
    ),
    "insee_code": (
        "Le code INSEE de la commune (5 caractères, à ne pas confondre avec le code postal ; "
        "2A/2B pour la Corse). Laissez vide pour un EPCI ou une société.",
        "75056 (Paris)",
    ),
    "last_name": ("Le nom de famille de la personne à inscrire.", "MARTIN"),
    "first_name": ("Son prénom.", "Camille"),
    "job_title": ("Sa fonction (facultatif).", "Responsable du stationnement"),
    "email": (
        "Son adresse électronique professionnelle, une seule par ligne : elle sera son "
        "identifiant sur le portail.",
        "camille.martin@exempleville.fr",
    ),
    "phone": (
        "Son numéro de téléphone (facultatif), par exemple 01 23 45 67 89 ; les numéros "
        "d'outre-mer (0262, 0590, 0596…) sont acceptés.",
        "01 99 00 12 34",
    ),
    "desta": (
        "« Oui » pour accéder à l'espace DESTA (schémas des processus, SI de la CCSP, "
        "interfaces), sinon « Non ».",
        "Oui",
    ),
    "antai": (
        "« Oui » pour accéder à l'espace ANTAI (prestation de traitement des FPS), sinon « Non ».",
        "Non",
    ),
}

_INTRO = (
    "Demande d'abonnement au portail « Espace collectivités » — mode d'emploi",
    "Remplissez une ligne par personne à inscrire dans la feuille « Demande », sans modifier la "
    "ligne d'en-tête, puis renvoyez le fichier en pièce jointe de votre demande à "
    "decentralisation-stationnement@interieur.gouv.fr.",
    f"Au plus {DATA_ROWS} personnes par demande. Chaque personne reçoit l'accès à l'espace "
    "Accueil (textes législatifs et réglementaires) ; les espaces DESTA et ANTAI sont accordés "
    "selon les colonnes correspondantes.",
    "Après validation, chaque personne reçoit un courriel d'invitation avec son identifiant "
    "(son adresse électronique) et un mot de passe provisoire.",
    "Le fichier peut être enregistré au format Excel (.xlsx), OpenDocument (.ods) ou CSV. "
    "Les formules et les macros ne sont pas lues : saisissez les valeurs elles-mêmes.",
)

_HEADER_FILL = PatternFill("solid", fgColor="000091")  # the State's blue (DSFR "bleu France")
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_THIN = Side(style="thin", color="929292")


def _list_validation(values: str, title: str, prompt: str) -> DataValidation:
    check = DataValidation(type="list", formula1=f'"{values}"', allow_blank=True)
    check.error = f"Choisissez une valeur dans la liste : {values.replace(',', ' ou ')}."
    check.errorTitle = "Valeur non prévue"
    check.prompt = prompt
    check.promptTitle = title
    check.showErrorMessage = True
    check.showInputMessage = True
    return check


def _build_request_sheet(ws: Worksheet) -> None:
    ws.title = SHEET
    ws.append([TEMPLATE_LABELS[name] for name in FIELDS])
    for col, name in enumerate(FIELDS, start=1):
        letter = get_column_letter(col)
        cell = ws.cell(row=1, column=col)
        cell.fill, cell.font = _HEADER_FILL, _HEADER_FONT
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        cell.border = Border(bottom=_THIN, right=_THIN)
        ws.column_dimensions[letter].width = _WIDTHS[name]
        if name in TEXT_FIELDS:
            for row in range(2, DATA_ROWS + 2):
                ws.cell(row=row, column=col).number_format = "@"
    ws.row_dimensions[1].height = 32
    ws.freeze_panes = "A2"
    last = DATA_ROWS + 1
    kinds = _list_validation(
        "Collectivité,Prestataire", "Type de demandeur", "Collectivité ou Prestataire"
    )
    kinds.add(f"A2:A{last}")
    spaces = _list_validation("Oui,Non", "Accès à l'espace", "Oui ou Non")
    spaces.add(f"K2:L{last}")
    ws.add_data_validation(kinds)
    ws.add_data_validation(spaces)


def _build_help_sheet(ws: Worksheet) -> None:
    ws.title = HELP_SHEET
    ws.column_dimensions["A"].width = 38
    ws.column_dimensions["B"].width = 14
    ws.column_dimensions["C"].width = 90
    ws.column_dimensions["D"].width = 32
    title, *paragraphs = _INTRO
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=14)
    for text in paragraphs:
        ws.append([text])
        ws.merge_cells(start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=4)
        ws.cell(row=ws.max_row, column=1).alignment = Alignment(wrap_text=True)
        ws.row_dimensions[ws.max_row].height = 32
    ws.append([])
    ws.append(["Colonne", "Obligatoire", "Ce qu'il faut indiquer", "Exemple"])
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    for name in FIELDS:
        what, example = HELP[name]
        required = "Oui" if name in REQUIRED_FIELDS else "Non"
        if name == "on_behalf_of":
            required = "Pour un prestataire"
        ws.append([TEMPLATE_LABELS[name], required, what, example])
        for cell in ws[ws.max_row]:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def build_template() -> bytes:
    """The blank annex as xlsx bytes (attached to the reply to a subscription intent)."""
    wb = Workbook()
    _build_request_sheet(wb.active)
    _build_help_sheet(wb.create_sheet(HELP_SHEET))
    wb.properties.title = "Demande d'abonnement au portail Espace collectivités"
    wb.properties.creator = "Ministère de l'Intérieur"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
