"""The admins' export (`mailbot export` and the download on `/admin/statistiques`): one xlsx
workbook (openpyxl) with three sheets, headers in French, every text cell neutralised with
`escape_formula` (text from strangers' mail must never run as a formula in a spreadsheet).

- « Dossiers »: the cases received in the period.
- « Personnes et comptes »: the people whose invitation (account) was sent in the period,
  from the subscription cases' records, with their first login read through `Portal`.
- « Questions-réponses »: the Q&A versions published in the period.

The period is Paris days: from `since` 00:00 to the end of `until` (both included).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlmodel import Session, col, select

from mailbot.portal import Portal
from storage.models import Case, CaseEvent, Publication
from workflows.annex.formulas import escape_formula
from workflows.calendar import at_paris_time, in_paris
from workflows.casework import space_label
from workflows.records import QuestionRecord, SubscriptionRecord, record_from_json
from workflows.stats import CaseFacts, Transition

CASE_HEADERS = (
    "Référence",
    "Nature",
    "État",
    "Espace",
    "Groupe",
    "Relecteur",
    "Demandeur",
    "Objet",
    "Reçu le",
    "Première réponse le",
    "Décision le",
    "Clos le",
    "Échéance",
    "En retard",
)
PEOPLE_HEADERS = (
    "Dossier",
    "N°",
    "Nom",
    "Prénom",
    "Courriel",
    "Fonction",
    "Type de demandeur",
    "Organisme",
    "Pour le compte de",
    "SIREN",
    "Code INSEE",
    "Téléphone",
    "Espaces",
    "Invitation",
    "Invitation envoyée le",
    "Compte existant",
    "Première connexion le",
)
QA_HEADERS = (
    "Dossier",
    "Version",
    "Espace",
    "Question publiée",
    "Réponse publiée",
    "Adresse sur le portail",
    "Publiée le",
    "Retirée le",
)
SHEETS = ("Dossiers", "Personnes et comptes", "Questions-réponses")

KINDS = {"question": "Question", "subscription": "Abonnement"}
STATES = {
    "received": "reçu",
    "incomplete": "tableau attendu",
    "under_review": "en attente de relecture",
    "needs_info": "pièces demandées",
    "approved": "approuvé, comptes en création",
    "invited": "invitations envoyées",
    "refused": "refusé",
    "closed": "clos",
    "open": "en attente de réponse",
    "held": "réponse en attente de publication",
    "publishing": "réponse en cours de publication",
    "answered": "répondu, clos",
}
INVITATIONS = {
    "sent": "envoyée, en attente",
    "existing": "compte déjà existant",
    "used": "utilisée",
    "expired": "expirée",
    "failed": "échec",
}
REQUESTER_TYPES = {"collectivite": "collectivité", "prestataire": "prestataire"}

Progress = Callable[[str, int], None]  # (sheet, rows written so far) after each row


@dataclass(frozen=True)
class Period:
    since: date
    until: date

    @property
    def start(self) -> datetime:
        return at_paris_time(self.since, 0)

    @property
    def end(self) -> datetime:
        return at_paris_time(self.until + timedelta(days=1), 0)

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end


def _cell(value: Any) -> Any:
    """What goes into a cell: text neutralised, dates as naive Paris time, None empty."""
    if isinstance(value, str):
        return escape_formula(value)
    if isinstance(value, datetime):
        return in_paris(value).replace(tzinfo=None)
    return value


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _facts(case: Case, transitions: Sequence[Transition]) -> CaseFacts:
    return CaseFacts(
        case.ref,
        case.kind,
        case.space,
        case.group,
        case.assignee,
        case.created_at,
        case.closed_at,
        case.due_at,
        tuple(transitions),
    )


def case_rows(session: Session, period: Period, now: datetime) -> list[list[Any]]:
    cases = session.exec(
        select(Case)
        .where(col(Case.created_at) >= period.start, col(Case.created_at) < period.end)
        .order_by(col(Case.created_at), col(Case.id))
    ).all()
    refs = [c.ref for c in cases]
    moves: dict[str, list[Transition]] = {ref: [] for ref in refs}
    for event in session.exec(
        select(CaseEvent)
        .where(CaseEvent.event == "state", col(CaseEvent.case_ref).in_(refs))
        .order_by(col(CaseEvent.at), col(CaseEvent.id))
    ).all():
        data = event.data or {}
        moves[event.case_ref].append(
            Transition(event.at, str(data.get("from", "")), str(data.get("to", "")))
        )
    rows = []
    for case in cases:
        facts = _facts(case, moves[case.ref])
        rows.append(
            [
                case.ref,
                KINDS.get(case.kind, case.kind),
                STATES.get(case.state, case.state),
                space_label(case.space) if case.kind == "question" else "",
                case.group,
                case.assignee,
                case.requester,
                case.subject,
                case.created_at,
                facts.first_answer_at,
                facts.decided_at,
                case.closed_at,
                case.due_at,
                "oui" if facts.overdue(now) else "non",
            ]
        )
    return rows


def people_rows(session: Session, period: Period, portal: Portal | None) -> list[list[Any]]:
    cases = session.exec(
        select(Case)
        .where(Case.kind == "subscription", col(Case.updated_at) >= period.start)
        .order_by(col(Case.created_at), col(Case.id))
    ).all()
    found: list[tuple[str, Any, Any]] = []
    for case in cases:
        record = record_from_json(case.kind, case.data)
        assert isinstance(record, SubscriptionRecord)
        for person in record.people:
            invitation = record.invitations.get(person.email)
            if invitation is not None and period.holds(_when(invitation.sent_at)):
                found.append((case.ref, person, invitation))
    accounts = portal.find_accounts([p.email for _, p, _ in found]) if portal and found else {}
    rows = []
    for ref, person, invitation in found:
        account = accounts.get(person.email)
        rows.append(
            [
                ref,
                person.number,
                person.last_name,
                person.first_name,
                person.email,
                person.job_title,
                REQUESTER_TYPES.get(person.requester_type or "", person.requester_type),
                person.organisation,
                person.on_behalf_of,
                person.siren,
                person.insee_code,
                person.phone,
                ", ".join(space_label(s) for s in invitation.spaces or person.spaces),
                INVITATIONS.get(invitation.status, invitation.status),
                _when(invitation.sent_at),
                "oui" if account is not None else "non",
                account.first_login_at if account is not None else None,
            ]
        )
    return rows


def qa_rows(session: Session, period: Period) -> list[list[Any]]:
    pubs = session.exec(
        select(Publication)
        .where(
            col(Publication.published_at) >= period.start,
            col(Publication.published_at) < period.end,
        )
        .order_by(col(Publication.published_at), col(Publication.id))
    ).all()
    answers: dict[str, str | None] = {}
    for ref in {p.case_ref for p in pubs}:
        case = session.exec(select(Case).where(Case.ref == ref)).first()
        record = record_from_json("question", case.data) if case is not None else None
        answers[ref] = record.published_answer if isinstance(record, QuestionRecord) else None
    return [
        [
            p.case_ref,
            p.version,
            space_label(p.space),
            p.question,
            answers.get(p.case_ref),
            p.url,
            p.published_at,
            p.withdrawn_at,
        ]
        for p in pubs
    ]


def _sheet(book: Workbook, title: str, headers: Iterable[str], first: bool) -> Any:
    sheet = book.active if first else book.create_sheet()
    sheet.title = title
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    return sheet


def _fill(sheet: Any, rows: list[list[Any]], progress: Progress | None) -> None:
    for index, row in enumerate(rows, start=1):
        sheet.append([_cell(v) for v in row])
        if progress is not None:
            progress(sheet.title, index)
    for column, cell in enumerate(sheet[1], start=1):
        if cell.value is not None:
            sheet.column_dimensions[get_column_letter(column)].width = max(12, len(cell.value) + 4)
        for row in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
            if isinstance(row[0].value, datetime):
                row[0].number_format = "dd/mm/yyyy hh:mm"


def collect(
    session: Session, period: Period, now: datetime, portal: Portal | None
) -> dict[str, list[list[Any]]]:
    """The rows of each sheet, by sheet title."""
    return {
        SHEETS[0]: case_rows(session, period, now),
        SHEETS[1]: people_rows(session, period, portal),
        SHEETS[2]: qa_rows(session, period),
    }


def build_workbook(rows: dict[str, list[list[Any]]], progress: Progress | None = None) -> Workbook:
    book = Workbook()
    for index, (title, headers) in enumerate(
        zip(SHEETS, (CASE_HEADERS, PEOPLE_HEADERS, QA_HEADERS), strict=True)
    ):
        _fill(_sheet(book, title, headers, index == 0), rows[title], progress)
    return book


def export_bytes(rows: dict[str, list[list[Any]]]) -> bytes:
    buffer = io.BytesIO()
    build_workbook(rows).save(buffer)
    return buffer.getvalue()


def write_export(
    path: Path, rows: dict[str, list[list[Any]]], progress: Progress | None = None
) -> None:
    build_workbook(rows, progress).save(path)
