"""Decisions about mail that belongs to no workflow state: a reviewer reply that could not be
authenticated (invariant 3) and a mail of no case that will never arrive. Pure, like every
workflow: the shell applies the returned `Decision` with `apply_outside_case`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from workflows.calendar import french_datetime
from workflows.casework import QUIET_FAILURES, alert_admins, short
from workflows.core import Decision, DeliveryFailed, LogLine, SendMail


@dataclass(frozen=True)
class RefusedReply:
    """A reply to a reviewer notification that decides nothing, and why."""

    sender: str
    reason: str  # an auth failure name (docs/contracts.md) or `unknown_case`
    subject: str
    case_ref: str | None
    message_id: str | None


def refuse_reviewer_reply(reply: RefusedReply, admins: tuple[str, ...], now: datetime) -> Decision:
    """Decide nothing: the admins are alerted, the sender is told, the log says why."""
    context = {
        "sender": reply.sender,
        "reason": reply.reason,
        "subject": reply.subject,
        "ref": reply.case_ref,
    }
    key = f"authfail:{short(reply.message_id or now.isoformat())}"
    effects = []
    if admins:
        effects.append(
            SendMail(
                template="reviewer_auth_alert", to=admins, context=context, key=f"{key}:admins"
            )
        )
    effects.append(
        SendMail(
            template="reviewer_auth_failed",
            to=(reply.sender,),
            context=context,
            key=f"{key}:sender",
            in_reply_to=reply.message_id,
            auto=True,
        )
    )
    line = LogLine("reviewer_auth_failed", {"from": reply.sender, "reason": reply.reason})
    return Decision(effects=tuple(effects), log=(line,))


def delivery_failed_without_case(
    event: DeliveryFailed, outbox_id: int | None, admins: tuple[str, ...]
) -> Decision:
    """A mail of no case (a publication notice, a digest, an alert) failed for good: logged;
    the admins are told unless it was itself an alert (no loop) or a quiet kind."""
    line = LogLine(
        "delivery_failed",
        {"outbox": outbox_id, "to": event.recipient, "template": event.template,
         "reason": event.reason[:200]},
    )  # fmt: skip
    quiet = event.via == "bounce" and event.template in QUIET_FAILURES
    if quiet or event.template == "delivery_failed_alert":
        return Decision(log=(line,))
    context = {
        "recipient": event.recipient,
        "template": event.template,
        "reason": event.reason,
        "ref": None,
    }
    return alert_admins(
        admins, "delivery_failed_alert", context, f"delivery_failed:outbox-{outbox_id}", line
    )


@dataclass(frozen=True)
class Quarantined:
    """A mail set aside because it could not be processed."""

    journal: int
    sender: str | None
    subject: str
    reason: str  # French, for the admins


def quarantined(
    mails: Sequence[Quarantined], admins: tuple[str, ...], folder: str, key: str
) -> Decision:
    """One alert listing the mails set aside since the last one (the shell batches them, at
    most one alert per `admins.quarantine_alert_minutes`)."""
    if not mails:
        return Decision()
    listed = [
        {"journal": m.journal, "sender": m.sender, "subject": m.subject, "reason": m.reason}
        for m in mails
    ]
    context = {"mails": listed, "folder": folder, "count": len(listed)}
    line = LogLine("quarantine_alert", {"journals": ",".join(str(m.journal) for m in mails)})
    return alert_admins(admins, "quarantine_alert", context, f"quarantine:{key}", line)


@dataclass(frozen=True)
class RefusedMail:
    """A mail refused for its size or its form: its sender is told (never an automatic mail)."""

    journal: int
    sender: str
    subject: str
    message_id: str | None
    reason: str  # French, the end of « Votre message n'a pas pu être traité : … »
    advice: str  # French, what to do instead


def refused_mail(mail: RefusedMail) -> Decision:
    """The French answer to the sender of a mail that could not be read. Sent as an automatic
    answer, so the per-address daily cap of automatic answers limits it."""
    context = {"subject": mail.subject, "reason": mail.reason, "advice": mail.advice}
    answer = SendMail(
        template="mail_refused",
        to=(mail.sender,),
        context=context,
        key=f"refused:{mail.journal}",
        in_reply_to=mail.message_id,
        auto=True,
    )
    line = LogLine("refusal_sent", {"journal": mail.journal, "to": mail.sender})
    return Decision(effects=(answer,), log=(line,))


@dataclass(frozen=True)
class OwnAddressMail:
    """A mail sent from the generic address itself (or a `+` sub-address) without our header:
    a forwarding rule, an agent writing from the shared mailbox, or a spoof."""

    journal: int
    sender: str | None
    subject: str
    folder: str


def own_address_mail(mail: OwnAddressMail, admins: tuple[str, ...]) -> Decision:
    """Never answered (invariant 4), but never lost silently either: the admins are told,
    one alert per journal entry."""
    context = {
        "journal": mail.journal,
        "sender": mail.sender,
        "subject": mail.subject,
        "folder": mail.folder,
    }
    line = LogLine("own_address_alert", {"journal": mail.journal, "from": mail.sender})
    return alert_admins(admins, "own_address_alert", context, f"own_address:{mail.journal}", line)


@dataclass(frozen=True)
class DatabaseOutage:
    """The database has been unreachable since `since` (`error`: the last fault, one line)."""

    since: datetime
    error: str
    instance: str  # the instance's domain: several instances may share the admins


def database_down(outage: DatabaseOutage, admins: tuple[str, ...], now: datetime) -> Decision:
    """The admins are told once per outage, sent directly over SMTP (the outbox lives in the
    database that is down). Nothing is lost meanwhile: the mail waits in the INBOX."""
    context = {
        "since": french_datetime(outage.since),
        "minutes": _minutes(now - outage.since),
        "error": outage.error,
        "instance": outage.instance,
    }
    return alert_admins(
        admins, "database_down_alert", context, f"database_down:{outage.since.isoformat()}"
    )


def database_restored(outage: DatabaseOutage, admins: tuple[str, ...], now: datetime) -> Decision:
    """The end of an outage the admins were told of."""
    context = {
        "since": french_datetime(outage.since),
        "back": french_datetime(now),
        "minutes": _minutes(now - outage.since),
        "instance": outage.instance,
    }
    key = f"database_restored:{outage.since.isoformat()}"
    return alert_admins(admins, "database_restored_alert", context, key)


def _minutes(delta: timedelta) -> int:
    return max(1, round(delta.total_seconds() / 60))
