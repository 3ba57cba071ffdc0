"""The figures of the admins' reports (the statistics page, the weekly summary mail), computed
from plain facts about cases: no I/O here.

- **Received and closed per week**: Paris weeks, Monday first (`workflows.calendar`).
- **Time to first answer**: from the case's creation to the first reviewer response, i.e. the
  first time the case leaves the state where it waits for a reviewer (`open` for a question:
  the reviewer answered, even if the answer is then held; `under_review` for a subscription:
  approved, refused or asked to complete).
- **Time to decision**: from the case's creation to the decision: a question reaching
  `answered` (the answer went out, or the case was classed); a subscription reaching
  `approved`, `invited`, `refused` or `closed`.
- Durations are elapsed (calendar) time, in hours. The median is the usual one (the mean of
  the two middle values for an even count); the 90th percentile is the nearest-rank one (the
  smallest value with at least 90 % of the values at or below it), so it is always an observed
  duration.
- **Per space**: a question's space (`accueil`, `desta`, `antai`, or not classified); every
  subscription counts under « Abonnements ». **Per reviewer**: the case's assignee (the
  reviewer who decided), else « non attribué ».
- **Overdue**: an open case whose due date has passed (as the desk's case list says), counted
  per assignee, else per group.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from workflows.calendar import paris_day
from workflows.casework import space_label
from workflows.states import CaseKind, QuestionState, SubscriptionState

UNASSIGNED = "non attribué"
SUBSCRIPTIONS = "Abonnements"

# The state a case waits in for a reviewer, per kind.
WAITING = {
    CaseKind.QUESTION.value: {QuestionState.OPEN.value},
    CaseKind.SUBSCRIPTION.value: {SubscriptionState.UNDER_REVIEW.value},
}
DECIDED = {
    CaseKind.QUESTION.value: {QuestionState.ANSWERED.value},
    CaseKind.SUBSCRIPTION.value: {
        SubscriptionState.APPROVED.value,
        SubscriptionState.INVITED.value,
        SubscriptionState.REFUSED.value,
        SubscriptionState.CLOSED.value,
    },
}


@dataclass(frozen=True)
class Transition:
    at: datetime
    from_state: str
    to_state: str


@dataclass(frozen=True)
class CaseFacts:
    """What the reports need of one case (the shell reads it from `mail_case` and the case's
    `state` events)."""

    ref: str
    kind: str
    space: str | None
    group: str | None
    assignee: str | None
    created_at: datetime
    closed_at: datetime | None
    due_at: datetime | None
    transitions: tuple[Transition, ...] = ()

    @property
    def first_answer_at(self) -> datetime | None:
        waiting = WAITING.get(self.kind, set())
        return next((t.at for t in self.transitions if t.from_state in waiting), None)

    @property
    def decided_at(self) -> datetime | None:
        decided = DECIDED.get(self.kind, set())
        return next((t.at for t in self.transitions if t.to_state in decided), None)

    @property
    def area(self) -> str:
        """The row of the « per space » table."""
        if self.kind == CaseKind.SUBSCRIPTION:
            return SUBSCRIPTIONS
        return space_label(self.space)

    @property
    def reviewer(self) -> str:
        return (self.assignee or "").lower() or UNASSIGNED

    def overdue(self, now: datetime) -> bool:
        return self.closed_at is None and self.due_at is not None and self.due_at < now


@dataclass(frozen=True)
class Week:
    start: date  # a Monday, Paris calendar
    received: int
    closed: int


@dataclass(frozen=True)
class Durations:
    """Median and 90th percentile in hours of the cases counted (`count`); None when none."""

    count: int
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class DelayRow:
    label: str
    first_answer: Durations
    decision: Durations


@dataclass(frozen=True)
class Report:
    now: datetime
    since: date  # the period: cases created from this Paris Monday to `now`
    weeks: tuple[Week, ...]
    overall: DelayRow
    per_space: tuple[DelayRow, ...]
    per_reviewer: tuple[DelayRow, ...]
    overdue: tuple[tuple[str, int], ...]  # (reviewer or group, count), most first
    open_cases: int


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], rank: float) -> float | None:
    """Nearest-rank percentile (`rank` in 0–100): the ⌈rank/100 × n⌉-th smallest value."""
    if not values:
        return None
    ordered = sorted(values)
    index = max(1, math.ceil(rank / 100 * len(ordered)))
    return ordered[index - 1]


def durations(values: Sequence[float]) -> Durations:
    return Durations(len(values), median(values), percentile(values, 90))


def _hours(start: datetime, end: datetime | None) -> float | None:
    if end is None:
        return None
    return max(0.0, (end - start).total_seconds() / 3600)


def _monday(moment: datetime) -> date:
    day = paris_day(moment)
    return day - timedelta(days=day.weekday())


def weekly(cases: Iterable[CaseFacts], now: datetime, weeks: int) -> tuple[Week, ...]:
    """Received and closed per Paris week, oldest first, the current week last."""
    last = _monday(now)
    starts = [last - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    received: Counter[date] = Counter()
    closed: Counter[date] = Counter()
    for case in cases:
        received[_monday(case.created_at)] += 1
        if case.closed_at is not None:
            closed[_monday(case.closed_at)] += 1
    return tuple(Week(s, received[s], closed[s]) for s in starts)


def delay_row(label: str, cases: Iterable[CaseFacts]) -> DelayRow:
    first: list[float] = []
    decision: list[float] = []
    for case in cases:
        if (hours := _hours(case.created_at, case.first_answer_at)) is not None:
            first.append(hours)
        if (hours := _hours(case.created_at, case.decided_at)) is not None:
            decision.append(hours)
    return DelayRow(label, durations(first), durations(decision))


def _grouped(cases: Iterable[CaseFacts], key: str) -> tuple[DelayRow, ...]:
    groups: dict[str, list[CaseFacts]] = defaultdict(list)
    for case in cases:
        groups[getattr(case, key)].append(case)
    # Alphabetical as a reader expects it (« Abonnements, Accueil, ANTAI »), unassigned last
    ordered = sorted(groups, key=lambda label: (label == UNASSIGNED, label.casefold()))
    return tuple(delay_row(label, groups[label]) for label in ordered)


def overdue_counts(cases: Iterable[CaseFacts], now: datetime) -> tuple[tuple[str, int], ...]:
    counts: Counter[str] = Counter()
    for case in cases:
        if case.overdue(now):
            who = (case.assignee or "").lower() or (
                f"groupe {case.group} ({UNASSIGNED})" if case.group else UNASSIGNED
            )
            counts[who] += 1
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def build_report(cases: Sequence[CaseFacts], now: datetime, weeks: int = 12) -> Report:
    """The report over the last `weeks` Paris weeks (the current one included): weekly counts
    and delays of the cases created in that period; overdue cases whenever created."""
    since_day = _monday(now) - timedelta(weeks=weeks - 1)
    recent = [c for c in cases if _monday(c.created_at) >= since_day]
    return Report(
        now=now,
        since=since_day,
        weeks=weekly(cases, now, weeks),
        overall=delay_row("Tous les dossiers", recent),
        per_space=_grouped(recent, "area"),
        per_reviewer=_grouped(recent, "reviewer"),
        overdue=overdue_counts(cases, now),
        open_cases=sum(1 for c in cases if c.closed_at is None),
    )


def format_hours(hours: float | None) -> str:
    """« 45 min », « 7 h », « 7 h 15 », « 2 j 4 h » (days: to the hour), « — » for no value
    (French, with non-breaking spaces, for pages and mails)."""
    if hours is None:
        return "—"
    minutes = round(hours * 60)
    if minutes < 60:
        return f"{minutes}\u00a0min"
    if minutes < 24 * 60:
        whole, rest = divmod(minutes, 60)
        return f"{whole}\u00a0h {rest:02d}" if rest else f"{whole}\u00a0h"
    days, rest = divmod(round(minutes / 60), 24)
    return f"{days}\u00a0j {rest}\u00a0h" if rest else f"{days}\u00a0j"
