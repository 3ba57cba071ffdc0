"""The record a case keeps (the JSON `data` column of `mail_case`), typed per kind of case.

A record is frozen: a workflow changes it with `dataclasses.replace` and returns the new one in
its `Decision`. `from_json` reads any row written so far, missing keys taking their defaults
(and unknown top-level keys kept in `extra`, written back as they were); `to_json` writes the
same keys as before, so rows stay readable by older code and by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from workflows.states import CaseKind
from workflows.text.triage import TriageResult

__all__ = [
    "Answer",
    "CaseRecord",
    "Failure",
    "Followup",
    "InfoRequest",
    "Invitation",
    "Note",
    "PendingAnswer",
    "Person",
    "Publication",
    "record_from_json",
    "QuestionRecord",
    "ReviewDecision",
    "Similar",
    "SubscriptionRecord",
    "Transfer",
]

Json = dict[str, Any]
_T = TypeVar("_T")

# --------------------------------------------------------------------------- tolerant readers


def _str(value: object, default: str = "") -> str:
    return default if value is None else str(value)


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _int(value: object, default: int = 0) -> int:
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return default


def _opt_int(value: object) -> int | None:
    return None if value is None else _int(value)


def _strs(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(str(v) for v in value if v is not None)


def _ints(value: object) -> tuple[int, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(_int(v) for v in value)


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _items(value: object, read: Callable[[Mapping[str, Any]], _T]) -> tuple[_T, ...]:
    """The items of a JSON list of objects (anything else in it is skipped)."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple(read(item) for item in value if isinstance(item, Mapping))


def _extra(data: Mapping[str, Any], known: Sequence[str]) -> Mapping[str, Any]:
    return {k: v for k, v in data.items() if k not in known}


# --------------------------------------------------------------------------- shared items


@dataclass(frozen=True)
class Note:
    """Words of the requester, with their time."""

    at: str
    text: str

    def to_json(self) -> Json:
        return {"at": self.at, "text": self.text}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Note:
        return cls(at=_str(data.get("at")), text=_str(data.get("text")))


# --------------------------------------------------------------------------- subscription


