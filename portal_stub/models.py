"""The portal stand-in's tables (prefix `portal_`), in mailbot's Alembic history.

Datetimes are aware UTC (`storage.models.UTCDateTime`). Full-text search needs objects that
SQLModel cannot describe (an FTS5 virtual table on SQLite, a GIN expression index on
PostgreSQL): the migration `0002_portal` creates them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models import UTCDateTime, utcnow

FREQUENCIES = ("immediate", "daily", "none")
DEFAULT_FREQUENCY = "daily"


class PortalAccount(SQLModel, table=True):
    """A person's account; the identifier is the e-mail address, lower-case."""

    __tablename__ = "portal_account"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True, unique=True, max_length=320)
    first_name: str = Field(default="", max_length=200)
    last_name: str = Field(default="", max_length=200)
    organisation: str | None = Field(default=None, max_length=500)
    job_title: str | None = Field(default=None, max_length=200)
    spaces: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    password_hash: str = Field(max_length=200)  # argon2id, never the password itself
    must_change_password: bool = True
    # Set while the password is a temporary one: after this instant it no longer opens.
    temp_password_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_for_request: str | None = Field(default=None, max_length=20)
    is_admin: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    password_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set while an admin has disabled the account: it does not sign in (desk, `mailbot accounts`).
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Bumped on every password change (sessions themselves are `PortalSession` rows, which a
    # password change deletes); kept for the history of the schema.
    session_epoch: int = 0


class PortalSession(SQLModel, table=True):
    """A signed-in browser. The cookie carries a random token; only its SHA-256 is stored, so a
    copy of the database opens no session. Logout deletes the row (a copied cookie then opens
    nothing), a password change or reset deletes every row of the account."""

    __tablename__ = "portal_session"
    token_hash: str = Field(primary_key=True, max_length=64)
    account_id: int = Field(foreign_key="portal_account.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class PortalLoginThrottle(SQLModel, table=True):
    """Failed logins per identifier typed, account or not (so a delay reveals nothing), and per
    client address (key `ip:` + the address): see `portal_stub.throttle`.
    `locked_until` is the instant before which the next attempt is refused unchecked."""

    __tablename__ = "portal_login_throttle"
    identifier: str = Field(primary_key=True, max_length=320)
    failures: int = 0
    # The last failure (identifier) or the start of the counting window (address).
    last_failure_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PortalProvisioning(SQLModel, table=True):
    """What `create_accounts` did for one person of one request (its idempotency record)."""

    __tablename__ = "portal_provisioning"
    __table_args__ = (UniqueConstraint("request_ref", "email"),)
    id: int | None = Field(default=None, primary_key=True)
    request_ref: str = Field(index=True, max_length=20)
    email: str = Field(max_length=320)
    account_id: int = Field(foreign_key="portal_account.id", index=True)
    created: bool
    spaces: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PortalCallKey(SQLModel, table=True):
    """The idempotency key of a mutating call (`create_accounts`, `publish`, `withdraw`) the
    portal has carried out, written in the call's own transaction: the same key again returns
    what the first call did instead of doing it twice. `result` never holds a password."""

    __tablename__ = "portal_call_key"
    key: str = Field(primary_key=True, max_length=200)
    # create_accounts | publish | withdraw | the admin's calls (portal_stub.accounts_admin…)
    kind: str = Field(max_length=20)
    ref: str = Field(index=True, max_length=20)  # the request or case reference
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PortalResetToken(SQLModel, table=True):
    """A password-reset link: single use, short-lived; only the SHA-256 of the token is kept."""

    __tablename__ = "portal_reset_token"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="portal_account.id", index=True)
    token_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PortalPublication(SQLModel, table=True):
    """One version of a published Q&A; every version is kept (history)."""

    __tablename__ = "portal_publication"
    __table_args__ = (UniqueConstraint("case_ref", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    case_ref: str = Field(index=True, max_length=20)
    version: int
    space: str = Field(index=True, max_length=20)
    question: str
    answer: str
    # Question and answer, lower-case, diacritics folded: what PostgreSQL's search indexes.
    search_text: str = ""
    published_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The latest version of its case (older versions are history only).
    is_current: bool = Field(default=True, index=True)


class PortalDocument(SQLModel, table=True):
    """A document of a space (laws, schemas, specifications…) or, with space
    `DOCUMENTAIRE` and a `folder`, of a folder of the Espace documentaire; stored in the
    database."""

    __tablename__ = "portal_document"
    id: int | None = Field(default=None, primary_key=True)
    space: str = Field(index=True, max_length=20)
    folder: str | None = Field(default=None, max_length=40)
    title: str = Field(max_length=500)
    filename: str = Field(max_length=255)
    content_type: str = Field(default="application/octet-stream", max_length=200)
    size: int = 0
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    uploaded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    uploaded_by: str | None = Field(default=None, max_length=320)  # the admin, when known


class PortalNotificationPreference(SQLModel, table=True):
    """How a person wants to hear of new Q&A in a space; no row: `DEFAULT_FREQUENCY`."""

    __tablename__ = "portal_notification_preference"
    account_id: int = Field(foreign_key="portal_account.id", primary_key=True)
    space: str = Field(primary_key=True, max_length=20)
    frequency: str = Field(default=DEFAULT_FREQUENCY, max_length=20)  # immediate|daily|none
    # Since when this choice holds: a digest never reaches back before it.
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PortalNotificationSent(SQLModel, table=True):
    """A publication version already announced to a person (by mail or in a digest)."""

    __tablename__ = "portal_notification_sent"
    __table_args__ = (UniqueConstraint("account_id", "publication_id"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="portal_account.id", index=True)
    publication_id: int = Field(foreign_key="portal_publication.id")
    channel: str = Field(max_length=20)  # immediate | daily
    sent_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def include_in_autogenerate(name: str | None, type_: str, _parent_names: object) -> bool:
    """Alembic `include_name` hook: leave out the FTS5 table and its shadow tables, which the
    migration creates by hand (autogenerate would otherwise propose to drop them)."""
    return not (type_ == "table" and (name or "").startswith("portal_publication_fts"))
