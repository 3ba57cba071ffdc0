"""Reading cases for the admins (the desk's « Dossiers » and `mailbot cases list|show`): the
list with its filters and search, and one case whole: its timeline (every mail in from the
journal, every mail out from the outbox, every case event, each decision with who made it),
its annex as a table and its people with their portal accounts (`Portal.find_accounts`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from mailbot.config import Config
from mailbot.desk.case_labels import (
    EVENT_LABELS,
    REQUESTER_TYPES,
    TEMPLATE_LABELS,
    event_text,
)
from mailbot.mail.parse import parse_message
from mailbot.portal import Portal
from storage.models import Case, CaseEvent, InboundMessage, OutboxMail
from workflows.annex.formulas import escape_optional
from workflows.casework import space_label
from workflows.invitation_notice import notice_key
from workflows.labels import kind_label, state_label
from workflows.records import QuestionRecord, SubscriptionRecord, record_from_json
from workflows.text.fold import fold

MAX_LIST = 500
MAX_TEXT = 20_000  # characters of a mail shown in the timeline


@dataclass(frozen=True)
class Filters:
    """The list's filters; empty strings mean « all »."""

    kind: str = ""
    state: str = ""
    space: str = ""
    reviewer: str = ""
    overdue: bool = False
    q: str = ""


def _record(case: Case) -> SubscriptionRecord | QuestionRecord | None:
    try:
        record = record_from_json(case.kind, case.data or {})
    except (ValueError, KeyError, TypeError):
        return None
    return record if isinstance(record, SubscriptionRecord | QuestionRecord) else None


def _haystack(case: Case) -> str:
    parts: list[str] = [case.ref, case.requester, case.requester_name or "", case.subject]
    record = _record(case)
    if isinstance(record, SubscriptionRecord):
        parts += [p.organisation or "" for p in record.people]
        parts += [p.email for p in record.people]
    elif isinstance(record, QuestionRecord):
        parts.append(record.question)
    return fold(" ".join(parts))


def is_overdue(case: Case, now: datetime) -> bool:
    return case.closed_at is None and case.due_at is not None and case.due_at < now


def _matches(case: Case, f: Filters, config: Config, now: datetime) -> bool:
    if f.reviewer:
        who = f.reviewer.strip().lower()
        group = config.reviewers.groups.get(case.group or "")
        members = {m.lower() for m in group.members} if group else set()
        if (case.assignee or "").lower() != who and who not in members:
            return False
    if f.overdue and not is_overdue(case, now):
        return False
    return not f.q.strip() or all(w in _haystack(case) for w in fold(f.q).split())


def list_cases(session: Session, config: Config, f: Filters, now: datetime) -> list[dict[str, Any]]:
    """The cases that pass the filters, the most recent first (at most `MAX_LIST`)."""
    stmt = select(Case).order_by(col(Case.created_at).desc(), col(Case.id).desc())
    if f.kind:
        stmt = stmt.where(Case.kind == f.kind)
    if f.state:
        stmt = stmt.where(Case.state == f.state)
    if f.space:
        stmt = stmt.where(Case.space == f.space)
    rows: list[dict[str, Any]] = []
    for case in session.exec(stmt):
        if _matches(case, f, config, now):
            rows.append(summary(case, now))
            if len(rows) >= MAX_LIST:
                break
    return rows


def summary(case: Case, now: datetime) -> dict[str, Any]:
    return {
        "ref": case.ref,
        "kind": case.kind,
        "kind_label": kind_label(case.kind),
        "state": case.state,
        "state_label": state_label(case.kind, case.state),
        "requester": case.requester,
        "requester_name": case.requester_name,
        "subject": case.subject,
        "group": case.group,
        "assignee": case.assignee,
        "space": case.space,
        "space_label": space_label(case.space) if case.space else None,
        "created_at": case.created_at,
        "due_at": case.due_at,
        "closed_at": case.closed_at,
        "overdue": is_overdue(case, now),
    }


def _mail_text(raw: bytes) -> tuple[str | None, str]:
    """(subject, text) of stored mail bytes; never raises."""
    if not raw:
        return None, "(contenu supprimé)"
    try:
        mail = parse_message(raw)
    except Exception:  # a mail we could not parse is shown as such
        return None, "(contenu illisible)"
    text = mail.text or ""
    return mail.subject, text[:MAX_TEXT] + ("\n[…]" if len(text) > MAX_TEXT else "")


