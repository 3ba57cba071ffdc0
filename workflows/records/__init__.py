"""The record a case keeps (the JSON `data` column of `mail_case`), typed per kind of case.

A record is frozen: a workflow changes it with `dataclasses.replace` and returns the new one in
its `Decision`. `from_json` reads any row written so far, missing keys taking their defaults
(and unknown top-level keys kept in `extra`, written back as they were); `to_json` writes the
same keys as before, so rows stay readable by older code and by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.records.question import (
    Answer,
    Followup,
    HeldAnswer,
    PendingAnswer,
    Publication,
    QuestionRecord,
    Similar,
    Transfer,
)
from workflows.records.readers import FileRef, Note
from workflows.records.subscription import (
    Failure,
    InfoRequest,
    Invitation,
    Person,
    ReviewDecision,
    SubscriptionRecord,
)
from workflows.states import CaseKind

__all__ = [
    "Answer",
    "CaseRecord",
    "Failure",
    "FileRef",
    "Followup",
    "HeldAnswer",
    "InfoRequest",
    "Invitation",
    "Note",
    "PendingAnswer",
    "Person",
    "Publication",
    "QuestionRecord",
    "ReviewDecision",
    "Similar",
    "SubscriptionRecord",
    "Transfer",
    "record_from_json",
]


CaseRecord = SubscriptionRecord | QuestionRecord


def record_from_json(kind: CaseKind | str, data: Mapping[str, Any] | None) -> CaseRecord:
    """The record of a case of `kind` from its stored JSON (None or {}: an empty record)."""
    if kind == CaseKind.QUESTION:
        return QuestionRecord.from_json(data or {})
    if kind == CaseKind.SUBSCRIPTION:
        return SubscriptionRecord.from_json(data or {})
    raise ValueError(f"unknown case kind: {kind!r}")
