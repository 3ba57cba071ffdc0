"""What both workflows do the same way with a case: the case a first mail opens, mails to the
requester and their threading, idempotency keys, labels shown in mails, delivery failures and
the final `Decision` (what they do with reviewers is in workflows.reviewing)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from workflows.core import (
    Attachment,
    CaseView,
    Context,
    Decision,
    DeliveryFailed,
    Effect,
    LogLine,
    MailReceived,
    PortalFailed,
    SendMail,
)
from workflows.records import CaseRecord, FileRef, Note, QuestionRecord, SubscriptionRecord
from workflows.states import CaseKind, QuestionState, State, SubscriptionState

R = TypeVar("R", SubscriptionRecord, QuestionRecord)

SPACE_LABELS: Mapping[str, str] = {"accueil": "Accueil", "desta": "DESTA", "antai": "ANTAI"}
# Mails whose failure is only logged: an acknowledgement to an address that bounces says
# nothing an admin can act on, and an alert about an alert would loop.
QUIET_FAILURES = frozenset({"subscription_ack", "question_ack", "delivery_failed_alert"})
EXCERPT_CHARS = 300


def space_label(space: str | None) -> str:
    return SPACE_LABELS.get(space or "", space or "non classée")


def spaces_label(spaces: Iterable[str]) -> str:
    """« Accueil, DESTA et ANTAI »."""
    labels = [space_label(s) for s in spaces]
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " et " + labels[-1]


def iso(moment: datetime) -> str:
    return moment.isoformat()


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def short(value: str, limit: int = 80) -> str:
    """`value` itself when short, else a stable digest (keys are stored in 200 characters)."""
    if len(value) <= limit:
        return value
    return "h" + hashlib.sha256(value.encode()).hexdigest()[:24]


def event_key(prefix: str, message_id: str | None, fallback: object) -> str:
    """A mail key tied to the incoming message, so replaying it never sends twice."""
    if message_id:
        return f"{prefix}:m{hashlib.sha256(message_id.encode()).hexdigest()[:16]}"
    return f"{prefix}:{fallback}"


def new_case(
    event: MailReceived,
    ref: str,
    kind: CaseKind,
    created_at: datetime,
) -> CaseView:
    """The case a first mail opens, as `start` sees it before deciding anything."""
    question = kind == CaseKind.QUESTION
    return CaseView(
        ref=ref,
        kind=kind,
        state=QuestionState.NEW if question else SubscriptionState.NEW,
        requester=event.sender,
        requester_name=event.sender_name,
        subject=event.subject,
        group=None,
        assignee=None,
        space=None,
        origin_message_id=event.message_id,
        created_at=created_at,
        data=QuestionRecord() if question else SubscriptionRecord(),
    )


def subscription_record(case: CaseView) -> SubscriptionRecord:
    """The record of a subscription case."""
    if not isinstance(case.data, SubscriptionRecord):
        raise TypeError(f"{case.ref}: not a subscription record: {type(case.data).__name__}")
    return case.data


def question_record(case: CaseView) -> QuestionRecord:
    """The record of a question case."""
    if not isinstance(case.data, QuestionRecord):
        raise TypeError(f"{case.ref}: not a question record: {type(case.data).__name__}")
    return case.data


def after_mail(data: R, event: MailReceived) -> R:
    """The record with the requester's latest message as the one our later mails answer
    (see `requester_thread`)."""
    return replace(data, last_message_id=event.message_id) if event.message_id else data


def with_note(data: R, ctx: Context, text: str, event: MailReceived | None = None) -> R:
    """The record with the requester's words and their time added to its `notes`; with the
    mail (`event`), the attachments it brought are referenced too (their bytes stay in the
    journal, under its Message-ID)."""
    note = Note(at=iso(ctx.now), text=text.strip())
    if event is not None and event.attachments:
        note = replace(note, attachments=file_refs(event), message_id=event.message_id)
    return replace(data, notes=(*data.notes, note))


def attachments_only(event: MailReceived) -> str:
    """What stands for the text of a mail that brought attachments and no words (empty when
    it brought neither): such a mail is passed on, never dropped, even when its only file was
    too large to pass on."""
    names = [f"« {a.filename} »" for a in event.attachments]
    names += [f"{o}, trop volumineuse pour être transmise" for o in event.omitted]
    return f"(message sans texte, pièces jointes : {', '.join(names)})" if names else ""


def file_refs(event: MailReceived) -> tuple[FileRef, ...]:
    """The attachments of a mail as the case record keeps them."""
    return tuple(FileRef(a.filename, a.content_type, len(a.data)) for a in event.attachments)


def group_members(ctx: Context, group: str | None) -> tuple[str, ...]:
    if group is None:
        return ()
    return tuple(ctx.groups.get(group, ()))


def group_for(ctx: Context, handle: str, fallback: str | None = None) -> str | None:
    """The group handling `handle`, else the one handling `fallback`, if it exists."""
    for key in (handle, fallback):
        if key and ctx.handles.get(key) in ctx.groups:
            return ctx.handles[key]
    return None


def requester_thread(case: CaseView, data: CaseRecord) -> dict[str, Any]:
    """`in_reply_to`/`references` that put our mail in the requester's thread (RFC 5322
    §3.6.4): the latest message of theirs we know, after the first one."""
    origin = case.origin_message_id
    last = data.last_message_id or origin
    refs = tuple(dict.fromkeys(r for r in (origin, last) if r))
    return {"in_reply_to": last, "references": refs}


def reply_thread(message_id: str | None, references: Sequence[str]) -> dict[str, Any]:
    refs = tuple(references) + ((message_id,) if message_id else ())
    return {"in_reply_to": message_id, "references": tuple(dict.fromkeys(refs))}


def requester_mail(
    case: CaseView,
    template: str,
    context: Mapping[str, Any],
    *,
    key: str,
    thread: Mapping[str, Any],
    auto: bool = False,
    essential: bool = False,
    attachments: tuple[Attachment, ...] = (),
) -> SendMail:
    """A mail to the requester, whose context always names them (`requester_name`); `thread`
    from `reply_thread` (an answer to the mail just received) or `requester_thread`."""
    return SendMail(
        template=template,
        to=(case.requester,),
        context={**context, "requester_name": case.requester_name},
        key=key,
        auto=auto,
        essential=essential,
        attachments=attachments,
        **thread,
    )


def admin_alert(
    ctx: Context, case: CaseView, recipient: str, template: str, reason: str
) -> SendMail | None:
    if not ctx.admins:
        return None
    return SendMail(
        template="delivery_failed_alert",
        to=tuple(ctx.admins),
        context={"recipient": recipient, "template": template, "reason": reason, "ref": case.ref},
        key=f"delivery_failed:{template}:{short(recipient)}",
    )


def delivery_failed(ctx: Context, case: CaseView, event: DeliveryFailed) -> Decision:
    """The log line of a failed mail, and the admins' alert, except for a bounce of a quiet
    mail (an acknowledgement to an address that does not exist says nothing they can act on);
    a refusal by our own relay is always worth telling (it is often our configuration). The
    case itself is left to the workflow: `Decision.then` this after its own."""
    effects: list[Effect] = []
    if event.via == "smtp" or event.template not in QUIET_FAILURES:
        alert = admin_alert(ctx, case, event.recipient, event.template, event.reason)
        if alert is not None and event.template != "delivery_failed_alert":
            effects.append(alert)
    fields = {"to": event.recipient, "template": event.template, "reason": event.reason}
    return Decision(
        effects=tuple(effects), log=(LogLine("delivery_failed", {**fields, "via": event.via}),)
    )


PORTAL_OPERATIONS: Mapping[str, tuple[str, str]] = {
    "create_accounts": (
        "création des comptes",
        "Les comptes n'ont pas été créés et aucune invitation n'est partie : le dossier reste "
        "approuvé, en attente de ces comptes.",
    ),
    "publish": (
        "publication de la réponse",
        "La réponse n'est pas publiée dans l'espace ; le dossier reste en attente de publication.",
    ),
    "withdraw": (
        "retrait de la réponse publiée",
        "La réponse est toujours visible dans l'espace du portail.",
    ),
}


def alert_admins(
    admins: Sequence[str],
    template: str,
    context: Mapping[str, Any],
    key: str,
    line: LogLine | None = None,
) -> Decision:
    """One mail to the admins, with its log line; no admins configured: the log line alone."""
    log = (line,) if line is not None else ()
    if not admins:
        return Decision(log=log)
    alert = SendMail(template=template, to=tuple(admins), context=context, key=key)
    return Decision(effects=(alert,), log=log)


def portal_failed(ctx: Context, event: PortalFailed) -> Decision:
    """A portal operation failed for good, after its retries: the case stays where it is, the
    admins are told what did not happen."""
    label, consequence = PORTAL_OPERATIONS.get(event.kind, (event.kind, ""))
    return alert_admins(
        ctx.admins,
        "portal_failed_alert",
        {"operation_label": label, "consequence": consequence, "reason": event.reason},
        f"portal_failed:{event.kind}:{ctx.now.isoformat()}",
        LogLine("portal_failed", {"operation": event.kind, "reason": event.reason}),
    )


def finish(
    case: CaseView | None,
    state: State,
    closed_states: frozenset[State],
    *,
    data: CaseRecord | None = None,
    effects: Sequence[Effect] = (),
    log: Sequence[LogLine] = (),
    updates: Mapping[str, Any] | None = None,
) -> Decision:
    """The decision, with `closed` always matching the resulting state (a no-op on a closed
    case stays closed; a reopened case says closed=False)."""
    unchanged = case is not None and case.state == state
    return Decision(
        state=None if unchanged else state,
        updates=dict(updates or {}),
        data=data,
        effects=tuple(effects),
        log=tuple(log),
        closed=state in closed_states,
    )


def ignored(case: CaseView, closed_states: frozenset[State], name: str, **fields: Any) -> Decision:
    """Nothing to do: the case stays as it is, with one log line saying why."""
    return finish(case, case.state, closed_states, log=[LogLine(name, fields)])