def timeline(session: Session, case: Case) -> list[dict[str, Any]]:
    """Everything that happened to the case, oldest first."""
    items: list[dict[str, Any]] = []
    inbound = select(InboundMessage).where(InboundMessage.case_ref == case.ref)
    for m in session.exec(inbound):
        subject, text = _mail_text(m.raw)
        items.append(
            {
                "at": m.received_at,
                "type": "in",
                "title": "Courriel reçu",
                "who": m.sender,
                "subject": m.subject or subject,
                "text": text,
                "template": None,
                "delivery": None,
            }
        )
    for o in session.exec(select(OutboxMail).where(OutboxMail.case_ref == case.ref)):
        subject, text = _mail_text(o.raw)
        items.append(
            {
                "at": o.created_at,
                "type": "out",
                "title": "Courriel envoyé\u00a0: " + TEMPLATE_LABELS.get(o.template, o.template),
                "template": o.template,
                "who": ", ".join(o.recipients),
                "subject": subject,
                "text": text,
                "delivery": o.state,
            }
        )
    for e in session.exec(select(CaseEvent).where(CaseEvent.case_ref == case.ref)):
        by = (e.data or {}).get("by") or e.actor
        items.append(
            {
                "at": e.at,
                "type": "decision" if by else "event",
                "title": EVENT_LABELS.get(e.event, e.event),
                "event": e.event,
                "who": by,
                "subject": None,
                "text": event_text(e.event, e.data or {}, case.kind),
                "template": None,
                "delivery": None,
            }
        )
    items.sort(
        key=lambda item: (item["at"], {"in": 0, "event": 1, "decision": 1, "out": 2}[item["type"]])
    )
    return items


ANNEX_COLUMNS = (
    ("number", "N°"),
    ("last_name", "Nom"),
    ("first_name", "Prénom"),
    ("email", "Adresse électronique"),
    ("organisation", "Organisme"),
    ("requester_type", "Type"),
    ("on_behalf_of", "Pour le compte de"),
    ("siren", "SIREN"),
    ("insee_code", "Code INSEE"),
    ("job_title", "Fonction"),
    ("phone", "Téléphone"),
    ("spaces", "Espaces"),
)


def annex_table(record: SubscriptionRecord) -> dict[str, Any]:
    """The people of the latest usable table, as rows of text cells (formulas neutralised)."""
    rows = []
    for person in record.people:
        values = person.to_json()
        cells = []
        for key, _label in ANNEX_COLUMNS:
            value = values.get(key)
            if key == "requester_type":
                value = REQUESTER_TYPES.get(str(value), value)
            if isinstance(value, list | tuple):
                value = ", ".join(space_label(str(v)) for v in value)
            cells.append(escape_optional(None if value is None else str(value)) or "")
        rows.append(cells)
    return {
        "columns": [label for _key, label in ANNEX_COLUMNS],
        "rows": rows,
        "filename": record.annex_filename,
    }


def people(record: Any, case: Case, portal: Portal) -> list[dict[str, Any]]:
    """The case's people (the annex's, or the asker) with their invitation and account."""
    if isinstance(record, SubscriptionRecord):
        listed: Iterable[tuple[int | None, str, str | None]] = [
            (p.number, p.email, " ".join(x for x in (p.first_name, p.last_name) if x) or None)
            for p in record.people
        ]
    else:
        listed = [(None, case.requester, case.requester_name)]
    listed = list(listed)
    accounts = portal.find_accounts([email for _n, email, _name in listed])
    out = []
    for number, email, name in listed:
        account = accounts.get(email)
        invitation = (
            record.invitations.get(email) if isinstance(record, SubscriptionRecord) else None
        )
        out.append(
            {
                "number": number,
                "email": email,
                "name": name,
                "invitation": invitation.to_json() if invitation else None,
                "account": None
                if account is None
                else {
                    "organisation": account.organisation,
                    "spaces": list(account.spaces),
                    "first_login_at": account.first_login_at,
                },
            }
        )
    return out


def bounced_people(
    session: Session, case: Case, record: SubscriptionRecord
) -> list[dict[str, Any]]:
    """The people whose invitation bounced, and whether the requester was told (the notice's
    outbox row)."""
    failed = {e for e, inv in record.invitations.items() if inv.status == "failed"}
    out = []
    for person in record.people:
        if person.email not in failed:
            continue
        key = f"{case.ref}:{notice_key(person.email)}"
        told = session.exec(select(OutboxMail.id).where(OutboxMail.idempotency_key == key)).first()
        name = " ".join(x for x in (person.first_name, person.last_name) if x)
        out.append({"email": person.email, "name": name or None, "told": told is not None})
    return out


def _when(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def case_detail(session: Session, portal: Portal, ref: str, now: datetime) -> dict[str, Any] | None:
    """One case whole, or None when there is no such case."""
    case = session.exec(select(Case).where(Case.ref == ref)).first()
    if case is None:
        return None
    record = _record(case)
    detail: dict[str, Any] = {
        **summary(case, now),
        "timeline": timeline(session, case),
        "people": people(record, case, portal),
        "annex": annex_table(record) if isinstance(record, SubscriptionRecord) else None,
        "bounced": [],
        "question": None,
    }
    if isinstance(record, SubscriptionRecord):
        detail["bounced"] = bounced_people(session, case, record)
    if isinstance(record, QuestionRecord):
        detail["question"] = {
            "text": record.question,
            "held": record.held.to_json() if record.held else None,
            "publications": [p.to_json() for p in record.publications],
            "withdrawn_at": _when(record.withdrawn_at),
            "held_until": _when(record.held.due_at) if record.held else None,
            "outcome": record.outcome,
            "answers": [a.to_json() for a in record.answers],
        }
    return detail
