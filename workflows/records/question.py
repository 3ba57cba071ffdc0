"""The typed record of a question case (`QuestionRecord`) and its items."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workflows.records.readers import (
    Json,
    Note,
    _extra,
    _int,
    _items,
    _opt_str,
    _str,
    _strs,
)
from workflows.text.triage_result import TriageResult

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
    correction: bool = False  # CORRIGER: a new version of a published answer
    held: bool = False  # it was held: the reviewer gets the short confirmation

    def to_json(self) -> Json:
        # `correction` and `held` only when set: rows written before read back the same.
        flags = {k: True for k, v in (("correction", self.correction), ("held", self.held)) if v}
        return {
            **flags,
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
            correction=bool(data.get("correction")),
            held=bool(data.get("held")),
        )


@dataclass(frozen=True)
class HeldAnswer:
    """A reviewer's answer held before it goes out (`[questions] publish_delay_minutes`): what
    will happen when the hold ends (`outcome`: `published`, `not_published`, `redirected`,
    `closed`), what the asker will receive (`mail_answer`; None: no mail) and what the portal
    will publish. `seq` counts the holds of the case: the hold timer carries it, so a timer of
    a replaced answer does nothing."""

    outcome: str
    space: str
    question: str
    answer: str  # as it will be published
    mail_answer: str | None  # as it will be mailed to the asker
    by: str
    at: str
    due_at: str
    seq: int
    reviewer_message_id: str | None = None
    reviewer_references: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_json(self) -> Json:
        return {
            "outcome": self.outcome,
            "space": self.space,
            "question": self.question,
            "answer": self.answer,
            "mail_answer": self.mail_answer,
            "by": self.by,
            "at": self.at,
            "due_at": self.due_at,
            "seq": self.seq,
            "reviewer_message_id": self.reviewer_message_id,
            "reviewer_references": list(self.reviewer_references),
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HeldAnswer:
        return cls(
            outcome=_str(data.get("outcome")),
            space=_str(data.get("space")),
            question=_str(data.get("question")),
            answer=_str(data.get("answer")),
            mail_answer=_opt_str(data.get("mail_answer")),
            by=_str(data.get("by")),
            at=_str(data.get("at")),
            due_at=_str(data.get("due_at")),
            seq=_int(data.get("seq")),
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
    "held",
    "holds",
    "withdrawn_at",
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
    held: HeldAnswer | None = None  # an answer waiting for the end of its hold
    holds: int = 0  # holds so far (`HeldAnswer.seq`)
    withdrawn_at: str | None = None  # RETIRER: the publication was withdrawn
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
            **self._hold_json(),
        }

    def _hold_json(self) -> Json:
        """The keys of the hold, only once a case has had one (older rows read back the same)."""
        if not (self.held or self.holds or self.withdrawn_at):
            return {}
        return {
            "held": self.held.to_json() if self.held else None,
            "holds": self.holds,
            "withdrawn_at": self.withdrawn_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QuestionRecord:
        triage = data.get("triage")
        pending = data.get("pending")
        held = data.get("held")
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
            held=HeldAnswer.from_json(held) if isinstance(held, Mapping) else None,
            holds=_int(data.get("holds")),
            withdrawn_at=_opt_str(data.get("withdrawn_at")),
            extra=_extra(data, _QUESTION_KEYS),
        )
