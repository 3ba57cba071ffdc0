"""The states of both workflows, in one place (docs/workflows.md draws the transitions), and
the kinds of case.

The values are those of the `state` and `kind` columns of `mail_case`: a `StrEnum` member is
the string itself, so rows written before (and the shell, which stores them) are unaffected.
`closed` on a `Decision` always matches the `*_CLOSED` sets: a case in a closed state has
`closed_at`.
"""

from __future__ import annotations

from enum import StrEnum


class CaseKind(StrEnum):
    QUESTION = "question"  # `Q-…`
    SUBSCRIPTION = "subscription"  # `ABO-…`


class SubscriptionState(StrEnum):
    """A subscription case (`ABO-…`)."""

    NEW = "new"  # the case a first mail opens, before `start` decided (never stored)
    RECEIVED = "received"  # the row the shell inserts before `start` decides (same transaction)
    INCOMPLETE = "incomplete"  # no usable table yet: waiting for the requester's table
    UNDER_REVIEW = "under_review"  # the subscription group was notified
    NEEDS_INFO = "needs_info"  # a reviewer asked COMPLÉTER: waiting for the requester
    APPROVED = "approved"  # accounts requested from the portal (also a partial approval)
    INVITED = "invited"  # invitations sent, at least one still pending
    REFUSED = "refused"  # closed: the requester was told why
    CLOSED = "closed"  # every invitation used, expired or failed


class QuestionState(StrEnum):
    """A question case (`Q-…`)."""

    NEW = "new"  # the case a first mail opens, before `start` decided (never stored)
    RECEIVED = "received"  # the row the shell inserts before `start` decides (same transaction)
    OPEN = "open"  # acknowledged and routed: waiting for a reviewer
    HELD = "held"  # answer given, held until its hold ends (previewed to the reviewer)
    PUBLISHING = "publishing"  # answer given, waiting for the portal's `Published`
    ANSWERED = "answered"  # closed: answered (published or not) or redirected to CEREMA


State = SubscriptionState | QuestionState

SUBSCRIPTION_CLOSED: frozenset[SubscriptionState] = frozenset(
    {SubscriptionState.REFUSED, SubscriptionState.CLOSED}
)
SUBSCRIPTION_DECIDED: frozenset[SubscriptionState] = frozenset(
    {
        SubscriptionState.APPROVED,
        SubscriptionState.INVITED,
        SubscriptionState.REFUSED,
        SubscriptionState.CLOSED,
    }
)
QUESTION_CLOSED: frozenset[QuestionState] = frozenset({QuestionState.ANSWERED})


def state_of(kind: CaseKind | str, value: str) -> State:
    """The state member of a stored `state` value, for a case of `kind`."""
    if kind == CaseKind.QUESTION:
        return QuestionState(value)
    if kind == CaseKind.SUBSCRIPTION:
        return SubscriptionState(value)
    raise ValueError(f"unknown case kind: {kind!r}")
