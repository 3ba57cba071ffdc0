"""mailbot's own tables. The portal stand-in keeps its tables in `portal_stub/models.py`;
both live in one Alembic history (`storage/migrations`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no offset: store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, _dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, _dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class InboundMessage(SQLModel, table=True):
    """The journal: every fetched message, raw bytes first (invariant 1)."""

    __tablename__ = "inbound_message"
    id: int | None = Field(default=None, primary_key=True)
    message_id: str | None = Field(default=None, index=True, max_length=1000)
    sha256: str = Field(index=True, unique=True, max_length=64)
    uidvalidity: int | None = None
    uid: int | None = None
    size: int = 0
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # received → processed | ignored | quarantined
    fate: str = Field(default="received", index=True, max_length=20)
    kind: str | None = Field(default=None, max_length=40)
    rule: str | None = Field(default=None, max_length=80)
    case_ref: str | None = Field(default=None, index=True, max_length=20)
    sender: str | None = Field(default=None, max_length=320)
    subject: str | None = Field(default=None, max_length=1000)
    error: str | None = None
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    moved: bool = False
    replays: int = 0
    # quarantined: why, in French (for the admins); when the admins were told (alerts batched)
    reason: str | None = Field(default=None, max_length=1000)
    alerted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # retention (`mailbot.loop.retention`): when the raw bytes were emptied
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CaseCounter(SQLModel, table=True):
    """Gap-free numbering of case references per kind and year."""

    __tablename__ = "case_counter"
    prefix: str = Field(primary_key=True, max_length=10)
    year: int = Field(primary_key=True)
    last: int = 0


class Case(SQLModel, table=True):
    __tablename__ = "mail_case"
    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(index=True, unique=True, max_length=20)
    kind: str = Field(max_length=20)  # question | subscription
    state: str = Field(index=True, max_length=30)
    requester: str = Field(index=True, max_length=320)
    requester_name: str | None = Field(default=None, max_length=200)
    subject: str = Field(default="", max_length=1000)
    group: str | None = Field(default=None, max_length=80)
    assignee: str | None = Field(default=None, max_length=320)
    space: str | None = Field(default=None, max_length=20)
    origin_message_id: str | None = Field(default=None, index=True, max_length=1000)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # retention (`mailbot.loop.retention`): when its personal data was erased
    anonymised_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CasePerson(SQLModel, table=True):
    """The people (e-mail addresses, as `SubscriptionRecord` decodes them) of every subscription
    case, kept with its record (`mailbot.loop.case_people`): finding the open requests that
    already list a person is one indexed look-up instead of reading every open request."""

    __tablename__ = "case_person"
    case_ref: str = Field(primary_key=True, max_length=20)
    email: str = Field(primary_key=True, index=True, max_length=320)


class CaseEvent(SQLModel, table=True):
    __tablename__ = "case_event"
    id: int | None = Field(default=None, primary_key=True)
    case_ref: str = Field(index=True, max_length=20)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    event: str = Field(max_length=60)
    actor: str | None = Field(default=None, max_length=320)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class OutboxMail(SQLModel, table=True):
    """A mail to send, written in the transaction of the decision that made it."""

    __tablename__ = "outbox_mail"
    # The caps on automatic answers count from this index alone (migration 0016).
    __table_args__ = (
        Index(
            "ix_outbox_mail_autoreply_caps",
            "recipient",
            "created_at",
            "auto",
            "essential",
            "case_ref",
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=200)
    case_ref: str | None = Field(default=None, index=True, max_length=20)
    template: str = Field(max_length=80)
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The first recipient, for the per-address rate limit of automatic answers.
    recipient: str = Field(default="", index=True, max_length=320)
    envelope_from: str = Field(max_length=320)
    bounce_token: str = Field(unique=True, max_length=40)
    message_id: str = Field(index=True, max_length=1000)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    auto: bool = False
    # An automatic answer limited only by the per-address ceiling (mailbot/loop/outbox.py).
    essential: bool = False
    sensitive: bool = False
    # pending → sending (leased) → sent | failed, or back to pending; sent → bounced
    # (mailbot/loop/sending.py). While sending, next_attempt_at is the end of the lease.
    state: str = Field(default="pending", index=True, max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True, sa_type=UTCDateTime)
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # retention (`mailbot.loop.retention`): when the raw bytes were emptied
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Timer(SQLModel, table=True):
    """Due dates as data (invariant 6): the sweep claims a timer by setting fired_at."""

    __tablename__ = "timer"
    __table_args__ = (UniqueConstraint("key"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200)
    case_ref: str = Field(index=True, max_length=20)
    kind: str = Field(max_length=40)
    due_at: datetime = Field(index=True, sa_type=UTCDateTime)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    fired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Publication(SQLModel, table=True):
    """mailbot's own record of what it published on the portal, one row per version (what the
    publication notices and the daily digest announce; the portal keeps its own copy)."""

    __tablename__ = "publication"
    __table_args__ = (UniqueConstraint("case_ref", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    case_ref: str = Field(index=True, max_length=20)
    version: int
    space: str = Field(index=True, max_length=20)
    question: str
    url: str = Field(max_length=1000)
    published_at: datetime = Field(default_factory=utcnow, index=True, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TriageExample(SQLModel, table=True):
    """A labelled question for the triage model: each time a reviewer or an admin sets or
    changes a question's space (ESPACE, TRANSFÉRER, HORS PÉRIMÈTRE, a reassignment). `label` is
    a space or `out_of_scope`; `source` says which decision taught it."""

    __tablename__ = "triage_example"
    id: int | None = Field(default=None, primary_key=True)
    case_ref: str = Field(index=True, max_length=20)
    label: str = Field(max_length=20)
    text: str
    source: str = Field(max_length=40)
    by: str | None = Field(default=None, max_length=320)
    at: datetime = Field(default_factory=utcnow, index=True, sa_type=UTCDateTime)


class NoticeSent(SQLModel, table=True):
    """A publication version already announced to a person, by mail or in a digest: each
    version reaches a person at most once."""

    __tablename__ = "notice_sent"
    __table_args__ = (UniqueConstraint("recipient", "case_ref", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    recipient: str = Field(index=True, max_length=320)  # e-mail address, lower-case
    case_ref: str = Field(max_length=20)
    version: int
    channel: str = Field(max_length=20)  # immediate | daily
    sent_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PortalOperation(SQLModel, table=True):
    """A portal call to carry out after commit (`mailbot.loop.portal_ops`), written in the
    transaction of the decision that asked for it; retried with the same idempotency key.

    `payload` holds the call's arguments, `result` what came back, without any temporary
    password (those travel in memory only, to the workflow event of the same transaction).
    """

    __tablename__ = "portal_operation"
    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=200)
    case_ref: str = Field(index=True, max_length=20)
    kind: str = Field(max_length=20)  # create_accounts | publish | withdraw
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # pending → running → done | failed (running → pending again on an error before the last)
    state: str = Field(default="pending", index=True, max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True, sa_type=UTCDateTime)
    last_error: str | None = None
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InstanceLease(SQLModel, table=True):
    """Who may act (`mailbot.loop.lease`): the row named `active` is held by one process at a
    time, renewed by a conditional UPDATE; `standby:<holder>` rows are the waiting processes'
    heartbeats (for `mailbot status`); the row `poll` records the last successful INBOX poll
    (for `mailbot health`)."""

    __tablename__ = "instance_lease"
    name: str = Field(primary_key=True, max_length=200)
    holder: str = Field(max_length=200)  # host:pid:random
    acquired_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    heartbeat_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ScheduledJob(SQLModel, table=True):
    """A recurring job's last run (`mailbot.loop.jobs`): the slot it last ran for is claimed by
    a conditional UPDATE in the transaction that runs the job, so one run per slot."""

    __tablename__ = "scheduled_job"
    name: str = Field(primary_key=True, max_length=100)
    last_slot: datetime | None = Field(default=None, sa_type=UTCDateTime)  # the due time
    last_run_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # when it ran
    last_result: str | None = Field(default=None, max_length=200)
    runs: int = 0
