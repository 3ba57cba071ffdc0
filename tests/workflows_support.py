"""Builders shared by the pure workflow tests: a fixed clock, a context, mails, annexes,
reviewer replies, and `apply` that plays the runner's part (a decision applied to a case)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from workflows.calendar import add_business_days
from workflows.casework import new_case
from workflows.core import (
    Attachment,
    CaseView,
    Context,
    Decision,
    Event,
    ExistingAccount,
    MailReceived,
    ReviewerReply,
    SendMail,
    SimilarAnswer,
)
from workflows.records import CaseRecord, QuestionRecord, SubscriptionRecord
from workflows.text.directives import ReviewerCommand

PARIS = ZoneInfo("Europe/Paris")
# Tuesday 10 November 2026, the day before Armistice Day (a public holiday).
NOW = datetime(2026, 11, 10, 9, 30, tzinfo=PARIS)
GROUPS = {
    "abonnements": ("relecteur.abonnements@demo.test", "second.abonnements@demo.test"),
    "desta": ("relecteur.desta@demo.test",),
    "antai": ("relecteur.antai@demo.test",),
    "accueil": ("relecteur.accueil@demo.test",),
}
HANDLES = {
    "subscription": "abonnements",
    "question:desta": "desta",
    "question:antai": "antai",
    "question:accueil": "accueil",
    "question:unclassified": "accueil",
}
ADMINS = ("admin.stationnement@demo.test",)
REQUESTER = "agnes.durand@ville-exemple.fr"
BLANK = b"PK\x03\x04blank-annex"


def ctx(**overrides: Any) -> Context:
    base = Context(
        now=NOW,
        generic_address="decentralisation-stationnement@demo.test",
        portal_base_url="https://portail.example.gouv.fr",
        groups=GROUPS,
        handles=HANDLES,
        admins=ADMINS,
        cerema_url="http://www.territoires-ville.cerema.fr/nous-contacter-r455.html",
        auto_redirect_out_of_scope=False,
        reviewer_reminder_business_days=2,
        escalation_business_days=5,
        invitation_reminder_days=7,
        invitation_expiry_days=30,
        add_business_days=add_business_days,
        blank_annex=BLANK,
    )
    return replace(base, **overrides)


def row(number: int, **fields: Any) -> dict[str, Any]:
    first = ("Agnès", "Bruno", "Chloé", "David")[(number - 1) % 4]
    values: dict[str, Any] = {
        "row": number + 4,
        "requester_type": "collectivite",
        "organisation": "Commune d'Exemple-sur-Loire",
        "on_behalf_of": None,
        "siren": "213100407",
        "insee_code": "31555",
        "last_name": f"Nom{number}",
        "first_name": first,
        "job_title": "Responsable du stationnement",
        "email": f"personne{number}@ville-exemple.fr",
        "phone": "+33561000000",
        "spaces": ["accueil", "desta"],
    }
    values.update(fields)
    return values


def annex(
    rows: Sequence[Mapping[str, Any]] = (),
    errors: Sequence[Mapping[str, Any]] = (),
    error: str | None = None,
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        "format": "xlsx",
        "sheet": "Demande",
        "rows": list(rows),
        "errors": list(errors),
        "warnings": list(warnings),
        "error": error,
    }


def annex_error(
    row_number: int, field: str, column: str, value: str, detail: str
) -> dict[str, Any]:
    return {
        "row": row_number,
        "field": field,
        "column": column,
        "value": value,
        "message": f"La ligne {row_number}, colonne « {column} » : « {value} » {detail}.",
    }


XLSX = Attachment(
    "demande.xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    b"PK\x03\x04table",
)


def mail(
    text: str = "Bonjour,\nVeuillez trouver notre demande.\nCordialement",
    *,
    sender: str = REQUESTER,
    sender_name: str | None = "Agnès Durand",
    subject: str = "Demande d'abonnement au portail",
    message_id: str | None = "<m1@ville-exemple.fr>",
    references: tuple[str, ...] = (),
    annex_data: Mapping[str, Any] | None = None,
    attachments: tuple[Attachment, ...] = (),
) -> MailReceived:
    return MailReceived(
        sender=sender,
        sender_name=sender_name,
        subject=subject,
        message_id=message_id,
        references=references,
        text=text,
        new_text=text,
        attachments=attachments,
        annex=annex_data,
        annex_filename=attachments[0].filename if attachments else None,
    )


def table_mail(rows: int = 2, **kwargs: Any) -> MailReceived:
    return mail(
        annex_data=annex([row(n) for n in range(1, rows + 1)]), attachments=(XLSX,), **kwargs
    )


def reply(
    text: str = "",
    *,
    reviewer: str = "relecteur.abonnements@demo.test",
    command: ReviewerCommand | None = None,
    directives: tuple[str, ...] = (),
    message_id: str | None = "<r1@interieur.example>",
) -> ReviewerReply:
    return ReviewerReply(
        reviewer=reviewer,
        reviewer_name="Relecteur",
        message_id=message_id,
        references=("<ABO-2026-000001.n.x@mailbot.dev.demo.test>",),
        new_text=text,
        directives=directives,
        command=command,
    )


def account(
    email: str, organisation: str = "Commune voisine", spaces: tuple[str, ...] = ("accueil",)
) -> ExistingAccount:
    return ExistingAccount(email=email, organisation=organisation, spaces=spaces)


def similar(n: int) -> tuple[SimilarAnswer, ...]:
    return tuple(
        SimilarAnswer(
            f"Q-2026-00000{i}",
            "antai",
            f"Question publiée n° {i} sur les FPS",
            f"https://portail.example.gouv.fr/espaces/antai/questions/Q-2026-00000{i}",
        )
        for i in range(1, n + 1)
    )


def opened(decision: Decision, event: MailReceived, ref: str, kind: str) -> CaseView:
    """The case the runner creates from a `start` decision."""
    base = new_case(event, ref, kind, NOW)  # type: ignore[arg-type]
    changes = {"state": decision.state or base.state, "data": stored(decision.data or base.data)}
    return replace(base, **{**changes, **decision.updates})


def question_data(record: CaseRecord | None) -> QuestionRecord:
    """`record` (a case's or a decision's data), which must be a question's."""
    assert isinstance(record, QuestionRecord), record
    return record


