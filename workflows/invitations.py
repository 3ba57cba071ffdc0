"""After an approval: invitations for the accounts the portal created, their reminder and
their expiry (calendar days, `[timers]` of config.toml).

A person whose account already existed gets a mail naming the spaces now open to them, with
no password. The case stays open (`invited`) while an invitation is pending, and closes when
every invitation was used or has expired.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from workflows.casework import (
    finish,
    iso,
    requester_mail,
    requester_thread,
    short,
    spaces_label,
    subscription_record,
)
from workflows.core import (
    AccountsProvisioned,
    CaseView,
    Context,
    Credential,
    Decision,
    Effect,
    LogLine,
    SendMail,
    SetTimer,
    TimerFired,
)
from workflows.records import Invitation, Person, SubscriptionRecord
from workflows.states import SUBSCRIPTION_CLOSED, State, SubscriptionState

REMINDER = "invitation_reminder"
EXPIRY = "invitation_expiry"
TEMPLATES = frozenset({"invitation", "invitation_new_spaces", "invitation_reminder"})


def portal_links(ctx: Context) -> dict[str, str]:
    base = ctx.portal_base_url.rstrip("/")
    return {
        "login_url": f"{base}/connexion",
        "password_guide_url": f"{base}/documents/fiches/mot-de-passe",
        "mini_guide_url": f"{base}/documents/fiches/mini-guide",
    }


def activated(ctx: Context, email: str) -> bool:
    """Whether the person has logged in since, as far as the shell told us.

    The shell fills `ctx.existing_accounts` (with `first_login_at`) when an invitation timer
    fires."""
    account = ctx.existing_accounts.get(email)
    if account is None:
        return False
    return account.first_login_at is not None


def person_name(person: Person | None) -> dict[str, str]:
    if person is None:
        return {"first_name": "", "last_name": "", "organisation": ""}
    return {
        "first_name": person.first_name or "",
        "last_name": person.last_name or "",
        "organisation": person.organisation or "",
    }


def on_provisioned(case: CaseView, event: AccountsProvisioned, ctx: Context) -> Decision:
    data = subscription_record(case)
    round_number = data.round
    people = {p.email: p for p in data.people}
    decision = data.decision
    records = dict(data.invitations)
    links = portal_links(ctx)
    effects: list[Effect] = []
    log: list[LogLine] = []
    invited, existing = [], []
    expires_at = ctx.now + timedelta(days=ctx.invitation_expiry_days)
    for cred in event.credentials:
        email = cred.email.lower()
        person = people.get(email)
        view = {**person_name(person), "email": email, "spaces_label": spaces_label(cred.spaces)}
        if cred.temporary_password:
            expires_at = cred.expires_at or expires_at
            context = {
                **view,
                **links,
                "password": cred.temporary_password,
                "expires_at": iso(expires_at),
            }
            effects.append(
                to_person("invitation", email, context, "invite", round_number, sensitive=True)
            )
            records[email] = _record("sent", cred, ctx, expires_at)
            invited.append(view)
            log.append(LogLine("invitation_sent", {"to": email}))
        else:
            context = {**view, **links}
            effects.append(
                to_person("invitation_new_spaces", email, context, "new_spaces", round_number)
            )
            records[email] = _record("existing", cred, ctx, None)
            existing.append(view)
            log.append(LogLine("invitation_new_spaces", {"to": email}))
    answered = {c.email.lower() for c in event.credentials}
    approved = set(decision.approved or ()) if decision else set()
    refused_numbers = set(decision.refused or ()) if decision else set()
    missing = [
        {**person_name(p), "email": e}
        for e, p in people.items()
        if p.number in approved and e not in answered
    ]
    if missing:
        log.append(LogLine("accounts_missing", {"emails": ",".join(m["email"] for m in missing)}))
    refused = [
        {**person_name(p), "email": e, "number": p.number}
        for e, p in people.items()
        if p.number in refused_numbers
    ]
    result: dict[str, Any] = {
        "invited": invited,
        "existing": existing,
        "refused": refused,
        "missing": missing,
        "expires_at": iso(expires_at),
        **links,
    }
    data = replace(data, invitations=records)
    thread = requester_thread(case, data)
    effects.append(
        requester_mail(
            case, "subscription_result", result, key=f"result:{round_number}", thread=thread
        )
    )
    if not invited:
        log.append(LogLine("case_closed", {"reason": "no_invitation_pending"}))
        return _decision(case, SubscriptionState.CLOSED, data, effects, log)
    effects += invitation_timers(ctx, expires_at)
    return _decision(case, SubscriptionState.INVITED, data, effects, log)


def _record(status: str, cred: Credential, ctx: Context, expires_at: datetime | None) -> Invitation:
    return Invitation(
        status=status,
        spaces=tuple(cred.spaces),
        sent_at=iso(ctx.now),
        expires_at=iso(expires_at) if expires_at else None,
    )


def to_person(
    template: str,
    email: str,
    context: dict[str, Any],
    key_prefix: str,
    round_number: object,
    *,
    sensitive: bool = False,
) -> SendMail:
    """A mail to one person of the request, once per approval round."""
    return SendMail(
        template=template,
        to=(email,),
        context=context,
        key=f"{key_prefix}:{short(email)}:{round_number}",
        sensitive=sensitive,
    )


def invitation_timers(ctx: Context, expires_at: datetime) -> list[Effect]:
    timers: list[Effect] = []
    reminder_at = ctx.now + timedelta(days=ctx.invitation_reminder_days)
    if reminder_at < expires_at:
        timers.append(SetTimer(name=REMINDER, kind=REMINDER, due_at=reminder_at))
    timers.append(SetTimer(name=EXPIRY, kind=EXPIRY, due_at=expires_at))
    return timers


def on_timer(case: CaseView, event: TimerFired, ctx: Context) -> Decision:
    data = subscription_record(case)
    records = dict(data.invitations)
    effects: list[Effect] = []
    log: list[LogLine] = []
    people = {p.email: p for p in data.people}
    links = portal_links(ctx)
    for email, record in sorted(records.items()):
        if record.status != "sent":
            continue
        if activated(ctx, email):
            records[email] = replace(record, status="used")
        elif event.kind == EXPIRY:
            records[email] = replace(record, status="expired")
        else:
            view = {**person_name(people.get(email)), "email": email}
            context = {**view, **links, "expires_at": record.expires_at}
            round_number = data.round
            effects.append(
                to_person("invitation_reminder", email, context, "invite_reminder", round_number)
            )
            log.append(LogLine("invitation_reminder_sent", {"to": email}))
    data = replace(data, invitations=records)
    pending = [e for e, r in records.items() if r.status == "sent"]
    if pending or case.state != SubscriptionState.INVITED:
        return _decision(case, case.state, data, effects, log)
    counts = {
        status: sum(1 for r in records.values() if r.status == status)
        for status in ("used", "expired", "failed")
    }
    log.append(LogLine("invitations_closed", counts))
    return _decision(case, SubscriptionState.CLOSED, data, effects, log)


def _decision(
    case: CaseView,
    state: State,
    data: SubscriptionRecord,
    effects: list[Effect],
    log: list[LogLine],
) -> Decision:
    return finish(case, state, SUBSCRIPTION_CLOSED, data=data, effects=effects, log=log)


def mark_failed(data: SubscriptionRecord, recipient: str, template: str) -> SubscriptionRecord:
    """The record with the invitation of `recipient` failed, if `template` was one."""
    email = recipient.lower()
    record = data.invitations.get(email)
    if template not in TEMPLATES or record is None:
        return data
    return replace(data, invitations={**data.invitations, email: replace(record, status="failed")})
