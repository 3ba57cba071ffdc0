"""A reviewer's reply on a question: the answer and its directives (CONTRACTS.md), then the
portal's `Published`. Protective directives win: HORS PÉRIMÈTRE over everything, NE PAS PUBLIER
over publication (fail closed)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from workflows.casework import (
    finish,
    ignored,
    iso,
    question_record,
    requester_mail,
    requester_thread,
    space_label,
)
from workflows.core import (
    SPACES,
    CaseView,
    Context,
    Decision,
    LogLine,
    Publish,
    Published,
    ReviewerReply,
    SendMail,
)
from workflows.publication import reviewer_identities
from workflows.question_routing import (
    DEFAULT_SPACE,
    gist,
    published_question,
    route,
    space_of_group,
)
from workflows.records import Answer, PendingAnswer, Publication, QuestionRecord, Transfer
from workflows.reviewing import (
    already_decided_reply,
    confirmation,
    help_reply,
    parse_errors,
    reviewer_mail,
    settled,
)
from workflows.states import QUESTION_CLOSED as CLOSED_STATES
from workflows.states import QuestionState
from workflows.text import privacy
from workflows.text.fold import fold_words
from workflows.text.help_texts import HELP_TEXT_QUESTION

# What a reviewer may write on a question when they meant a command, not an answer.
_NOT_AN_ANSWER = frozenset("aide help approuver valider valide refuser completer ok vu".split())


def _directives(directives: tuple[str, ...]) -> dict[str, Any]:
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


def on_reviewer(case: CaseView, event: ReviewerReply, ctx: Context) -> Decision:
    log = [
        LogLine(
            "reviewer_reply",
            {"by": event.reviewer, "directives": ";".join(event.directives) or "-"},
        )
    ]
    answer = event.new_text.strip()
    verb = event.command.verb if event.command is not None else None
    if verb == "AIDE" or fold_words(answer) in ("aide", "help"):
        return _help(case, event, ctx, None, log)
    if case.state != QuestionState.OPEN:
        return _already_answered(case, event, ctx, log)
    if verb is not None or fold_words(answer) in _NOT_AN_ANSWER:
        return _help(case, event, ctx, "command_on_question", log)
    found = _directives(event.directives)
    data = question_record(case)
    if found["out_of_scope"]:
        return redirect(case, ctx, data, event, answer or None, log)
    if "transfer" in found:
        return _transfer(case, event, ctx, data, found["transfer"], answer, log)
    space = found.get("space") or case.space or DEFAULT_SPACE
    if space not in SPACES:
        return _help(case, event, ctx, "unknown_space", log, value=found.get("space"))
    if not answer:
        return _help(case, event, ctx, "empty_answer", log)
    if found["no_publish"]:
        return _answer_privately(case, event, ctx, data, answer, log)
    return _publish(case, event, ctx, data, space, found.get("question"), answer, log)


def _record_answer(
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


def redirect(
    case: CaseView,
    ctx: Context,
    data: QuestionRecord,
    event: ReviewerReply | None,
    reviewer_text: str | None,
    log: list[LogLine],
) -> Decision:
    """HORS PÉRIMÈTRE: the asker is sent to CEREMA; nothing is published."""
    automatic = event is None
    context = {
        "cerema_url": ctx.cerema_url,
        "reviewer_text": reviewer_text,
        "automatic": automatic,
        "question_excerpt": gist(data),
    }
    mail = requester_mail(
        case,
        "question_cerema",
        context,
        key=f"cerema:{data.round}",
        thread=requester_thread(case, data),
        auto=automatic,
    )
    data = _record_answer(data, _reviewer(event), ctx, reviewer_text, "redirected")
    log.append(LogLine("redirected_cerema", {"auto": automatic, "by": _by(event)}))
    if event is None:
        return finish(
            case, QuestionState.ANSWERED, CLOSED_STATES, data=data, effects=[mail], log=log
        )
    confirmed = _confirmation(case, event, ctx, "redirect", text=reviewer_text)
    return settled(
        case,
        QuestionState.ANSWERED,
        CLOSED_STATES,
        event,
        data=data,
        effects=[mail, confirmed],
        log=log,
    )


def _by(event: ReviewerReply | None) -> str:
    return event.reviewer if event else "auto"


def _reviewer(event: ReviewerReply | None) -> str | None:
    return event.reviewer if event else None


def _transfer(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    data: QuestionRecord,
    group: str,
    note: str,
    log: list[LogLine],
) -> Decision:
    if group not in ctx.groups:
        return _help(case, event, ctx, "unknown_group", log, value=group)
    transfer = Transfer(at=iso(ctx.now), by=event.reviewer, from_group=case.group, to=group)
    data = replace(data, transfers=(*data.transfers, transfer))
    space = space_of_group(ctx, group) or case.space
    confirmed = _confirmation(case, event, ctx, "transfer", group=group)
    log.append(LogLine("transferred", {"from": case.group, "to": group, "by": event.reviewer}))
    extra = {
        "transfer_note": note or None,
        "transferred_by": event.reviewer,
        "from_group": case.group,
    }
    return route(case, ctx, data, group, space, "transferred", [confirmed], log, extra=extra)


def _answer_privately(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    data: QuestionRecord,
    answer: str,
    log: list[LogLine],
) -> Decision:
    """NE PAS PUBLIER: the answer goes to the asker only."""
    mail = _answer_mail(case, data, answer, None, None, case.space)
    data = _record_answer(data, event.reviewer, ctx, answer, "not_published")
    confirmed = _confirmation(case, event, ctx, "not_published")
    log.append(LogLine("answer_mailed", {"to": case.requester, "published": False}))
    return settled(
        case,
        QuestionState.ANSWERED,
        CLOSED_STATES,
        event,
        data=data,
        effects=[mail, confirmed],
        log=log,
    )


def _publish(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    data: QuestionRecord,
    space: str,
    wording: str | None,
    answer: str,
    log: list[LogLine],
) -> Decision:
    question_text = wording or published_question(data)
    # The answer is published without the greeting, the signature, the asker's or the
    # reviewer's name and contacts; the administration's own (`keep_contacts`) stay.
    public_answer = privacy.scrub(
        answer,
        case.requester_name,
        case.requester,
        keep_contacts=ctx.keep_contacts,
        identities=reviewer_identities(ctx, event.reviewer, event.reviewer_name),
    )
    previous = data.published_answer
    if previous and data.publications:
        public_answer = f"{previous}\n\nRéponse complémentaire : {public_answer}"
    pending = PendingAnswer(
        space=space,
        question=question_text,
        answer=public_answer,
        mail_answer=answer,
        by=event.reviewer,
        at=iso(ctx.now),
        reviewer_message_id=event.message_id,
        reviewer_references=tuple(event.references),
        notes=parse_errors(event),
    )
    data = replace(data, pending=pending)
    log.append(LogLine("answer_submitted", {"space": space, "by": event.reviewer}))
    return settled(
        case,
        QuestionState.PUBLISHING,
        CLOSED_STATES,
        event,
        data=data,
        effects=[Publish(space=space, question=question_text, answer=public_answer)],
        log=log,
        updates={"space": space},
    )


def on_published(case: CaseView, event: Published, ctx: Context) -> Decision:
    data = question_record(case)
    pending = data.pending
    if case.state != QuestionState.PUBLISHING or not pending:
        return ignored(case, CLOSED_STATES, "published_ignored", state=case.state)
    space = pending.space
    mail = _answer_mail(case, data, pending.mail_answer, event.url, event.version, space)
    publication = Publication(
        space=space, version=event.version, url=event.url, at=iso(ctx.now), by=pending.by
    )
    data = replace(
        data,
        pending=None,
        publications=(*data.publications, publication),
        published_question_text=pending.question,
        published_answer=pending.answer,
    )
    by = pending.by
    data = _record_answer(data, by, ctx, pending.mail_answer, "published")
    confirmed = reviewer_mail(
        "review_confirmation",
        case,
        by,
        pending.reviewer_message_id,
        pending.reviewer_references,
        ctx,
        "confirm:published",
        pending.notes,
        action="published",
        url=event.url,
        version=event.version,
        space_label=space_label(space),
        published_question=pending.question,
        published_answer=pending.answer,
    )
    log = [
        LogLine("answer_published", {"space": space, "version": event.version, "url": event.url}),
        LogLine("answer_mailed", {"to": case.requester, "published": True}),
    ]
    return finish(
        case, QuestionState.ANSWERED, CLOSED_STATES, data=data, effects=[mail, confirmed], log=log
    )


def _answer_mail(
    case: CaseView,
    data: QuestionRecord,
    answer: str,
    url: str | None,
    version: int | None,
    space: str | None,
) -> SendMail:
    context = {
        "answer": answer,
        "url": url,
        "version": version,
        "published": url is not None,
        "space_label": space_label(space or DEFAULT_SPACE),
        "question_excerpt": gist(data),
    }
    key = f"answer:{data.round}"
    return requester_mail(
        case, "question_answer", context, key=key, thread=requester_thread(case, data)
    )


def _confirmation(
    case: CaseView, event: ReviewerReply, ctx: Context, action: str, **context: Any
) -> SendMail:
    # Keyed by action (the subscription workflow's are not): kept as they are, since the keys
    # of mails already in an outbox must not change.
    return confirmation(case, event, ctx, action, f"confirm:{action}", **context)


def _help(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    problem: str | None,
    log: list[LogLine],
    value: str | None = None,
) -> Decision:
    return help_reply(
        case,
        event,
        ctx,
        CLOSED_STATES,
        problem,
        log,
        value=value,
        groups=sorted(ctx.groups),
        spaces=[space_label(s) for s in SPACES],
        help_text=HELP_TEXT_QUESTION,
    )


def _already_answered(
    case: CaseView, event: ReviewerReply, ctx: Context, log: list[LogLine]
) -> Decision:
    data = question_record(case)
    last = data.answers[-1] if data.answers else None
    pending = data.pending
    publishing = case.state == QuestionState.PUBLISHING
    return already_decided_reply(
        case,
        event,
        ctx,
        CLOSED_STATES,
        "already_answered",
        log,
        outcome="publishing" if publishing else (last.outcome if last else None),
        decided_by=(pending.by if pending else None) or (last.by if last else None),
        decided_at=(pending.at if pending else None) or (last.at if last else None),
        url=data.publications[-1].url if data.publications else None,
    )
