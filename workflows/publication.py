"""Who must not be recognisable in what the portal publishes, and which contacts stay there:
the arguments that every `privacy.scrub` of a question or an answer takes from the context."""

from __future__ import annotations

from workflows.core import CaseView, Context, ReviewerReply
from workflows.text import privacy
from workflows.text.privacy import Identity


def reviewer_identities(
    ctx: Context, reviewer: str | None = None, reviewer_name: str | None = None
) -> tuple[Identity, ...]:
    """The reviewer who answers (with the display name of the reply) and every reviewer of
    every group (names taken from `prenom.nom@` addresses)."""
    members = {a.lower() for group in ctx.groups.values() for a in group}
    people = [Identity(None, address) for address in sorted(members)]
    if reviewer is not None or reviewer_name is not None:
        people.insert(0, Identity(reviewer_name, reviewer))
    return tuple(people)


def public_text(case: CaseView, event: ReviewerReply, ctx: Context, text: str) -> str:
    """A reviewer's text as the portal publishes it (`workflows.text.privacy`)."""
    return privacy.scrub(
        text,
        case.requester_name,
        case.requester,
        keep_contacts=ctx.keep_contacts,
        identities=reviewer_identities(ctx, event.reviewer, event.reviewer_name),
    )
