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


@dataclass(frozen=True)
class AccountInfo:
    """An account as the admin's desk sees it (`Portal.list_accounts`, `Portal.account`)."""

    email: str  # the identifier, lower-case
    first_name: str
    last_name: str
    organisation: str | None
    spaces: tuple[str, ...]  # granted spaces, Accueil first (all three for a portal admin)
    is_admin: bool
    created_at: datetime
    last_login_at: datetime | None
    disabled_at: datetime | None
    # The temporary password has not been replaced yet (the invitation is pending).
    invitation_pending: bool
    temp_password_expires_at: datetime | None
    created_for_request: str | None


@dataclass(frozen=True)
class DocumentPlace:
    """Where documents live: a space (`accueil`, `desta`, `antai`) or a folder of the Espace
    documentaire (`documentaire/fiches`…), with its French label."""

    slug: str
    label: str


@dataclass(frozen=True)
class DocumentInfo:
    id: int
    place: str  # a `DocumentPlace.slug`
    title: str
    filename: str
    content_type: str
    size: int
    uploaded_at: datetime
    url: str  # where a reader downloads it on the portal


class UnknownAccount(LookupError):
    """No account has this identifier."""


class UnknownDocument(LookupError):
    """No document has this id (or it was removed)."""


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

    # What the admin's desk needs (CONTRACTS.md "The portal boundary"). Mutating calls take an
    # idempotency key (the same key again does the work once) and `by`, the admin who acts.

    def list_accounts(self, query: str = "", limit: int = 200) -> list[AccountInfo]:
        """Accounts whose address, name or organisation contains `query` (accents and case
        ignored; every account when empty), by address."""
        ...

    def account(self, email: str) -> AccountInfo | None: ...

    def set_account_disabled(self, email: str, disabled: bool, key: str, by: str) -> AccountInfo:
        """Disable (the account no longer signs in; its sessions end) or enable it again.
        Raises `UnknownAccount`."""
        ...

    def set_account_spaces(
        self, email: str, spaces: Sequence[str], key: str, by: str
    ) -> AccountInfo:
        """Grant exactly `spaces` (Accueil always). Raises `UnknownAccount`, `ValueError` for
        an unknown space."""
        ...

    def reset_account(self, email: str, expires_at: datetime, key: str, by: str) -> AccountInfo:
        """Send the invitation mail again with a new temporary password valid until
        `expires_at` (through the portal's mailer, as password resets); the old password no
        longer opens and the sessions end. Once per key. Raises `UnknownAccount`."""
        ...

    def document_places(self) -> list[DocumentPlace]:
        """The spaces, then the folders of the Espace documentaire."""
        ...

    def list_documents(self, place: str | None = None) -> list[DocumentInfo]:
        """The documents of a place (all when None), newest first."""
        ...

    def add_document(
        self,
        place: str,
        title: str,
        filename: str,
        content_type: str,
        data: bytes,
        key: str,
        by: str,
    ) -> DocumentInfo:
        """Add a document (checked by the caller: type, size, name). Once per key.
        Raises `ValueError` for an unknown place."""
        ...

    def replace_document(
        self, doc_id: int, filename: str, content_type: str, data: bytes, key: str, by: str
    ) -> DocumentInfo:
        """Replace a document's file, keeping its id, place and title. Raises
        `UnknownDocument`."""
        ...

    def remove_document(self, doc_id: int, key: str, by: str) -> None:
        """Remove a document; idempotent (removing it again does nothing)."""
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
