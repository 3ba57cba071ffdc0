"""The states of both workflows, in one place (docs/workflows.md draws the transitions).

`closed` on a `Decision` always matches these sets: a case in a closed state has `closed_at`.
"""

from __future__ import annotations

# Subscription (`ABO-…`).
INCOMPLETE = "incomplete"  # no usable table yet: waiting for the requester's table
UNDER_REVIEW = "under_review"  # the subscription group was notified
NEEDS_INFO = "needs_info"  # a reviewer asked COMPLÉTER: waiting for the requester
APPROVED = "approved"  # accounts requested from the portal (also a partial approval)
INVITED = "invited"  # invitations sent, at least one still pending
REFUSED = "refused"  # closed: the requester was told why
CLOSED = "closed"  # every invitation used, expired or failed
SUBSCRIPTION_STATES = (INCOMPLETE, UNDER_REVIEW, NEEDS_INFO, APPROVED, INVITED, REFUSED, CLOSED)
SUBSCRIPTION_CLOSED = frozenset({REFUSED, CLOSED})
SUBSCRIPTION_DECIDED = frozenset({APPROVED, INVITED, REFUSED, CLOSED})

# Question (`Q-…`).
OPEN = "open"  # acknowledged and routed: waiting for a reviewer
PUBLISHING = "publishing"  # answer given, waiting for the portal's `Published`
ANSWERED = "answered"  # closed: answered (published or not) or redirected to CEREMA
QUESTION_STATES = (OPEN, PUBLISHING, ANSWERED)
QUESTION_CLOSED = frozenset({ANSWERED})
