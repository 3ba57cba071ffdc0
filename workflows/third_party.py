"""A mail in a case's thread (by its tag or its references) from someone who is not the
requester: it changes nothing of the case. A case belongs to the person who opened it; a third
party (a colleague, a town hall's DGS, or anyone who guessed an `ABO-…` number) is heard, not
obeyed: the mail, its real sender, its text and its attachments are passed on to the case's
reviewers (else the admins) under the label « message d'un tiers », the case records a note of
it, and the sender gets nothing back (no acknowledgement that would suggest they changed the
case)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from workflows import followup_cap
from workflows.casework import (
    event_key,
    file_refs,
    finish,
    group_for,
    group_members,
    iso,
    question_record,
    space_label,
    subscription_record,
)
from workflows.core import CaseView, Context, Decision, LogLine, MailReceived, SendMail
from workflows.records import Note, Person
from workflows.reviewing import forward_to_reviewers
from workflows.states import QUESTION_CLOSED, SUBSCRIPTION_CLOSED, CaseKind
from workflows.subscription_people import person_view


def is_third_party(case: CaseView, event: MailReceived) -> bool:
    """True when the mail is not from the address that opened the case."""
    return event.sender.strip().lower() != case.requester.strip().lower()


def reviewers(case: CaseView, ctx: Context) -> tuple[str, ...]:
    """The case's assignee and the members of its group (empty: nobody handles it yet)."""
    handle = "subscription" if case.kind == CaseKind.SUBSCRIPTION else "question:unclassified"
    group = case.group or group_for(ctx, handle)
    members = ((case.assignee,) if case.assignee else ()) + group_members(ctx, group)
    return tuple(dict.fromkeys(members))


def case_people(case: CaseView) -> tuple[Person, ...]:
    return subscription_record(case).people


def on_third_party_mail(case: CaseView, event: MailReceived, ctx: Context) -> Decision:
    """The decision on a third party's mail: a note in the record, the reviewers told, and
    nothing else (no state, no table, no answer to a COMPLÉTER, no reopening)."""
    question = case.kind == CaseKind.QUESTION
    data = question_record(case) if question else subscription_record(case)
    text = event.new_text.strip() or event.text.strip()
    note = Note(at=iso(ctx.now), text=text, sender=event.sender)
    if event.attachments:
        note = replace(note, attachments=file_refs(event), message_id=event.message_id)
    data = replace(data, notes=(*data.notes, note))
    context: dict[str, Any] = {
        "kind": "question" if question else "subscription",
        "sender": event.sender,
        "sender_name": event.sender_name,
        "requester": case.requester,
        "requester_name": case.requester_name,
        "subject": case.subject,
        "mail_subject": event.subject,
        "text": text,
        "state": case.state,
        "attachments": [a.filename for a in event.attachments],
        "people": [] if question else [person_view(p, ctx) for p in case_people(case)],
        "space_label": space_label(case.space) if question else None,
    }
    to = reviewers(case, ctx)
    key = event_key("third_party", event.message_id, len(data.notes))
    effects: list[SendMail] = forward_to_reviewers(
        "third_party_note", to, context, data.round, event, "third_party", len(data.notes)
    )
    if not to and ctx.admins:
        # Nobody reviews the case: the admins are told, without a reviewer's token.
        to = tuple(ctx.admins)
        effects = [SendMail("third_party_note", to, context, key, attachments=event.attachments)]
    log = [
        LogLine(
            "follow_up_third_party",
            {"sender": event.sender, "forwarded_to": len(to), "state": case.state},
        )
    ]
    closed = QUESTION_CLOSED if question else SUBSCRIPTION_CLOSED
    sent, log = followup_cap.capped(ctx, effects, log)
    return finish(case, case.state, closed, data=data, effects=sent, log=log)
