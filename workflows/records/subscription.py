"""The typed record of a subscription case (`SubscriptionRecord`) and its items."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workflows.records.readers import (
    Json,
    Note,
    _extra,
    _int,
    _ints,
    _items,
    _map,
    _opt_int,
    _opt_str,
    _str,
    _strs,
)

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
