"""Ingest: the journal and each mail's fate.

A fetched message's raw bytes are journaled first (invariant 1). Processing it parses and
classifies it, turns it into a workflow event (`mailbot.loop.events`) and has the decision
applied (`mailbot.loop.effects`) in ONE transaction together with the message's fate; the
workflow-log lines are appended after the commit. A message whose processing raises is rolled
back and marked `quarantined` with the error, in a transaction of its own, unless the fault is
the infrastructure's (`mailbot.loop.faults`): then `InfrastructureDown` is raised and the
message stays in the INBOX, to be processed again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Engine
from sqlmodel import Session

from mailbot.annex.reader import AnnexLimits, parse_annex_bytes
from mailbot.config import Config
from mailbot.loop import cases, events
from mailbot.loop.away import reviewer_away
from mailbot.loop.effects import Decider, Pending
from mailbot.loop.faults import InfrastructureDown, is_infrastructure
from mailbot.loop.journal import FINAL_FATES, Entry, Fetched, journal, load_entry, write_fate
from mailbot.loop.portal_ops import OperationReport, run_pending
from mailbot.loop.prefetch import Prefetch
from mailbot.loop.quarantine import set_aside, sweep_alerts
from mailbot.mail.bounces import bounce_reason, find_bounced_mail
from mailbot.mail.classify import OWN_ADDRESS_RULE, Classification, ClassifyContext, classify
from mailbot.mail.parse import ParsedMail, ParseLimits, parse_message
from mailbot.portal import Portal
from mailbot.wflog import WorkflowLog
from storage.db import session_scope
from storage.models import Case, OutboxMail
from workflows.alerts import (
    OwnAddressMail,
    RefusedReply,
    delivery_failed_without_case,
    own_address_mail,
    refuse_reviewer_reply,
)
from workflows.core import Event, PortalFailed, TimerFired

log = logging.getLogger(__name__)

IGNORED_KINDS = ("own_mail", "bounce", "auto_reply")


def size_fr(size: int) -> str:
    """« 28 Mo », « 12 Ko »: a size as mail clients show it (1 Mo = 1024 Ko, so the default
    limit of 25 × 1024 × 1024 bytes reads « 25 Mo »)."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.0f} Mo"
    return f"{max(1, round(size / 1024))} Ko"


class UnreadableMail(ValueError):
    """The mail itself cannot be processed (too big, too deep, too broken): it is quarantined
    and the admins are told; `french` says why, for them."""

    def __init__(self, english: str, french: str) -> None:
        super().__init__(english)
        self.french = french


@dataclass
class Outcome:
    fate: str
    kind: str | None = None
    rule: str | None = None
    case_ref: str | None = None
    error: str | None = None


