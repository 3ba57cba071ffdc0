"""The boundary between mailbot and the portal (CONTRACTS.md, "The portal boundary").

mailbot calls the portal only through this protocol; `portal_stub.service.StubPortal` is the
in-process implementation (same database, same transaction); a real portal adapter (HTTP)
can replace it without touching `workflows/`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

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
        self, request_ref: str, people: Sequence[PersonRequest], expires_at: datetime
    ) -> list[Credential]:
        """Create (or extend with new spaces) one account per person; idempotent per request
        and person: a second call for the same request returns `temporary_password=None`."""
        ...

    def publish(self, space: str, question: str, answer: str, case_ref: str) -> tuple[str, int]:
        """Publish (a new version for an already published case); returns (url, version)."""
        ...

    def withdraw(self, case_ref: str) -> None: ...

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
