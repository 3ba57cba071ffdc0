"""The question workflow (`Q-…`): acknowledged, triaged to a space, answered by a reviewer,
mailed to the asker and published without personal data.

States: `open` (waiting for a reviewer) → `held` (answer given, previewed, waiting for the end
of its hold: workflows.question_hold) → `publishing` (waiting for the portal) → `answered`
(closed; CORRIGER and RETIRER still act on it: workflows.question_after). A follow-up of the asker after the answer reopens the case (`open`,
same group). HORS PÉRIMÈTRE and NE PAS PUBLIER go straight to `answered`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from workflows import followup_cap, group_review, question_hold, question_review, third_party
from workflows.casework import (
    after_mail,
    attachments_only,
    delivery_failed,
    excerpt,
    finish,
    group_for,
    group_members,
    ignored,
    iso,
    new_case,
    portal_failed,
    question_record,
    reply_thread,
    requester_mail,
    space_label,
    with_note,
)
from workflows.core import (
    CaseView,
    Context,
    Decision,
    DeliveryFailed,
    Event,
    LogLine,
    MailReceived,
    PortalFailed,
    Published,
    ReviewerAway,
    ReviewerReply,
    SendMail,
    TimerFired,
    Withdrawn,
)
from workflows.publication import reviewer_identities
from workflows.question_routing import (
    DEFAULT_SPACE,
    MAX_SIMILAR,
    gist,
    notify_context,
    route,
    similar_view,
)
from workflows.records import Followup, QuestionRecord
from workflows.reviewing import REVIEW_TIMERS, forward_to_reviewers, on_review_timer
from workflows.states import QUESTION_CLOSED as CLOSED_STATES
from workflows.states import CaseKind, QuestionState
from workflows.text import privacy
from workflows.text.fold import fold_words

_THANKS = re.compile(
    r"^(?:(?:un )?(?:grand |tous mes )?merci(?:s)?(?: beaucoup| bien| infiniment)?"
    r"(?: (?:pour|de) (?:votre|cette|la) (?:reponse|retour|aide|rapidite)(?: rapide)?)?"
    r"|bien recu|parfait|c est note|tres bien|entendu|ok)"
    r"(?: merci(?: beaucoup)?)?(?: (?:bonne|belle) (?:journee|soiree))?$"
)


# --------------------------------------------------------------------------- entry points


def start(event: MailReceived, ctx: Context, ref: str) -> Decision:
    """A new question; `ctx.triage` holds the `TriageResult` (None: unclassified)."""
    case = new_case(event, ref, CaseKind.QUESTION, ctx.now)
    triage = ctx.triage
    question = event.new_text.strip() or event.text.strip()
    data = QuestionRecord(
        question=question,
        published_question=privacy.scrub(
            question,
            event.sender_name,
            event.sender,
            keep_contacts=ctx.keep_contacts,
            identities=reviewer_identities(ctx),
        ),
        triage=triage,
        similar=tuple(similar_view(s) for s in ctx.similar_answers[:MAX_SIMILAR]),
        last_message_id=event.message_id,
    )
    space = triage.space if triage is not None else None
    out_of_scope = triage is not None and triage.out_of_scope
    if ctx.auto_redirect_out_of_scope and out_of_scope and space is None:
        opened = LogLine("case_opened", {"kind": "question", "outcome": "redirected"})
        return question_review.redirect(case, ctx, data, [opened])
    group = group_for(ctx, f"question:{space}", "question:unclassified")
    similar = [s.to_json() for s in data.similar]
    ack = _ack(case, event, "new", similar, question, key="ack")
    opened = LogLine(
        "case_opened", {"kind": "question", "space": space or "unclassified", "group": group}
    )
    extra = {"omitted": list(event.omitted)}
    return route(
        case,
        ctx,
        data,
        group,
        space,
        "new",
        [ack],
        [opened],
        attachments=event.attachments,
        extra=extra,
    )


def decide(case: CaseView, event: Event, ctx: Context) -> Decision:
    if isinstance(event, ReviewerReply):
        return question_review.on_reviewer(case, event, ctx)
    if isinstance(event, Published):
        return question_review.on_published(case, event, ctx)
    if isinstance(event, MailReceived):
        if third_party.is_third_party(case, event):
            return third_party.on_third_party_mail(case, event, ctx)
        return _on_asker_mail(case, event, ctx)
    if isinstance(event, TimerFired):
        return _on_timer(case, event, ctx)
    if isinstance(event, DeliveryFailed):
        return finish(case, case.state, CLOSED_STATES).then(delivery_failed(ctx, case, event))
    if isinstance(event, Withdrawn):
        return ignored(case, CLOSED_STATES, "withdrawn")
    if isinstance(event, PortalFailed):
        return finish(case, case.state, CLOSED_STATES).then(portal_failed(ctx, event))
    if isinstance(event, ReviewerAway):
        summary = _review_summary(case, ctx)
        waiting = (QuestionState.OPEN,)
        return group_review.on_reviewer_away(case, event, ctx, CLOSED_STATES, waiting, summary)
    return ignored(case, CLOSED_STATES, "event_ignored", type=type(event).__name__)


# --------------------------------------------------------------------------- routing


def is_thanks(text: str) -> bool:
    """« Merci beaucoup pour votre réponse ! » needs no reviewer: it does not reopen."""
    return "?" not in text and len(text) < 160 and bool(_THANKS.match(fold_words(text)))


def _on_asker_mail(case: CaseView, event: MailReceived, ctx: Context) -> Decision:
    data = after_mail(question_record(case), event)
    text = event.new_text.strip() or attachments_only(event)
    if not text:
        return finish(
            case, case.state, CLOSED_STATES, data=data, log=[LogLine("asker_mail_empty", {})]
        )
    after_answer = case.state == QuestionState.ANSWERED
    if after_answer and is_thanks(text):
        data = with_note(data, ctx, text)
        return finish(
            case, case.state, CLOSED_STATES, data=data, log=[LogLine("followup_thanks", {})]
        )
    followup = Followup(
        at=iso(ctx.now),
        text=text,
        published=privacy.scrub(
            text,
            case.requester_name,
            case.requester,
            keep_contacts=ctx.keep_contacts,
            identities=reviewer_identities(ctx),
        ),
        after_answer=after_answer,
    )
    data = replace(data, followups=(*data.followups, followup))
    group = case.group or group_for(ctx, "question:unclassified")
    if after_answer:
        ack = _ack(case, event, "reopened", [], text, key=f"ack:{data.round + 1}")
        log = [LogLine("case_reopened", {"round": data.round + 1})]
        return route(
            case, ctx, data, group, case.space, "reopened", [ack], log,
            attachments=event.attachments, extra={"followup_text": text, "omitted": list(event.omitted)},
        )  # fmt: skip
    return _forward_followup(case, event, ctx, data, group, text)


def _ack(
    case: CaseView,
    event: MailReceived,
    stage: str,
    similar: list[dict[str, str]],
    text: str,
    *,
    key: str,
) -> SendMail:
    """The acknowledgement of a question (`new`) or of a follow-up that reopens it."""
    context = {
        "stage": stage,
        "similar": similar,
        "question_excerpt": excerpt(privacy.strip_courtesy(text) or text),
        "omitted": list(event.omitted),
        "not_tables": list(event.not_tables),
    }
    thread = reply_thread(event.message_id, event.references)
    # the acknowledgement of a new case is essential; a reopened question's is not
    return requester_mail(
        case, "question_ack", context, key=key, thread=thread, auto=True, essential=stage == "new"
    )


def _forward_followup(
    case: CaseView,
    event: MailReceived,
    ctx: Context,
    data: QuestionRecord,
    group: str | None,
    text: str,
) -> Decision:
    """More from the asker while the case is open: the reviewers see it (same round)."""
    context = notify_context(
        case, ctx, data, group, case.space, "followup",
        {"followup_text": text, "omitted": list(event.omitted)},
    )  # fmt: skip
    members = group_members(ctx, group)
    count = len(data.followups)
    effects = forward_to_reviewers(
        "question_notify", members, context, data.round, event, "followup", count
    )
    log = [LogLine("asker_followup", {"state": case.state, "forwarded_to": len(effects)})]
    sent, log = followup_cap.capped(ctx, effects, log)
    return finish(case, case.state, CLOSED_STATES, data=data, effects=sent, log=log)


# --------------------------------------------------------------------------- timers


def _on_timer(case: CaseView, event: TimerFired, ctx: Context) -> Decision:
    if event.kind == question_hold.HOLD_TIMER:
        return question_hold.on_hold_timer(case, event, ctx)
    if event.kind == followup_cap.DIGEST_TIMER:
        return followup_cap.on_digest_timer(case, event, ctx, CLOSED_STATES)
    if event.kind not in REVIEW_TIMERS:
        return ignored(case, CLOSED_STATES, "timer_unknown", kind=event.kind)
    return on_review_timer(
        case,
        event,
        ctx,
        CLOSED_STATES,
        QuestionState.OPEN,
        _review_summary,
        reminder="question_reminder",
        escalation="question_escalation",
    )


def _review_summary(case: CaseView, _ctx: Context) -> dict[str, Any]:
    data = question_record(case)
    return {
        "asker": case.requester,
        "asker_name": case.requester_name,
        "subject": case.subject,
        "received_at": data.round_at or iso(case.created_at),
        "question_excerpt": gist(data),
        "space_label": space_label(case.space or DEFAULT_SPACE),
        "group": case.group,
    }
