"""Answers are held (CONTRACTS.md, "Answers are held"): a reviewer's answer on a question
(published, mail-only, HORS PÉRIMÈTRE, CLASSER with a message) waits `publish_delay_minutes`
in the `held` state, the reviewer gets a preview at once, and the `hold` timer (a row in the
database, so it survives restarts) sends it. During the hold the reviewer who answered may
reply ANNULER, PUBLIER (or an approval phrasing: send now), CLASSER, or a new text, which
replaces the held answer; another member's answer is refused, naming who holds the case.

With `publish_delay_minutes = 0` the same answer is released at once, as before the hold."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from workflows import group_review
from workflows.casework import finish, ignored, iso, question_record, space_label
from workflows.core import (
    SPACES,
    CancelTimers,
    CaseView,
    Context,
    Decision,
    Effect,
    LogLine,
    Publish,
    ReviewerReply,
    SendMail,
    SetTimer,
    TimerFired,
)
from workflows.publication import public_text
from workflows.question_mails import (
    answer_mail,
    asker_note,
    cerema_mail,
    paris_time,
    question_help,
    reviewer_notice,
)
from workflows.question_routing import DEFAULT_SPACE, published_question
from workflows.records import Answer, HeldAnswer, PendingAnswer, QuestionRecord
from workflows.reviewing import (
    REVIEW_TIMERS,
    confirmation,
    parse_errors,
    review_timers,
    settled,
)
from workflows.states import QUESTION_CLOSED as CLOSED_STATES
from workflows.states import QuestionState
from workflows.text.hold_commands import read_hold_command

HOLD_TIMER = "hold"
# The confirmation each outcome gets when it goes out at once (publish_delay_minutes = 0).
_ACTIONS = {"not_published": "not_published", "redirected": "redirect", "closed": "closed"}


def directives_of(directives: tuple[str, ...]) -> dict[str, Any]:
    """The question directives of a reply (workflows.text.directives), by name."""
    found: dict[str, Any] = {"no_publish": False, "out_of_scope": False}
    for directive in directives:
        keyword, _, value = directive.partition(":")
        keyword, value = keyword.strip(), value.strip()
        if keyword == "NE PAS PUBLIER":
            found["no_publish"] = True
        elif keyword == "HORS PÉRIMÈTRE":
            found["out_of_scope"] = True
        elif keyword == "ESPACE" and value:
            found["space"] = value.lower()
        elif keyword == "QUESTION" and value:
            found["question"] = value
        elif keyword == "TRANSFÉRER" and value:
            found["transfer"] = value.lower()
    return found


def record_answer(
    data: QuestionRecord, by: str | None, ctx: Context, text: str | None, outcome: str
) -> QuestionRecord:
    answer = Answer(at=iso(ctx.now), by=by, text=text, outcome=outcome, round=data.round)
    return replace(
        data,
        answers=(*data.answers, answer),
        outcome=outcome,
        answered_by=by,
        answered_at=iso(ctx.now),
    )


# --------------------------------------------------------------------------- preparing


def prepare(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    data: QuestionRecord,
    answer: str,
    *,
    close: bool = False,
) -> HeldAnswer | tuple[str, str | None]:
    """What the reply will do once released, or the help problem (and its value) that stops
    it. Protective directives win: HORS PÉRIMÈTRE over everything, NE PAS PUBLIER over
    publication (fail closed)."""
    found = directives_of(event.directives)
    space = found.get("space") or case.space or DEFAULT_SPACE
    if close:
        outcome = "closed"
    elif found["out_of_scope"]:
        outcome = "redirected"
    elif space not in SPACES:
        return "unknown_space", found.get("space")
    elif not answer:
        return "empty_answer", None
    else:
        outcome = "not_published" if found["no_publish"] else "published"
    # A reworded question (QUESTION :) is the reviewer's text: scrubbed like the answer.
    reworded = found.get("question")
    question = public_text(case, event, ctx, reworded) if reworded else published_question(data)
    public = ""
    if outcome == "published":
        # Published without the greeting, the signature, the asker's or the reviewer's name
        # and contacts; the administration's own (`keep_contacts`) stay.
        public = public_text(case, event, ctx, answer)
        if data.published_answer and data.publications:
            public = f"{data.published_answer}\n\nRéponse complémentaire : {public}"
    return HeldAnswer(
        outcome=outcome,
        space=space if space in SPACES else DEFAULT_SPACE,
        question=question,
        answer=public,
        mail_answer=answer or None,
        by=event.reviewer,
        at="",
        due_at="",
        seq=0,
        reviewer_message_id=event.message_id,
        reviewer_references=tuple(event.references),
        notes=parse_errors(event),
    )


def submit(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    data: QuestionRecord,
    held: HeldAnswer,
    log: list[LogLine],
) -> Decision:
    """Hold the answer (the preview goes to the reviewer), or release it at once when the
    delay is 0."""
    held = replace(held, at=iso(ctx.now))
    if ctx.publish_delay_minutes <= 0:
        decision = release(case, ctx, data, held, log, event=event)
        taken = group_review.taken_over(case, ctx, event.reviewer, "answer")
        updates = {"assignee": event.reviewer, **decision.updates}
        return replace(decision, updates=updates, effects=(*decision.effects, *taken))
    seq = data.holds + 1
    due = ctx.now + timedelta(minutes=ctx.publish_delay_minutes)
    replacing = data.held is not None
    held = replace(held, seq=seq, due_at=iso(due))
    data = replace(data, held=held, holds=seq)
    preview = _preview(case, ctx, data, held, event, due, replacing=replacing)
    log.append(
        LogLine(
            "answer_held",
            {"by": event.reviewer, "outcome": held.outcome, "until": iso(due), "seq": seq},
        )
    )
    return settled(
        case,
        QuestionState.HELD,
        CLOSED_STATES,
        event,
        data=data,
        effects=[SetTimer(HOLD_TIMER, HOLD_TIMER, due, {"seq": seq}), preview],
        log=log,
        updates={"space": held.space},
        ctx=ctx,
        action="answer_held",
    )


def _preview(
    case: CaseView,
    ctx: Context,
    data: QuestionRecord,
    held: HeldAnswer,
    event: ReviewerReply,
    due: datetime,
    *,
    replacing: bool,
) -> SendMail:
    asker_mail = _asker_mail(case, ctx, data, held, preview=True)
    context: dict[str, Any] = {
        **(asker_mail.context if asker_mail else {}),  # the asker's mail, shown as it will go
        "outcome": held.outcome,
        "mail_template": asker_mail.template if asker_mail else None,
        "mail_answer": held.mail_answer,
        "published_question": held.question if held.outcome == "published" else None,
        "published_answer": held.answer if held.outcome == "published" else None,
        "space_label": space_label(held.space),
        "at_time": paris_time(due),
        "delay_minutes": ctx.publish_delay_minutes,
        "replacing": replacing,
        "parse_errors": list(held.notes),
    }
    return reviewer_notice(
        "question_preview",
        case,
        ctx,
        event.reviewer,
        event.message_id,
        event.references,
        f"preview:{held.seq}",
        **context,
    )


# --------------------------------------------------------------------------- releasing


def _asker_mail(
    case: CaseView, ctx: Context, data: QuestionRecord, held: HeldAnswer, *, preview: bool
) -> SendMail | None:
    """The mail the asker gets when `held` goes out (a published answer's once the portal
    has answered: see question_review.on_published), or None (CLASSER without a message)."""
    text = held.mail_answer
    if held.outcome == "redirected":
        return cerema_mail(case, ctx, data, text, automatic=False)
    if held.outcome == "closed":
        if not text:
            return None
        return asker_note(case, data, "closed", text, key=f"closed:{data.round}")
    if held.outcome == "published":
        if not preview:
            return None
        # What the portal will answer: the case's page, one version more.
        url = f"{ctx.portal_base_url.rstrip('/')}/espaces/{held.space}/questions/{case.ref}"
        version = len(data.publications) + 1
        return answer_mail(case, data, text or "", url, version, held.space, key="preview")
    return answer_mail(case, data, text or "", None, None, held.space, key=f"answer:{data.round}")


def release(
    case: CaseView,
    ctx: Context,
    data: QuestionRecord,
    held: HeldAnswer,
    log: list[LogLine],
    *,
    event: ReviewerReply | None = None,
) -> Decision:
    """`held` goes out: published (the portal's `Published` then mails the asker), mailed
    only, redirected to CEREMA or closed. `event` set: at once, without a hold (the
    reviewer's usual confirmation); else the hold ended and the reviewer gets a short one."""
    data = replace(data, held=None)
    effects: list[Effect] = [CancelTimers(REVIEW_TIMERS), CancelTimers((HOLD_TIMER,))]
    if held.outcome == "published":
        pending = PendingAnswer(
            space=held.space,
            question=held.question,
            answer=held.answer,
            mail_answer=held.mail_answer or "",
            by=held.by,
            at=held.at,
            reviewer_message_id=held.reviewer_message_id,
            reviewer_references=held.reviewer_references,
            notes=held.notes,
            held=event is None,
        )
        effects.append(Publish(space=held.space, question=held.question, answer=held.answer))
        log.append(LogLine("answer_submitted", {"space": held.space, "by": held.by}))
        return finish(
            case,
            QuestionState.PUBLISHING,
            CLOSED_STATES,
            data=replace(data, pending=pending),
            effects=effects,
            log=log,
            updates={"space": held.space},
        )
    mail = _asker_mail(case, ctx, data, held, preview=False)
    effects += [mail] if mail else []
    data = record_answer(data, held.by, ctx, held.mail_answer, held.outcome)
    if event is not None:
        action = _ACTIONS[held.outcome]
        effects.append(
            confirmation(case, event, ctx, action, f"confirm:{action}", text=held.mail_answer)
        )
    else:
        effects.append(released_notice(case, ctx, held, held.outcome))
    log.append(LogLine(_LOG[held.outcome], {"to": case.requester, "by": held.by}))
    return finish(case, QuestionState.ANSWERED, CLOSED_STATES, data=data, effects=effects, log=log)


_LOG = {
    "not_published": "answer_mailed",
    "redirected": "redirected_cerema",
    "closed": "case_closed_without_answer",
}


def released_notice(
    case: CaseView,
    ctx: Context,
    held: HeldAnswer | PendingAnswer,
    action: str,
    **context: Any,
) -> SendMail:
    """`question_released`: the one-line confirmation that the answer went out, with the
    reviewer's token (a reply to it may be CORRIGER or RETIRER)."""
    return reviewer_notice(
        "question_released",
        case,
        ctx,
        held.by,
        held.reviewer_message_id,
        held.reviewer_references,
        f"released:{action}",
        action=action,
        url=context.get("url"),
        version=context.get("version"),
        space_label=space_label(held.space),
    )


def on_hold_timer(case: CaseView, event: TimerFired, ctx: Context) -> Decision:
    """The hold ended: the held answer goes out (a timer of a replaced or cancelled answer
    only logs)."""
    data = question_record(case)
    held = data.held
    seq = int(event.data.get("seq", -1))
    if case.state != QuestionState.HELD or held is None or held.seq != seq:
        return ignored(case, CLOSED_STATES, "timer_stale", kind=event.kind, state=case.state)
    log = [LogLine("hold_ended", {"seq": seq, "by": held.by})]
    return release(case, ctx, data, held, log)


# --------------------------------------------------------------------------- during the hold


def on_held_reply(
    case: CaseView, event: ReviewerReply, ctx: Context, log: list[LogLine]
) -> Decision:
    """A reviewer's reply while an answer is held."""
    data = question_record(case)
    held = data.held
    if held is None:  # a record written by hand: treat the case as open again
        return question_help(case, event, ctx, "nothing_held", log)
    if event.reviewer != held.by:
        log.append(LogLine("hold_refused", {"by": event.reviewer, "held_by": held.by}))
        return question_help(case, event, ctx, "held_by_other", log, value=held.by)
    answer = event.new_text.strip()
    command = read_hold_command(answer, approval_means_publish=True, strict=True)
    verb = command.verb if command else None
    if verb == "ANNULER":
        return _cancel(case, event, ctx, data, log)
    if verb == "PUBLIER":
        log.append(LogLine("hold_published_now", {"by": event.reviewer, "seq": held.seq}))
        decision = release(case, ctx, data, held, log)
        return replace(decision, updates={"assignee": event.reviewer, **decision.updates})
    if verb == "RETIRER":
        return question_help(case, event, ctx, "nothing_published", log)
    if "transfer" in directives_of(event.directives):
        return question_help(case, event, ctx, "hold_pending", log)
    text = command.text if command and verb in ("CORRIGER", "CLASSER") else answer
    prepared = prepare(case, event, ctx, data, text, close=verb == "CLASSER")
    if isinstance(prepared, tuple):
        return question_help(case, event, ctx, prepared[0], log, value=prepared[1])
    log.append(LogLine("hold_replaced", {"by": event.reviewer, "seq": held.seq}))
    return submit(case, event, ctx, data, prepared, log)


def _cancel(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    data: QuestionRecord,
    log: list[LogLine],
) -> Decision:
    """ANNULER: nothing goes out; the question waits for an answer again (with its reviewer
    reminders)."""
    data = replace(data, held=None)
    log.append(LogLine("hold_cancelled", {"by": event.reviewer}))
    effects: list[Effect] = [
        CancelTimers((HOLD_TIMER,)),
        *review_timers(ctx, data.round),
        confirmation(case, event, ctx, "cancelled", "confirm:cancelled"),
    ]
    return finish(case, QuestionState.OPEN, CLOSED_STATES, data=data, effects=effects, log=log)
