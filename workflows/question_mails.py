"""The mails of a question's answer: to the asker (the answer, its correction, the CEREMA
redirection, a closing message, a withdrawal note), and to the reviewer who answered (the
preview of a held answer, the confirmation when it went out). Mails to the asker never carry a
reviewer token; mails to the reviewer always do, so that a reply to them is a command."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from workflows.casework import (
    event_key,
    iso,
    reply_thread,
    requester_mail,
    requester_thread,
    space_label,
)
from workflows.core import SPACES, CaseView, Context, Decision, LogLine, ReviewerReply, SendMail
from workflows.question_routing import DEFAULT_SPACE, gist
from workflows.records import QuestionRecord
from workflows.reviewing import help_reply
from workflows.states import QUESTION_CLOSED as CLOSED_STATES
from workflows.text.fold import fold_words
from workflows.text.help_texts import HELP_TEXT_QUESTION

PARIS = ZoneInfo("Europe/Paris")
_GREETING = re.compile(
    r"^(?:bonjour|bonsoir|madame|monsieur|mesdames|messieurs|cher|chere|chers|cheres|"
    r"mme|m|mr|mlle|salut|hello)(?: |$)"
)
_MONTHS = (
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
).split()


def opens_with_greeting(text: str | None) -> bool:
    """« Bonjour Madame Garnier, », « Madame, », « Bonjour, »…: the reviewer greets the asker
    already, so the template adds no greeting of its own."""
    for line in (text or "").split("\n"):
        if line.strip():
            words = fold_words(line)
            # A formula, not a sentence: « Bonjour Madame Garnier, » but not « Monsieur le
            # maire a transmis la délibération. »
            formula = line.rstrip().endswith((",", "!")) or len(words.split()) <= 3
            return formula and len(line.strip()) <= 80 and bool(_GREETING.match(words))
    return False


def paris_time(moment: datetime) -> str:
    """« 14 h 32 » (Paris time), as the preview says when the answer goes out."""
    local = moment.astimezone(PARIS)
    return f"{local.hour}\u00a0h\u00a0{local.minute:02d}"


def paris_date(moment: datetime) -> str:
    """« 7 décembre 2026 » (Paris time)."""
    local = moment.astimezone(PARIS)
    day = "1er" if local.day == 1 else str(local.day)
    return f"{day} {_MONTHS[local.month - 1]} {local.year}"


def correction_mark(moment: datetime) -> str:
    return f"Réponse corrigée le {paris_date(moment)}."


def answered_excerpt(data: QuestionRecord) -> str:
    """What the answer answers: the asker's latest follow-up when the question was reopened,
    else the question itself."""
    reopened = [f for f in data.followups if f.after_answer]
    if reopened:
        return gist(replace(data, question=reopened[-1].text))
    return gist(data)


def answer_mail(
    case: CaseView,
    data: QuestionRecord,
    answer: str,
    url: str | None,
    version: int | None,
    space: str | None,
    *,
    key: str,
    corrected: bool = False,
) -> SendMail:
    """`question_answer`: the answer (or its correction) to the asker, in their thread."""
    context = {
        "answer": answer,
        "url": url,
        "version": version,
        "published": url is not None,
        "space_label": space_label(space or DEFAULT_SPACE),
        "question_excerpt": answered_excerpt(data),
        "greets": opens_with_greeting(answer),
        "corrected": corrected,
    }
    return requester_mail(
        case, "question_answer", context, key=key, thread=requester_thread(case, data)
    )


def cerema_mail(
    case: CaseView,
    ctx: Context,
    data: QuestionRecord,
    reviewer_text: str | None,
    *,
    automatic: bool,
) -> SendMail:
    """`question_cerema`: HORS PÉRIMÈTRE, with the reviewer's text when there is one."""
    context = {
        "cerema_url": ctx.cerema_url,
        "reviewer_text": reviewer_text,
        "automatic": automatic,
        "question_excerpt": answered_excerpt(data),
        "greets": opens_with_greeting(reviewer_text),
    }
    return requester_mail(
        case,
        "question_cerema",
        context,
        key=f"cerema:{data.round}",
        thread=requester_thread(case, data),
        auto=automatic,
    )


def asker_note(
    case: CaseView, data: QuestionRecord, action: str, text: str, *, key: str
) -> SendMail:
    """`question_closed`: CLASSER's message (`action="closed"`) or RETIRER's
    (`action="withdrawn"`) to the asker."""
    context = {
        "action": action,
        "text": text,
        "question_excerpt": answered_excerpt(data),
        "greets": opens_with_greeting(text),
    }
    return requester_mail(
        case, "question_closed", context, key=key, thread=requester_thread(case, data)
    )


def reviewer_notice(
    template: str,
    case: CaseView,
    ctx: Context,
    reviewer: str,
    message_id: str | None,
    references: Sequence[str],
    key_prefix: str,
    **context: Any,
) -> SendMail:
    """A mail to the reviewer who acts on the answer, threaded under their reply, carrying
    their token (a reply to it is a command: ANNULER, PUBLIER, CORRIGER, RETIRER…)."""
    return SendMail(
        template=template,
        to=(reviewer,),
        context={
            "requester": case.requester,
            "requester_name": case.requester_name,
            "subject": case.subject,
            **context,
        },
        key=event_key(key_prefix, message_id, iso(ctx.now)),
        reviewer=reviewer,
        **reply_thread(message_id, references),
    )


def question_help(
    case: CaseView,
    event: ReviewerReply,
    ctx: Context,
    problem: str | None,
    log: list[LogLine],
    value: str | None = None,
) -> Decision:
    """`review_help` on a question: nothing was done, `problem` says why."""
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
