"""Retention of personal data, carried out: the daily `purge` recurring job and `mailbot purge`.

The policy (what goes when) is `workflows.retention`'s and docs/operations.md's; this module
finds what is due in the database and empties or anonymises it, in the caller's transaction.
`plan` only reads (`mailbot purge --dry-run`); `purge` does what `plan` lists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from mailbot.config import Config
from mailbot.loop.case_people import forget_case_people
from storage.models import (
    Case,
    CaseEvent,
    InboundMessage,
    OutboxMail,
    PortalOperation,
    Timer,
    TriageExample,
)
from workflows.retention import (
    ANONYMISED,
    ANONYMOUS_ADDRESS,
    RetentionPeriods,
    addresses_in,
    anonymise_json,
)

# Journal rows whose bytes may go (never mail waiting in the INBOX, a replay or quarantine).
JOURNAL_DONE = ("processed", "ignored")
OUTBOX_DONE = ("sent", "bounced", "failed")
REFUSED = "refused"

ACTIONS = {
    "case": "anonymisation du dossier",
    "journal": "effacement du contenu brut d’un courriel reçu",
    "outbox": "effacement du contenu brut d’un courriel envoyé",
}


@dataclass(frozen=True)
class PurgeItem:
    kind: str  # case | journal | outbox
    id: str  # the case reference, or the journal / outbox row id
    case_ref: str | None
    since: datetime  # closing of the case, or the mail's date for mail of no case

    @property
    def action(self) -> str:
        return ACTIONS[self.kind]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["since"] = self.since.isoformat(timespec="seconds")
        out["action"] = self.action
        return out


def periods_of(config: Config) -> RetentionPeriods:
    r = config.retention
    return RetentionPeriods(r.journal_days, r.personal_data_days, r.refused_days)


def _cases_to_anonymise(session: Session, periods: RetentionPeriods, now: datetime) -> list[Case]:
    return list(
        session.exec(
            select(Case)
            .where(
                col(Case.closed_at).is_not(None),
                col(Case.anonymised_at).is_(None),
                or_(
                    and_(
                        col(Case.state) == REFUSED,
                        col(Case.closed_at) < periods.refused_cutoff(now),
                    ),
                    col(Case.closed_at) < periods.personal_cutoff(now),
                ),
            )
            .order_by(col(Case.closed_at))
        ).all()
    )


def _closed_before(session: Session, cutoff: datetime) -> dict[str, datetime]:
    rows = session.exec(
        select(Case.ref, Case.closed_at).where(
            col(Case.closed_at).is_not(None), col(Case.closed_at) < cutoff
        )
    ).all()
    return {ref: closed for ref, closed in rows if closed is not None}


def _journal_due(
    session: Session, closed: dict[str, datetime], cutoff: datetime
) -> list[PurgeItem]:
    rows = session.exec(
        select(InboundMessage.id, InboundMessage.case_ref, InboundMessage.received_at)
        .where(col(InboundMessage.purged_at).is_(None), col(InboundMessage.fate).in_(JOURNAL_DONE))
        .order_by(col(InboundMessage.id))
    ).all()
    items = []
    for row_id, ref, received in rows:
        if ref is not None and ref in closed:
            items.append(PurgeItem("journal", str(row_id), ref, closed[ref]))
        elif ref is None and received < cutoff:
            items.append(PurgeItem("journal", str(row_id), None, received))
    return items


def _outbox_due(session: Session, closed: dict[str, datetime], cutoff: datetime) -> list[PurgeItem]:
    rows = session.exec(
        select(OutboxMail.id, OutboxMail.case_ref, OutboxMail.created_at)
        .where(col(OutboxMail.purged_at).is_(None), col(OutboxMail.state).in_(OUTBOX_DONE))
        .order_by(col(OutboxMail.id))
    ).all()
    items = []
    for row_id, ref, created in rows:
        if ref is not None and ref in closed:
            items.append(PurgeItem("outbox", str(row_id), ref, closed[ref]))
        elif ref is None and created < cutoff:
            items.append(PurgeItem("outbox", str(row_id), None, created))
    return items


def plan(session: Session, periods: RetentionPeriods, now: datetime) -> list[PurgeItem]:
    """Everything due for purging at `now`: raw mail first, then the cases to anonymise."""
    cases = _cases_to_anonymise(session, periods, now)
    closed = _closed_before(session, periods.journal_cutoff(now))
    closed.update({c.ref: c.closed_at for c in cases if c.closed_at is not None})
    cutoff = periods.journal_cutoff(now)
    items = _journal_due(session, closed, cutoff) + _outbox_due(session, closed, cutoff)
    items += [PurgeItem("case", c.ref, c.ref, c.closed_at) for c in cases if c.closed_at]
    return items


def purge(
    session: Session,
    config: Config,
    now: datetime,
    actor: str | None = None,
    on_item: Callable[[PurgeItem], None] | None = None,
) -> list[PurgeItem]:
    """Carry out `plan` in `session` (the caller commits); `on_item` is told after each item
    (a progress bar). `actor` is recorded on each anonymised case's timeline."""
    items = plan(session, periods_of(config), now)
    for item in items:
        if item.kind == "journal":
            _empty_journal(session, int(item.id), now)
        elif item.kind == "outbox":
            _empty_outbox(session, int(item.id), now)
        else:
            anonymise_case(session, config, item.id, now, actor)
        if on_item is not None:
            on_item(item)
    return items


