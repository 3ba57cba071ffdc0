"""After an answer went out (CONTRACTS.md, "Answers are held"): a reviewer's reply to the
preview or to the confirmation may be PUBLIER after a RETIRER (the withdrawn text published
again as a new version), CORRIGER <texte> (a published answer: version n+1 marked
« Réponse corrigée le … », and the correction mailed to the asker; a mail-only answer: the
correction mailed), RETIRER [texte] (the publication withdrawn; the asker is mailed only when
the reviewer wrote a text) or AIDE. Anything else gets a help mail pointing to CORRIGER: the
answer has gone, a new text changes nothing by itself."""

from __future__ import annotations

from dataclasses import replace

from workflows.casework import finish, iso, question_record
from workflows.core import (
    CaseView,
    Context,
    Decision,
    Effect,
    LogLine,
    Publish,
    ReviewerReply,
    Withdraw,
)
from workflows.publication import public_text
from workflows.question_mails import answer_mail, asker_note, correction_mark, question_help
from workflows.records import Answer, PendingAnswer, QuestionRecord
from workflows.reviewing import confirmation, parse_errors
from workflows.states import QUESTION_CLOSED as CLOSED_STATES
from workflows.states import QuestionState
from workflows.text.hold_commands import read_hold_command

# The outcomes of an answer that CORRIGER may correct.
_ANSWERED = frozenset({"published", "not_published", "corrected"})


def is_online(data: QuestionRecord) -> bool:
    """A published answer that is still on the portal."""
    return bool(data.publications) and data.withdrawn_at is None and data.outcome != "closed"


def on_after(case: CaseView, event: ReviewerReply, ctx: Context, log: list[LogLine]) -> Decision:
    """A reviewer's reply on an answered question."""
    data = question_record(case)
    command = read_hold_command(event.new_text.strip())
    if data.outcome not in _ANSWERED:  # CLASSER or HORS PÉRIMÈTRE: no answer to correct
        return question_help(case, event, ctx, "already_closed", log)
    if command is not None and command.verb == "PUBLIER" and _withdrawn(data):
        return _republish(case, event, ctx, data, log)
    if command is None or command.verb in ("ANNULER", "PUBLIER"):
        log.append(LogLine("answer_already_sent", {"by": event.reviewer}))
        return question_help(case, event, ctx, "hold_over", log)
    if command.verb == "CLASSER":
        return question_help(case, event, ctx, "already_closed", log)
    if command.verb == "RETIRER":
        return _withdraw(case, event, ctx, data, command.text, log)
    if not command.text:
        return question_help(case, event, ctx, "empty_correction", log)
    return _correct(case, event, ctx, data, command.text, log)


def _withdrawn(data: QuestionRecord) -> bool:
    """A published answer that was withdrawn (RETIRER) and may be put back."""
    return bool(data.publications) and data.withdrawn_at is not None and bool(data.published_answer)


def _republish(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    data: QuestionRecord,
    log: list[LogLine],
) -> Decision:
    """PUBLIER after RETIRER: the last published text again, as a new version (the asker was
    mailed that answer already and is not mailed again)."""
    space = data.publications[-1].space
    question = data.published_question_text or data.published_question
    answer = data.published_answer or ""
    last = data.answers[-1].text if data.answers else None
    pending = PendingAnswer(
        space=space,
        question=question,
        answer=answer,
        mail_answer=last or answer,
        by=event.reviewer,
        at=iso(ctx.now),
        reviewer_message_id=event.message_id,
        reviewer_references=tuple(event.references),
        held=True,
    )
    log.append(LogLine("republish_submitted", {"by": event.reviewer, "space": space}))
    return finish(
        case,
        QuestionState.PUBLISHING,
        CLOSED_STATES,
        data=replace(data, pending=pending),
        effects=[Publish(space=space, question=question, answer=answer)],
        log=log,
    )


def _correct(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    data: QuestionRecord,
    text: str,
    log: list[LogLine],
) -> Decision:
    mark = correction_mark(ctx.now)
    if is_online(data):
        public = public_text(case, event, ctx, text)
        public = f"{public}\n\n{mark}"
        space = data.publications[-1].space
        question = data.published_question_text or data.published_question
        pending = PendingAnswer(
            space=space,
            question=question,
            answer=public,
            mail_answer=text,
            by=event.reviewer,
            at=iso(ctx.now),
            reviewer_message_id=event.message_id,
            reviewer_references=tuple(event.references),
            notes=parse_errors(event),
            correction=True,
            held=True,
        )
        log.append(LogLine("correction_submitted", {"by": event.reviewer, "space": space}))
        return finish(
            case,
            QuestionState.PUBLISHING,
            CLOSED_STATES,
            data=replace(data, pending=pending),
            effects=[Publish(space=space, question=question, answer=public)],
            log=log,
        )
    # Mailed only (NE PAS PUBLIER, or withdrawn): the correction goes to the asker alone.
    count = sum(1 for a in data.answers if a.outcome == "corrected") + 1
    mail = answer_mail(
        case, data, text, None, None, case.space, key=f"correction:mail:{count}", corrected=True
    )
    answered = replace(
        data, answers=(*data.answers, _corrected(data, event, ctx, text)), answered_at=iso(ctx.now)
    )
    confirmed = confirmation(case, event, ctx, "corrected", "confirm:corrected", text=text)
    log.append(LogLine("answer_corrected", {"by": event.reviewer, "published": False}))
    return finish(
        case,
        QuestionState.ANSWERED,
        CLOSED_STATES,
        data=answered,
        effects=[mail, confirmed],
        log=log,
    )


def _corrected(data: QuestionRecord, event: ReviewerReply, ctx: Context, text: str) -> Answer:
    return Answer(
        at=iso(ctx.now), by=event.reviewer, text=text, outcome="corrected", round=data.round
    )


def _withdraw(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    data: QuestionRecord,
    text: str,
    log: list[LogLine],
) -> Decision:
    if not is_online(data):
        return question_help(case, event, ctx, "nothing_published", log)
    effects: list[Effect] = [Withdraw()]
    if text:
        count = len(data.publications)
        effects.append(asker_note(case, data, "withdrawn", text, key=f"withdrawn:{count}"))
    effects.append(
        confirmation(case, event, ctx, "withdrawn", "confirm:withdrawn", text=text or None)
    )
    data = replace(data, withdrawn_at=iso(ctx.now))
    log.append(LogLine("answer_withdrawn", {"by": event.reviewer, "asker_mailed": bool(text)}))
    return finish(case, QuestionState.ANSWERED, CLOSED_STATES, data=data, effects=effects, log=log)
