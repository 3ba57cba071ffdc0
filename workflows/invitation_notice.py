"""Telling the requester that an invitation bounced (the desk's « Prévenir le demandeur »,
`mailbot cases notify-bounce`): a mail naming the person whose invitation could not be
delivered, so that the requester can check the address and send a corrected table. One mail
per person (its key), whoever asks again."""

from __future__ import annotations

from workflows.casework import finish, requester_mail, requester_thread, short
from workflows.casework import subscription_record as record_of
from workflows.core import CaseView, Context, Decision, LogLine
from workflows.states import SUBSCRIPTION_CLOSED, CaseKind


def bounced(case: CaseView) -> list[str]:
    """The people whose invitation failed, in the order of the table."""
    data = record_of(case)
    failed = {e for e, inv in data.invitations.items() if inv.status == "failed"}
    return [p.email for p in data.people if p.email in failed]


def notice_key(email: str) -> str:
    """The key of the notice about `email` (the outbox's idempotency key ends with it)."""
    return f"bounced:{short(email)}"


def refusal(case: CaseView, email: str) -> str | None:
    """Why the notice cannot be sent, in French (None: it can)."""
    if case.kind != CaseKind.SUBSCRIPTION:
        return "Cette action ne concerne que les demandes d’abonnement."
    if email not in bounced(case):
        return f"Aucune invitation non distribuée pour {email} dans ce dossier."
    return None


def tell_requester(case: CaseView, ctx: Context, by: str, email: str) -> Decision:
    """The notice about `email` (once `refusal` said nothing)."""
    data = record_of(case)
    person = next(p for p in data.people if p.email == email)
    reasons = [f.reason for f in data.failures if f.to.lower() == email]
    context = {
        "person": {
            "first_name": person.first_name or "",
            "last_name": person.last_name or "",
            "email": email,
            "organisation": person.organisation or "",
        },
        "reason": reasons[-1] if reasons else None,
        "portal_url": ctx.portal_base_url,
    }
    mail = requester_mail(
        case,
        "invitation_bounced",
        context,
        key=notice_key(email),
        thread=requester_thread(case, data),
    )
    line = LogLine("bounce_notice_sent", {"to": case.requester, "person": email, "by": by})
    return finish(case, case.state, SUBSCRIPTION_CLOSED, effects=[mail], log=[line])
