"""An admin's hand on one invitation (the desk's « Renvoyer » and « Révoquer », `mailbot cases
resend-invitation|revoke-invitation`): a new temporary password mailed again, or the pending
one made unusable. Both are portal operations (`ReissueInvitation`, `RevokeInvitation`) carried
out after commit; their results come back as `InvitationReissued` / `InvitationRevoked`.

A resent invitation restarts the case's invitation timers from now (they are one pair per
case: the others' reminder and expiry move with it) and reopens a case that had closed."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from workflows.casework import finish, iso, spaces_label
from workflows.casework import subscription_record as record_of
from workflows.core import (
    CaseView,
    Context,
    Decision,
    InvitationReissued,
    InvitationRevoked,
    LogLine,
    ReissueInvitation,
    RevokeInvitation,
)
from workflows.invitations import invitation_timers, person_name, portal_links, to_person
from workflows.records import Invitation
from workflows.states import SUBSCRIPTION_CLOSED, CaseKind, SubscriptionState

RESENDABLE = frozenset({"sent", "expired", "failed", "revoked"})


def refusal(case: CaseView, email: str, action: str) -> str | None:
    """Why `action` (`resend` or `revoke`) cannot be done for `email`, in French."""
    if case.kind != CaseKind.SUBSCRIPTION:
        return "Cette action ne concerne que les demandes d’abonnement."
    invitation = record_of(case).invitations.get(email)
    if invitation is None:
        return f"Aucune invitation n’a été envoyée à {email} dans ce dossier."
    if action == "resend" and invitation.status not in RESENDABLE:
        return f"Le compte de {email} est déjà utilisé : il n’y a pas d’invitation à renvoyer."
    if action == "revoke" and invitation.status != "sent":
        return f"L’invitation de {email} n’est plus en attente : rien à révoquer."
    return None


def resend(case: CaseView, ctx: Context, by: str, email: str) -> Decision:
    expires_at = ctx.now + timedelta(days=ctx.invitation_expiry_days)
    line = LogLine("invitation_resend_requested", {"to": email, "by": by})
    effect = ReissueInvitation(email=email, expires_at=expires_at)
    return finish(case, case.state, SUBSCRIPTION_CLOSED, effects=[effect], log=[line])


def revoke(case: CaseView, by: str, email: str) -> Decision:
    line = LogLine("invitation_revoke_requested", {"to": email, "by": by})
    effect = RevokeInvitation(email=email)
    return finish(case, case.state, SUBSCRIPTION_CLOSED, effects=[effect], log=[line])


def on_result(
    case: CaseView, event: InvitationReissued | InvitationRevoked, ctx: Context
) -> Decision:
    data = record_of(case)
    if isinstance(event, InvitationRevoked):
        return _revoked(case, event.email)
    cred = event.credential
    email = cred.email.lower()
    old = data.invitations.get(email) or Invitation(status="sent")
    if not cred.temporary_password or cred.expires_at is None:
        records = {**data.invitations, email: replace(old, status="used")}
        line = LogLine("invitation_not_resent", {"to": email, "reason": "account_in_use"})
        return finish(
            case,
            case.state,
            SUBSCRIPTION_CLOSED,
            data=replace(data, invitations=records),
            log=[line],
        )
    person = next((p for p in data.people if p.email == email), None)
    context = {
        **person_name(person),
        **portal_links(ctx),
        "email": email,
        "spaces_label": spaces_label(cred.spaces or old.spaces),
        "password": cred.temporary_password,
        "expires_at": iso(cred.expires_at),
    }
    mail = to_person("invitation", email, context, "reinvite", iso(cred.expires_at), sensitive=True)
    invitation = Invitation(
        status="sent",
        spaces=tuple(cred.spaces or old.spaces),
        sent_at=iso(ctx.now),
        expires_at=iso(cred.expires_at),
    )
    data = replace(data, invitations={**data.invitations, email: invitation})
    effects = [mail, *invitation_timers(ctx, cred.expires_at)]
    line = LogLine("invitation_resent", {"to": email})
    return finish(
        case, SubscriptionState.INVITED, SUBSCRIPTION_CLOSED, data=data, effects=effects, log=[line]
    )


def _revoked(case: CaseView, email: str) -> Decision:
    data = record_of(case)
    old = data.invitations.get(email) or Invitation(status="sent")
    records = {**data.invitations, email: replace(old, status="revoked")}
    data = replace(data, invitations=records)
    log = [LogLine("invitation_revoked", {"to": email})]
    state = case.state
    if state == SubscriptionState.INVITED and not any(r.status == "sent" for r in records.values()):
        state = SubscriptionState.CLOSED
        log.append(LogLine("invitations_closed", {"reason": "revoked"}))
    return finish(case, state, SUBSCRIPTION_CLOSED, data=data, log=log)