def _empty_journal(session: Session, row_id: int, now: datetime) -> None:
    row = session.get(InboundMessage, row_id)
    if row is not None:
        row.raw, row.purged_at = b"", now
        session.add(row)


def _empty_outbox(session: Session, row_id: int, now: datetime) -> None:
    row = session.get(OutboxMail, row_id)
    if row is not None:
        row.raw, row.purged_at = b"", now
        session.add(row)


def _staff(config: Config) -> set[str]:
    """Addresses that are the ministry's in their role (kept: who decided what)."""
    staff = {a.lower() for a in config.admins.addresses}
    staff.add(config.instance.generic_address.lower())
    for group in config.reviewers.groups.values():
        staff |= {m.lower() for m in group.members}
    return staff


def anonymise_case(
    session: Session, config: Config, ref: str, now: datetime, actor: str | None = None
) -> None:
    """Erase the personal data of one case (docs/operations.md, « Conservation des données »):
    its record, its mails in and out, the addresses in its events, portal operations and timers;
    its triage examples keep only the published wording of the question."""
    case = session.exec(select(Case).where(Case.ref == ref)).one()
    inbound = session.exec(select(InboundMessage).where(InboundMessage.case_ref == ref)).all()
    people = {case.requester.lower()} | addresses_in(case.data or {})
    people |= {m.sender.lower() for m in inbound if m.sender}
    people -= _staff(config)
    published = str((case.data or {}).get("published_question") or "")
    case.requester, case.requester_name, case.subject = ANONYMOUS_ADDRESS, None, ANONYMISED
    case.data = anonymise_json(case.data or {}, people)
    case.anonymised_at = now
    session.add(case)
    forget_case_people(session, ref)
    for message in inbound:
        if message.fate not in JOURNAL_DONE:
            continue  # quarantined or waiting: the admins review it first
        message.raw, message.sender, message.subject = b"", None, None
        message.purged_at = message.purged_at or now
        session.add(message)
    for mail in session.exec(select(OutboxMail).where(OutboxMail.case_ref == ref)).all():
        if mail.state in OUTBOX_DONE:
            mail.raw, mail.purged_at = b"", mail.purged_at or now
        mail.recipients = [r for r in mail.recipients if r.lower() not in people]
        if mail.recipient.lower() in people:
            mail.recipient = ANONYMOUS_ADDRESS
        session.add(mail)
    _anonymise_rows(session, ref, people)
    for example in session.exec(select(TriageExample).where(TriageExample.case_ref == ref)).all():
        if published:
            example.text = published
            session.add(example)
        else:
            session.delete(example)
    session.add(CaseEvent(case_ref=ref, at=now, event="anonymised", actor=actor, data={}))


def _anonymise_rows(session: Session, ref: str, people: Iterable[str]) -> None:
    people = set(people)
    for event in session.exec(select(CaseEvent).where(CaseEvent.case_ref == ref)).all():
        event.data = anonymise_json(event.data or {}, people)
        if event.actor and event.actor.lower() in people:
            event.actor = None
        session.add(event)
    for op in session.exec(select(PortalOperation).where(PortalOperation.case_ref == ref)).all():
        op.payload = anonymise_json(op.payload or {}, people)
        if op.result is not None:
            op.result = anonymise_json(op.result, people)
        session.add(op)
    for timer in session.exec(select(Timer).where(Timer.case_ref == ref)).all():
        timer.data = anonymise_json(timer.data or {}, people)
        session.add(timer)


def purge_summary(items: Iterable[PurgeItem]) -> dict[str, int]:
    counts = {"case": 0, "journal": 0, "outbox": 0}
    for item in items:
        counts[item.kind] += 1
    return counts
