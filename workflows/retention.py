"""Retention of personal data (GDPR): what goes when, decided without I/O.

Two steps, each counted from the moment a case is closed (`mail_case.closed_at`):

1. **The raw mail** (`[retention] journal_days`, default 90): the raw bytes of every mail
   received for the case (the journal) and of every mail sent about it (the outbox) are
   emptied. Mail that never belonged to a case (ignored or deleted mail, alerts, digests) goes
   the same number of days after it was received or sent. Mail still in quarantine stays until
   an admin has reviewed it.
2. **The personal data of the case** (`personal_data_days`, default 365; a refused
   subscription request `refused_days`, default 92, about 3 months): the case is anonymised. The
   requester's address and name, the subject, the people of the annex (names, addresses,
   phones, job titles), the texts they wrote (question, follow-ups, notes) and the answers as
   mailed to them are blanked in the case record; every mail of the case loses its sender,
   subject, recipients and bytes; the case's events and portal operations lose the
   addresses they carried. What stays: the reference, kind, dates, states, space, group and
   reviewer (the ministry's staff acting in their role), organisations (public bodies and
   their contractors, not persons), and what was published, which carries no personal data.

`anonymise_json` is the one walk over a JSON value that both steps and the tests use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

ANONYMISED = "[anonymisé]"
# An address that stands for an erased one (keeps NOT NULL columns and the address shape).
ANONYMOUS_ADDRESS = "anonyme@anonymise.invalid"

# Keys of a case record or a case event whose text is a person's or a person's words.
PERSONAL_KEYS = frozenset(
    {
        "email",
        "emails",
        "first_name",
        "last_name",
        "phone",
        "job_title",
        "requester",
        "requester_name",
        "from_name",
        "sender",
        "recipient",
        "recipients",
        "question",
        "text",
        "mail_answer",
        "body",
        "people",
        "persons",
        "subject",
    }
)
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True)
class RetentionPeriods:
    journal_days: int = 90
    personal_data_days: int = 365
    refused_days: int = 92

    def journal_cutoff(self, now: datetime) -> datetime:
        """Mail of a case closed before this (or of no case, received or sent before this)
        loses its raw bytes."""
        return now - timedelta(days=self.journal_days)

    def personal_cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.personal_data_days)

    def refused_cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.refused_days)

    def anonymise_due(self, closed_at: datetime | None, refused: bool, now: datetime) -> bool:
        if closed_at is None:
            return False
        cutoff = self.refused_cutoff(now) if refused else self.personal_cutoff(now)
        return closed_at < cutoff


def addresses_in(value: Any) -> set[str]:
    """Every e-mail address held under a personal key of a JSON value (lower-case)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key in PERSONAL_KEYS:
                found |= {m.lower() for m in _EMAIL.findall(_flat(item))}
            found |= addresses_in(item)
    elif isinstance(value, list):
        for item in value:
            found |= addresses_in(item)
    return found


def _flat(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return " ".join(_flat(v) for v in value)
    if isinstance(value, dict):
        return " ".join(_flat(v) for v in value.values())
    return ""


def _blank(value: Any) -> Any:
    if isinstance(value, str):
        return ANONYMISED if value else value
    if isinstance(value, list):
        return []
    if isinstance(value, dict):
        return {}
    return value


def replace_addresses(text: str, addresses: Iterable[str]) -> str:
    wanted = {a.lower() for a in addresses}
    if not wanted:
        return text
    return _EMAIL.sub(lambda m: ANONYMISED if m.group(0).lower() in wanted else m.group(0), text)


def anonymise_json(value: Any, addresses: Iterable[str] = ()) -> Any:
    """`value` with the values of personal keys blanked (strings become « [anonymisé] »,
    lists and objects empty; the people of a subscription keep their numbers, spaces and
    organisation) and the given addresses replaced wherever else they appear."""
    known = frozenset(a.lower() for a in addresses)
    return _walk(value, known)


def _walk(value: Any, addresses: frozenset[str]) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in PERSONAL_KEYS and not _is_people_list(item):
                out[key] = _blank(item)
            else:
                out[key] = _walk(item, addresses)
        return out
    if isinstance(value, list):
        return [_walk(item, addresses) for item in value]
    if isinstance(value, str):
        return replace_addresses(value, addresses)
    return value


def _is_people_list(value: Any) -> bool:
    """A list of person objects (the annex's people): walked, so that each person keeps what
    is not personal (number, organisation, SIREN, spaces)."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)