@dataclass(frozen=True)
class Person:
    """One row of the annex table; `number` is its place in the list reviewers see (1, 2…)."""

    number: int
    email: str
    row: int | None = None
    requester_type: str | None = None
    organisation: str | None = None
    on_behalf_of: str | None = None
    siren: str | None = None
    insee_code: str | None = None
    last_name: str | None = None
    first_name: str | None = None
    job_title: str | None = None
    phone: str | None = None
    spaces: tuple[str, ...] = ("accueil",)

    def to_json(self) -> Json:
        return {
            "row": self.row,
            "requester_type": self.requester_type,
            "organisation": self.organisation,
            "on_behalf_of": self.on_behalf_of,
            "siren": self.siren,
            "insee_code": self.insee_code,
            "last_name": self.last_name,
            "first_name": self.first_name,
            "job_title": self.job_title,
            "email": self.email,
            "phone": self.phone,
            "spaces": list(self.spaces),
            "number": self.number,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Person:
        return cls(
            number=_int(data.get("number")),
            email=_str(data.get("email")).strip().lower(),
            row=_opt_int(data.get("row")),
            requester_type=_opt_str(data.get("requester_type")),
            organisation=_opt_str(data.get("organisation")),
            on_behalf_of=_opt_str(data.get("on_behalf_of")),
            siren=_opt_str(data.get("siren")),
            insee_code=_opt_str(data.get("insee_code")),
            last_name=_opt_str(data.get("last_name")),
            first_name=_opt_str(data.get("first_name")),
            job_title=_opt_str(data.get("job_title")),
            phone=_opt_str(data.get("phone")),
            spaces=_strs(data.get("spaces")) or ("accueil",),
        )


@dataclass(frozen=True)
class InfoRequest:
    """A reviewer's COMPLÉTER."""

    at: str
    by: str
    text: str

    def to_json(self) -> Json:
        return {"at": self.at, "by": self.by, "text": self.text}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InfoRequest:
        return cls(_str(data.get("at")), _str(data.get("by")), _str(data.get("text")))


@dataclass(frozen=True)
class ReviewDecision:
    """A reviewer's APPROUVER (`approved`/`refused` numbers) or REFUSER (`reason`)."""

    verb: str
    by: str | None
    by_name: str | None
    at: str | None
    approved: tuple[int, ...] | None = None
    refused: tuple[int, ...] | None = None
    reason: str | None = None

    def to_json(self) -> Json:
        data: Json = {"verb": self.verb, "by": self.by, "by_name": self.by_name, "at": self.at}
        if self.approved is not None:
            data["approved"] = list(self.approved)
        if self.refused is not None:
            data["refused"] = list(self.refused)
        if self.reason is not None:
            data["reason"] = self.reason
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReviewDecision:
        return cls(
            verb=_str(data.get("verb")),
            by=_opt_str(data.get("by")),
            by_name=_opt_str(data.get("by_name")),
            at=_opt_str(data.get("at")),
            approved=_ints(data["approved"]) if data.get("approved") is not None else None,
            refused=_ints(data["refused"]) if data.get("refused") is not None else None,
            reason=_opt_str(data.get("reason")),
        )


@dataclass(frozen=True)
class Invitation:
    """What became of one person's account: `sent` (pending), `existing`, `used`, `expired`,
    `failed`."""

    status: str
    spaces: tuple[str, ...] = ()
    sent_at: str | None = None
    expires_at: str | None = None

    def to_json(self) -> Json:
        return {
            "status": self.status,
            "spaces": list(self.spaces),
            "sent_at": self.sent_at,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Invitation:
        return cls(
            status=_str(data.get("status")),
            spaces=_strs(data.get("spaces")),
            sent_at=_opt_str(data.get("sent_at")),
            expires_at=_opt_str(data.get("expires_at")),
        )


@dataclass(frozen=True)
class Failure:
    """A mail of the case that could not be delivered."""

    at: str
    to: str
    template: str
    reason: str

    def to_json(self) -> Json:
        return {"at": self.at, "to": self.to, "template": self.template, "reason": self.reason}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Failure:
        return cls(
            _str(data.get("at")),
            _str(data.get("to")),
            _str(data.get("template")),
            _str(data.get("reason")),
        )


_SUBSCRIPTION_KEYS = (
    "round",
    "tables",
    "people",
    "notes",
    "info_requests",
    "history",
    "decision",
    "invitations",
    "last_message_id",
    "annex_filename",
    "warnings",
    "table_received_at",
    "failures",
)


@dataclass(frozen=True)
class SubscriptionRecord:
    """A subscription case: the people of its latest usable table, what the requester wrote,
    the reviewers' requests and decisions, the invitations sent after an approval."""

    round: int = 0  # notification rounds so far (timers carry theirs)
    tables: int = 0  # tables received, usable or not
    people: tuple[Person, ...] = ()
    notes: tuple[Note, ...] = ()
    info_requests: tuple[InfoRequest, ...] = ()
    history: tuple[ReviewDecision, ...] = ()  # decisions a later table set aside
    decision: ReviewDecision | None = None
    invitations: Mapping[str, Invitation] = field(default_factory=dict)  # by e-mail
    last_message_id: str | None = None
    annex_filename: str | None = None
    warnings: tuple[str, ...] = ()
    table_received_at: str | None = None
    failures: tuple[Failure, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys of a newer version, kept

    def to_json(self) -> Json:
        return {
            **self.extra,
            "round": self.round,
            "tables": self.tables,
            "people": [p.to_json() for p in self.people],
            "notes": [n.to_json() for n in self.notes],
            "info_requests": [r.to_json() for r in self.info_requests],
            "history": [d.to_json() for d in self.history],
            "decision": self.decision.to_json() if self.decision else None,
            "invitations": {e: i.to_json() for e, i in self.invitations.items()},
            "last_message_id": self.last_message_id,
            "annex_filename": self.annex_filename,
            "warnings": list(self.warnings),
            "table_received_at": self.table_received_at,
            "failures": [f.to_json() for f in self.failures],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SubscriptionRecord:
        decision = data.get("decision")
        invitations = _map(data.get("invitations"))
        return cls(
            round=_int(data.get("round")),
            tables=_int(data.get("tables")),
            people=_items(data.get("people"), Person.from_json),
            notes=_items(data.get("notes"), Note.from_json),
            info_requests=_items(data.get("info_requests"), InfoRequest.from_json),
            history=_items(data.get("history"), ReviewDecision.from_json),
            decision=ReviewDecision.from_json(decision) if isinstance(decision, Mapping) else None,
            invitations={
                str(email).lower(): Invitation.from_json(item)
                for email, item in invitations.items()
                if isinstance(item, Mapping)
            },
            last_message_id=_opt_str(data.get("last_message_id")),
            annex_filename=_opt_str(data.get("annex_filename")),
            warnings=_strs(data.get("warnings")),
            table_received_at=_opt_str(data.get("table_received_at")),
            failures=_items(data.get("failures"), Failure.from_json),
            extra=_extra(data, _SUBSCRIPTION_KEYS),
        )

    def person(self, email: str) -> Person | None:
        return next((p for p in self.people if p.email == email.lower()), None)


# --------------------------------------------------------------------------- question


@dataclass(frozen=True)
class Similar:
    """A published answer shown in the acknowledgement (`workflows.core.SimilarAnswer`)."""

    case_ref: str
    space_label: str
    question: str
    url: str

    def to_json(self) -> Json:
        return {
            "case_ref": self.case_ref,
            "space_label": self.space_label,
            "question": self.question,
            "url": self.url,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Similar:
        return cls(
            _str(data.get("case_ref")),
            _str(data.get("space_label")),
            _str(data.get("question")),
            _str(data.get("url")),
        )


@dataclass(frozen=True)
class Followup:
    """More from the asker: `published` is the text without personal data."""

    at: str
    text: str
    published: str
    after_answer: bool = False

    def to_json(self) -> Json:
        return {
            "at": self.at,
            "text": self.text,
            "published": self.published,
            "after_answer": self.after_answer,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Followup:
        return cls(
            at=_str(data.get("at")),
            text=_str(data.get("text")),
            published=_str(data.get("published")),
            after_answer=bool(data.get("after_answer")),
        )


@dataclass(frozen=True)
class Answer:
    """One outcome of a round: `published`, `not_published` or `redirected` (CEREMA)."""

    at: str
    by: str | None  # None: redirected automatically
    text: str | None
    outcome: str
    round: int

    def to_json(self) -> Json:
        return {
            "at": self.at,
            "by": self.by,
            "text": self.text,
            "outcome": self.outcome,
            "round": self.round,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Answer:
        return cls(
            at=_str(data.get("at")),
            by=_opt_str(data.get("by")),
            text=_opt_str(data.get("text")),
            outcome=_str(data.get("outcome")),
            round=_int(data.get("round")),
        )


@dataclass(frozen=True)
class Publication:
    space: str
    version: int
    url: str
    at: str
    by: str

    def to_json(self) -> Json:
        return {
            "space": self.space,
            "version": self.version,
            "url": self.url,
            "at": self.at,
            "by": self.by,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Publication:
        return cls(
            space=_str(data.get("space")),
            version=_int(data.get("version")),
            url=_str(data.get("url")),
            at=_str(data.get("at")),
            by=_str(data.get("by")),
        )


@dataclass(frozen=True)
class Transfer:
    """TRANSFÉRER: the question moved from one reviewer group to another."""

    at: str
    by: str
    from_group: str | None  # "from" in JSON
    to: str

    def to_json(self) -> Json:
        return {"at": self.at, "by": self.by, "from": self.from_group, "to": self.to}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Transfer:
        return cls(
            at=_str(data.get("at")),
            by=_str(data.get("by")),
            from_group=_opt_str(data.get("from")),
            to=_str(data.get("to")),
        )


@dataclass(frozen=True)
class PendingAnswer:
    """An answer sent to the portal, until its `Published` comes back: what is mailed to the
    asker then, and how to thread the reviewer's confirmation."""

    space: str
    question: str
    answer: str  # as published
    mail_answer: str  # as mailed to the asker
    by: str
    at: str
    reviewer_message_id: str | None = None
    reviewer_references: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # the directive parser's notes on the reply

    def to_json(self) -> Json:
        return {
            "space": self.space,
            "question": self.question,
            "answer": self.answer,
            "mail_answer": self.mail_answer,
            "by": self.by,
            "at": self.at,
            "reviewer_message_id": self.reviewer_message_id,
            "reviewer_references": list(self.reviewer_references),
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PendingAnswer:
        return cls(
            space=_str(data.get("space")),
            question=_str(data.get("question")),
            answer=_str(data.get("answer")),
            mail_answer=_str(data.get("mail_answer")),
            by=_str(data.get("by")),
            at=_str(data.get("at")),
            reviewer_message_id=_opt_str(data.get("reviewer_message_id")),
            reviewer_references=_strs(data.get("reviewer_references")),
            notes=_strs(data.get("notes")),
        )


_QUESTION_KEYS = (
    "round",
    "round_at",
    "question",
    "published_question",
    "triage",
    "similar",
    "followups",
    "answers",
    "publications",
    "transfers",
    "notes",
    "last_message_id",
    "outcome",
    "answered_by",
    "answered_at",
    "pending",
    "published_question_text",
    "published_answer",
)


@dataclass(frozen=True)
class QuestionRecord:
    """A question case: the question (as asked and as it would be published), its triage, the
    asker's follow-ups, the answers and publications."""

    round: int = 0  # notification rounds so far (timers carry theirs)
    round_at: str | None = None  # when the current round started (what reminders count from)
    question: str = ""
    published_question: str = ""  # the question without personal data
    triage: TriageResult | None = None
    similar: tuple[Similar, ...] = ()
    followups: tuple[Followup, ...] = ()
    answers: tuple[Answer, ...] = ()
    publications: tuple[Publication, ...] = ()
    transfers: tuple[Transfer, ...] = ()
    notes: tuple[Note, ...] = ()  # thanks after the answer (they do not reopen)
    last_message_id: str | None = None
    outcome: str | None = None  # of the latest answer
    answered_by: str | None = None
    answered_at: str | None = None
    pending: PendingAnswer | None = None
    published_question_text: str | None = None
    published_answer: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys of a newer version, kept

    def to_json(self) -> Json:
        return {
            **self.extra,
            "round": self.round,
            "round_at": self.round_at,
            "question": self.question,
            "published_question": self.published_question,
            "triage": self.triage.as_data() if self.triage else None,
            "similar": [s.to_json() for s in self.similar],
            "followups": [f.to_json() for f in self.followups],
            "answers": [a.to_json() for a in self.answers],
            "publications": [p.to_json() for p in self.publications],
            "transfers": [t.to_json() for t in self.transfers],
            "notes": [n.to_json() for n in self.notes],
            "last_message_id": self.last_message_id,
            "outcome": self.outcome,
            "answered_by": self.answered_by,
            "answered_at": self.answered_at,
            "pending": self.pending.to_json() if self.pending else None,
            "published_question_text": self.published_question_text,
            "published_answer": self.published_answer,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QuestionRecord:
        triage = data.get("triage")
        pending = data.get("pending")
        return cls(
            round=_int(data.get("round")),
            round_at=_opt_str(data.get("round_at")),
            question=_str(data.get("question")),
            published_question=_str(data.get("published_question")),
            triage=TriageResult.from_data(triage) if isinstance(triage, Mapping) else None,
            similar=_items(data.get("similar"), Similar.from_json),
            followups=_items(data.get("followups"), Followup.from_json),
            answers=_items(data.get("answers"), Answer.from_json),
            publications=_items(data.get("publications"), Publication.from_json),
            transfers=_items(data.get("transfers"), Transfer.from_json),
            notes=_items(data.get("notes"), Note.from_json),
            last_message_id=_opt_str(data.get("last_message_id")),
            outcome=_opt_str(data.get("outcome")),
            answered_by=_opt_str(data.get("answered_by")),
            answered_at=_opt_str(data.get("answered_at")),
            pending=PendingAnswer.from_json(pending) if isinstance(pending, Mapping) else None,
            published_question_text=_opt_str(data.get("published_question_text")),
            published_answer=_opt_str(data.get("published_answer")),
            extra=_extra(data, _QUESTION_KEYS),
        )


CaseRecord = SubscriptionRecord | QuestionRecord


def record_from_json(kind: CaseKind | str, data: Mapping[str, Any] | None) -> CaseRecord:
    """The record of a case of `kind` from its stored JSON (None or {}: an empty record)."""
    if kind == CaseKind.QUESTION:
        return QuestionRecord.from_json(data or {})
    if kind == CaseKind.SUBSCRIPTION:
        return SubscriptionRecord.from_json(data or {})
    raise ValueError(f"unknown case kind: {kind!r}")