class Ingest:
    def __init__(
        self,
        config: Config,
        engine: Engine,
        wflog: WorkflowLog,
        portal: Portal,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        secret: bytes | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.wflog = wflog
        self.clock = clock
        self.secret = secret if secret is not None else config.secret()
        self.parse_limits = ParseLimits.from_config(config.limits)
        self.annex_limits = AnnexLimits.from_config(config.limits)
        self.prefetch = Prefetch(
            self.parse_limits, self.annex_limits, config.limits.max_message_bytes
        )
        # The decider reads the clock through us, so tests can move time on `ingest.clock`.
        self.portal = portal
        self.decider = Decider(config, portal, lambda: self.clock(), self.secret)

    # ------------------------------------------------------------------ journal

    def journal(self, raw: bytes, uidvalidity: int | None, uid: int | None) -> tuple[int, bool]:
        """Store the raw bytes first (invariant 1). Returns (journal id, already final)."""
        return self.journal_many([(raw, uidvalidity, uid)])[0]

    def journal_many(self, mails: Sequence[Fetched]) -> list[tuple[int, bool]]:
        """`journal` for a few mails, in one transaction (`mailbot.loop.journal`)."""
        return journal(self.engine, mails, self.clock())

    # ------------------------------------------------------------------ processing

    def process(self, journal_id: int) -> Outcome:
        pending = Pending()
        try:
            with session_scope(self.engine) as session:
                entry = load_entry(session, journal_id)
                if entry is None:
                    raise LookupError(f"journal entry {journal_id} not found")
                if entry.fate in FINAL_FATES:
                    return Outcome(entry.fate, entry.kind, entry.rule, entry.case_ref)
                outcome = self._process_row(session, entry, pending)
        except Exception as err:  # the mail's failures quarantine it
            if is_infrastructure(err):  # rolled back; left in the INBOX for a later turn
                raise InfrastructureDown(err) from err
            log.exception("processing journal entry %s failed", journal_id)
            return self._quarantine(journal_id, err)
        pending.flush(self.wflog, self.clock())
        return outcome

    def _quarantine(self, journal_id: int, err: BaseException) -> Outcome:
        """Set the mail aside with the error (`mailbot.loop.quarantine`)."""
        summary = f"{type(err).__name__}: {err}"[:500]
        now = self.clock()
        pending = set_aside(self.engine, self.config, self.decider, journal_id, err, now)
        self.wflog.write(None, "quarantined", {"journal": journal_id, "error": summary})
        pending.flush(self.wflog, self.clock())
        return Outcome("quarantined", error=summary)

    def sweep_quarantine_alerts(self) -> None:
        sweep_alerts(self.engine, self.config, self.decider, self.wflog, self.clock)

    def _process_row(self, session: Session, entry: Entry, pending: Pending) -> Outcome:
        """Decide the journaled mail `entry`, and write its fate in the same transaction."""
        if len(entry.raw) > self.config.limits.max_message_bytes:
            size, limit = len(entry.raw), self.config.limits.max_message_bytes
            raise UnreadableMail(
                f"message of {size} bytes over the limit",
                f"le message pèse {size_fr(size)}, au-delà de la limite de {size_fr(limit)} : "
                "il n'a pas été lu",
            )
        mail = self.prefetch.parsed(entry.sha256) or parse_message(entry.raw, self.parse_limits)
        if mail.unparsable:
            raise UnreadableMail(
                f"message not parsable ({'; '.join(mail.defects)[:300]})",
                "le message est trop imbriqué ou trop abîmé pour être lu (structure MIME "
                "illisible) : il n'a pas été traité",
            )
        outcome = self._decide(session, entry, mail, pending)
        write_fate(
            session,
            entry.id,
            fate=outcome.fate,
            kind=outcome.kind,
            rule=outcome.rule,
            case_ref=outcome.case_ref,
            error=None,
            processed_at=self.clock(),
            sender=mail.from_addr,
            subject=(mail.subject or "")[:1000],
        )
        return outcome

    def _decide(
        self, session: Session, entry: Entry, mail: ParsedMail, pending: Pending
    ) -> Outcome:
        ctx = ClassifyContext(
            config=self.config,
            secret=self.secret,
            case_is_open=lambda ref: cases.get_case(session, ref) is not None,
        )
        result = classify(mail, ctx)
        rule = result.rules[0] if result.rules else None
        kind = result.kind
        fields = {"journal": entry.id, "kind": kind, "rule": rule, "from": mail.from_addr or "?"}
        if kind in IGNORED_KINDS:
            ref = self._bounce(session, mail, pending) if kind == "bounce" else None
            pending.add(ref, "ignored", **fields)
            if rule == OWN_ADDRESS_RULE:  # never answered, but the admins must know
                folder = self.config.mailbox.folders.ignored
                subject = (mail.subject or "")[:1000]
                own = OwnAddressMail(entry.id, mail.from_addr, subject, folder)
                decision = own_address_mail(own, tuple(self.config.admins.addresses))
                self.decider.outside_case(session, None, decision, pending)
            if kind == "auto_reply" and (away := reviewer_away(session, self.config, mail, result)):
                self.decider.decide(session, away[0], away[1], pending)  # never answered
                return Outcome("ignored", kind, rule, away[0].ref)
            return Outcome("ignored", kind, rule, ref)
        if not mail.from_addr:
            pending.add(None, "ignored", **{**fields, "reason": "no_sender"})
            return Outcome("ignored", kind, "no_sender", None)
        if kind == "reviewer_command":
            ref = self._reviewer(session, mail, result, pending)
            pending.add(ref, "received", **fields)
            return Outcome("processed", kind, rule, ref)
        if kind == "follow_up" and result.case_ref:
            case = cases.get_case(session, result.case_ref, for_update=True)
            if case is not None:
                pending.add(case.ref, "received", **fields)
                event = events.mail_received(mail, result, self._parse_annex)
                self.decider.decide(session, case, event, pending)
                return Outcome("processed", kind, rule, case.ref)
            kind = "question"  # a reference we do not know: treat as a new mail
        opened = cases.opened_before(session, entry.case_ref, mail.message_id)
        if opened is not None:  # a replay, or the same mail delivered twice: no second case
            pending.add(opened, "already_opened", journal=entry.id)
            return Outcome("processed", kind, rule, opened)
        new_kind = "subscription" if kind in ("subscription", "subscription_intent") else "question"
        ref = self._open_case(session, mail, new_kind, result, pending, fields)
        return Outcome("processed", kind, rule, ref)

    def _parse_annex(self, data: bytes, filename: str | None) -> Mapping[str, Any]:
        ahead = self.prefetch.annex(data, filename)
        if ahead is not None:
            return ahead
        return parse_annex_bytes(data, filename, self.annex_limits, values_copy=True)

    def _open_case(
        self,
        session: Session,
        mail: ParsedMail,
        kind: str,
        result: Classification,
        pending: Pending,
        fields: dict[str, Any],
    ) -> str:
        now = self.clock()
        ref = cases.next_ref(session, kind, now.year)
        event = events.mail_received(mail, result, self._parse_annex)
        case = Case(
            ref=ref,
            kind=kind,
            state="received",
            requester=event.sender,
            requester_name=mail.from_name,
            subject=(mail.subject or "")[:1000],
            origin_message_id=mail.message_id,
            created_at=now,
            updated_at=now,
        )
        # Not added to the session: the statements of the decision are SQL ones that do not
        # read `mail_case`, and `apply_decision` writes the case once, with the state decided.
        pending.add(ref, "received", **fields)
        self.decider.start(session, case, event, pending)
        return ref

    def _reviewer(
        self, session: Session, mail: ParsedMail, result: Classification, pending: Pending
    ) -> str | None:
        ref = result.case_ref
        case = cases.get_case(session, ref, for_update=True) if ref else None
        if not result.authenticated or case is None:
            # Invariant 3: decide nothing, log it, alert the admins, tell the sender.
            refused = RefusedReply(
                sender=events.sender_of(mail),
                reason=result.auth_failure or "unknown_case",
                subject=mail.subject or "",
                case_ref=ref,
                message_id=mail.message_id,
            )
            decision = refuse_reviewer_reply(
                refused, tuple(self.config.admins.addresses), self.clock()
            )
            self.decider.outside_case(session, ref, decision, pending)
            return ref
        event = events.reviewer_reply(mail, result, case.kind)
        self.decider.decide(session, case, event, pending)
        return case.ref

    def _bounce(self, session: Session, mail: ParsedMail, pending: Pending) -> str | None:
        """A bounce finds its outbox entry (by our `+b-TOKEN` envelope or the quoted
        Message-ID) and tells the workflow; nothing is ever answered (invariant 4)."""
        row = find_bounced_mail(session, mail, self.config.instance.generic_address)
        if row is None:
            pending.add(None, "bounce_unmatched", subject=mail.subject or "")
            return None
        row.state = "bounced"
        row.last_error = bounce_reason(mail)[:500]
        session.add(row)
        pending.add(row.case_ref, "bounce_matched", outbox=row.id, to=",".join(row.recipients))
        self._delivery_failed(session, row, row.last_error, "bounce", pending)
        return row.case_ref

    # ------------------------------------------------------------------ timers

    def sweep_timers(self) -> int:
        """Fire every due timer; each in its own transaction with its decision."""
        fired = 0
        while True:
            pending = Pending()
            with session_scope(self.engine) as session:
                timers = cases.claim_due_timers(session, self.clock(), limit=1)
                if not timers:
                    break
                timer = timers[0]
                case = cases.get_case(session, timer.case_ref, for_update=True)
                if case is not None:
                    pending.add(case.ref, "timer", kind=timer.kind)
                    event = TimerFired(timer.kind, dict(timer.data))
                    self.decider.decide(session, case, event, pending)
                fired += 1
            pending.flush(self.wflog, self.clock())
        return fired

    # ------------------------------------------------------------------ portal operations

    def run_portal_operations(self) -> OperationReport:
        """Carry out the due portal operations; each result is decided and applied in the
        transaction that marks its operation done."""
        pendings: list[Pending] = []

        def on_result(session: Session, case_ref: str, event: Event) -> None:
            pending = Pending()
            pendings.append(pending)
            if isinstance(event, PortalFailed):
                pending.add(case_ref, "portal_failed", kind=event.kind, reason=event.reason)
            self.decider.on_portal_result(session, case_ref, event, pending)

        settings = self.config.portal
        report = run_pending(
            self.engine,
            self.portal,
            on_result,
            now=self.clock,
            max_attempts=settings.operation_max_attempts,
            retry_base_seconds=settings.operation_retry_base_seconds,
        )
        for pending in pendings:
            pending.flush(self.wflog, self.clock())
        return report

    # ------------------------------------------------------------------ delivery failures

    def on_delivery_failure(self, session: Session, row: OutboxMail, reason: str) -> None:
        """A mail refused for good by the relay (5xx): the same `DeliveryFailed` event as a
        bounce, in the transaction that marks the row failed."""
        pending = Pending()
        self._delivery_failed(session, row, reason, "smtp", pending)
        session.flush()
        pending.flush(self.wflog, self.clock())

    def _delivery_failed(
        self,
        session: Session,
        row: OutboxMail,
        reason: str,
        via: Literal["smtp", "bounce"],
        pending: Pending,
    ) -> None:
        event = events.delivery_failed(row, reason, via)
        case = cases.get_case(session, row.case_ref, for_update=True) if row.case_ref else None
        if case is not None:
            self.decider.decide(session, case, event, pending)
            return
        admins = tuple(self.config.admins.addresses)
        decision = delivery_failed_without_case(event, row.id, admins)
        self.decider.outside_case(session, row.case_ref, decision, pending)
