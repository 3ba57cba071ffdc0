"""Routing a question to a reviewer group: the notification (with the text that would be
published) and the reviewer timers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from workflows.casework import excerpt, finish, iso, space_label
from workflows.core import (
    SPACES,
    Attachment,
    CaseView,
    Context,
    Decision,
    Effect,
    LogLine,
    SimilarAnswer,
)
from workflows.records import QuestionRecord, Similar
from workflows.reviewing import next_round, notify_round
from workflows.states import QUESTION_CLOSED as CLOSED_STATES
from workflows.states import QuestionState
from workflows.text import privacy
from workflows.text.help_texts import HELP_TEXT_QUESTION
from workflows.text.triage import OUT_OF_SCOPE, TriageResult

DEFAULT_SPACE = "accueil"  # every account sees Accueil (CONTRACTS.md)
MAX_SIMILAR = 3


def gist(data: QuestionRecord) -> str:
    """The question in a few words, as quoted back to the asker or in reminders."""
    question = data.question
    return excerpt(privacy.strip_courtesy(question) or question)


def similar_view(similar: SimilarAnswer) -> Similar:
    return Similar(
        case_ref=similar.case_ref,
        space_label=space_label(similar.space),
        question=excerpt(similar.question, 200),
        url=similar.url,
    )


def space_of_group(ctx: Context, group: str) -> str | None:
    for handle, name in ctx.handles.items():
        kind, _, space = handle.partition(":")
        if name == group and kind == "question" and space in SPACES:
            return space
    return None


def route(
    case: CaseView,
    ctx: Context,
    data: QuestionRecord,
    group: str | None,
    space: str | None,
    stage: str,
    effects: list[Effect],
    log: list[LogLine],
    *,
    attachments: tuple[Attachment, ...] = (),
    extra: Mapping[str, Any] | None = None,
) -> Decision:
    """Notify every member of `group` (a new round) and set the reviewer timers."""
    data = replace(next_round(data), round_at=iso(ctx.now))  # what reminders count from
    round_number = data.round
    context = notify_context(case, ctx, data, group, space, stage, extra or {})
    notified = notify_round(
        ctx, "question_notify", group, context, round_number, stage, tuple(attachments)
    )
    return finish(
        case,
        QuestionState.OPEN,
        CLOSED_STATES,
        data=data,
        effects=effects,
        log=log,
        updates={"group": group, "space": space},
    ).then(notified)


def notify_context(
    case: CaseView,
    ctx: Context,
    data: QuestionRecord,
    group: str | None,
    space: str | None,
    stage: str,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    triage = data.triage or TriageResult(space=None)
    account = ctx.existing_accounts.get(case.requester)
    answers = data.answers
    publications = data.publications
    reasons = triage_reasons(triage)
    return {
        "stage": stage,
        "round": data.round,
        "asker": case.requester,
        "asker_name": case.requester_name,
        "organisation": account.organisation if account else None,
        "subject": case.subject,
        "question": data.question,
        "followups": [f.to_json() for f in data.followups],
        "published_question": published_question(data),
        "space": space,
        "space_label": space_label(space or DEFAULT_SPACE),
        "space_guessed": space is not None,
        "group": group,
        "reasons": reasons,
        "out_of_scope": triage.out_of_scope,
        "out_of_scope_terms": list(triage.out_of_scope_terms),
        "alternative": alternative_view(ctx, triage.alternative),
        "similar": [s.to_json() for s in data.similar],
        "previous_answer": answers[-1].text if answers else None,
        "previous_url": publications[-1].url if publications else None,
        "groups": sorted(ctx.groups),
        "help_text": HELP_TEXT_QUESTION,
        "transfer_note": None,
        "transferred_by": None,
        "from_group": None,
        "followup_text": None,
        **extra,
    }


def triage_reasons(triage: TriageResult) -> list[dict[str, Any]]:
    """Per space, the rule terms and the words the learnt model leaned on (« 2,5 » scores)."""
    names = [*triage.matched, *(n for n in triage.model_terms if n not in triage.matched)]
    return [
        {
            "space_label": space_label(name),
            "score": triage.scores.get(name, 0),
            "score_text": f"{triage.scores.get(name, 0):.1f}".replace(".", ",").replace(",0", ""),
            "terms": list(triage.matched.get(name, ())),
            "learnt": list(triage.model_terms.get(name, ())),
        }
        for name in names
        if name != OUT_OF_SCOPE
    ]


def alternative_view(ctx: Context, alternative: str | None) -> dict[str, Any] | None:
    """The close runner-up, with the group a TRANSFÉRER would name."""
    if alternative is None:
        return None
    if alternative == OUT_OF_SCOPE:
        return {"out_of_scope": True, "space_label": None, "group": None}
    group = ctx.handles.get(f"question:{alternative}")
    return {"out_of_scope": False, "space_label": space_label(alternative), "group": group}


def published_question(data: QuestionRecord) -> str:
    """The question as it would be published: scrubbed, with the asker's later additions."""
    parts = [data.published_question]
    for followup in data.followups:
        label = "Question complémentaire" if followup.after_answer else "Précision"
        parts.append(f"{label} : {followup.published}")
    return "\n\n".join(p for p in parts if p)