def subscription_data(record: CaseRecord | None) -> SubscriptionRecord:
    """`record` (a case's or a decision's data), which must be a subscription's."""
    assert isinstance(record, SubscriptionRecord), record
    return record


def stored(record: CaseRecord) -> CaseRecord:
    """`record` written to the `data` column and read back, as the runner does: the same
    record again."""
    again = type(record).from_json(json.loads(json.dumps(record.to_json())))
    assert again == record
    return again


def apply(case: CaseView, decision: Decision) -> CaseView:
    """What the runner does with a decision to the case columns (the record through JSON)."""
    changes: dict[str, Any] = dict(decision.updates)
    if decision.state is not None:
        changes["state"] = decision.state
    if decision.data is not None:
        changes["data"] = stored(decision.data)
    return replace(case, **changes)


@dataclass(frozen=True)
class Step:
    """One event of `play`: the case as it stood, the event, the decision taken on it."""

    case: CaseView
    event: Event
    decision: Decision


def play(
    case: CaseView,
    events: Iterable[Event],
    decide: Callable[[CaseView, Event, Context], Decision],
) -> tuple[CaseView, list[Step]]:
    """Each event decided on the case as it stands, then applied, as the runner does."""
    steps: list[Step] = []
    for event in events:
        decision = decide(case, event, ctx())
        steps.append(Step(case, event, decision))
        case = apply(case, decision)
    return case, steps


def mail_keys(*decisions: Decision) -> list[str]:
    return [m.key for decision in decisions for m in sent(decision)]


def sent(decision: Decision, template: str | None = None) -> list[SendMail]:
    return [
        e
        for e in decision.effects
        if isinstance(e, SendMail) and (template is None or e.template == template)
    ]


def effects_of(decision: Decision, kind: type) -> list[Any]:
    return [e for e in decision.effects if isinstance(e, kind)]


def log_events(decision: Decision) -> list[str]:
    return [line.event for line in decision.log]
