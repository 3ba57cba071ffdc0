"""The boundary between mailbot and the portal (CONTRACTS.md, "The portal boundary").

mailbot calls the portal only through `Portal`; `portal_stub.service.StubPortal` is the
in-process implementation (same database, its own short transactions); a real portal adapter
(HTTP) can replace it without touching `workflows/`.

Every mutating call takes an idempotency key: mailbot carries portal operations out after
commit from a durable table (`mailbot.loop.portal_ops`) and retries them with the same key, so
a call whose answer was lost (a crash, a timeout) is repeated without doing the work twice.

The portal's own mail (a password-reset link) goes the other way, through `PortalMailer`,
which mailbot implements on its outbox (`mailbot.loop.outbox.OutboxPortalMailer`): the portal
never imports mailbot's internals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from workflows.core import Credential, ExistingAccount, PersonRequest

Frequency = Literal["immediate", "daily"]


@dataclass(frozen=True)
class SearchHit:
    case_ref: str
    space: str
    question: str
    url: str
    score: float


@dataclass(frozen=True)
class Subscriber:
    """A person to tell of new Q&A in a space (`Portal.subscribers`)."""

    email: str  # the account's identifier, lower-case
    first_name: str
    last_name: str
    # When the person's choice for that space took effect (or the account was created, when
    # no choice was made): a digest never reaches back before it.
    since: datetime


class Portal(Protocol):
    def find_accounts(self, emails: Sequence[str]) -> dict[str, ExistingAccount]:
        """Existing accounts among `emails` (lower-case identifiers), keyed by identifier."""
        ...

    def create_accounts(
        self,
        request_ref: str,
        people: Sequence[PersonRequest],
        expires_at: datetime,
        key: str,
    ) -> list[Credential]:
        """Create (or extend with new spaces) one account per person, each once.

        - The same `key` again (a retry): the same accounts. A temporary password is kept only
          hashed, so for an account this key created and nobody has used yet, a fresh temporary
          password is issued (`Credential.reissued`; the first one no longer opens).
        - Another key for the same request and person: the same account,
          `temporary_password=None` (nothing new to send).
        """
        ...

    def publish(
        self, space: str, question: str, answer: str, case_ref: str, key: str
    ) -> tuple[str, int]:
        """Publish the case's Q&A: one version per key (a new key for an already published
        case makes version n+1; the same key again returns the same url and version)."""
        ...

    def withdraw(self, case_ref: str, key: str) -> None:
        """Withdraw the case's current Q&A; idempotent (the same key again does nothing, even
        after a later publication)."""
        ...

    def subscribers(self, space: str, frequency: Frequency) -> list[Subscriber]:
        """The people to notify of a publication in `space` who chose `frequency` for it,
        ordered by address."""
        ...

    def search(
        self, query: str, spaces: Sequence[str] | None = None, limit: int = 3
    ) -> list[SearchHit]:
        """Full-text search over published Q&A (diacritics folded)."""
        ...

    def check_login(self, email: str, password: str) -> bool:
        """The portal's login check (the identifier and the password)."""
        ...

    def reissue_invitation(
        self, request_ref: str, email: str, expires_at: datetime, key: str
    ) -> Credential:
        """A fresh temporary password, valid until `expires_at`, for an account nobody has used
        yet (the previous one no longer opens); `temporary_password` None when the account is
        in use. The same `key` again issues another (only the hash is kept)."""
        ...

    def revoke_invitation(self, request_ref: str, email: str, key: str) -> None:
        """The temporary password of an account nobody has used yet no longer opens (an
        account in use is left alone); idempotent."""
        ...


class PortalMailer(Protocol):
    """How the portal sends its own mail (password-reset links) through mailbot's outbox.

    `template` names a mail template of mailbot's (`templates/<template>/`), `context` its
    values. A mail is queued once per `key`: queuing the same key again does nothing.
    `sensitive`: the mail opens an account (a reset link); mailbot redacts its stored copy once
    the SMTP server has accepted it.
    """

    def queue(
        self,
        template: str,
        to: Sequence[str],
        context: Mapping[str, Any],
        key: str,
        *,
        sensitive: bool = False,
    ) -> None: ...
