"""The workflows by kind of case, as the shell calls them: `WORKFLOWS[case.kind].decide(…)`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from workflows import question, subscription
from workflows.core import CaseView, Context, Decision, Event, MailReceived
from workflows.states import CaseKind


class Workflow(Protocol):
    """What a workflow module provides (`workflows.question`, `workflows.subscription`)."""

    def start(self, event: MailReceived, ctx: Context, ref: str) -> Decision:
        """The first decision on the case the mail `event` opens, under reference `ref`."""
        ...

    def decide(self, case: CaseView, event: Event, ctx: Context) -> Decision:
        """The decision on any later event of `case`."""
        ...


class Registry(Mapping[CaseKind, Workflow]):
    """A read-only mapping of the workflows by kind, also indexed by the stored `kind` string
    (a `CaseKind` value) as the shell reads it from a row."""

    def __init__(self, workflows: Mapping[CaseKind, Workflow]) -> None:
        self._workflows = dict(workflows)

    def __getitem__(self, kind: str) -> Workflow:
        try:
            return self._workflows[CaseKind(kind)]
        except ValueError:
            raise KeyError(kind) from None

    def __iter__(self) -> Iterator[CaseKind]:
        return iter(self._workflows)

    def __len__(self) -> int:
        return len(self._workflows)


WORKFLOWS: Registry = Registry({CaseKind.QUESTION: question, CaseKind.SUBSCRIPTION: subscription})
