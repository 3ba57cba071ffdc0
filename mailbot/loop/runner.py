"""Processing one journaled message: parse, classify, decide, and commit the decision.

Everything a message causes (case changes, outbox mails, timers, portal changes, case events)
is written in ONE transaction together with the message's fate (invariant 1); the workflow
log lines are appended after the commit. A message whose processing raises is rolled back and
marked `quarantined` with the error, in a transaction of its own.
"""

from __future__ import annotations

import logging
import re
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from mailbot.annex.reader import parse_annex_bytes, sniff_spreadsheet
from mailbot.config import Config
from mailbot.limits import annex_limits, parse_limits
from mailbot.loop import cases
from mailbot.loop.context import build_context
from mailbot.loop.outbox import enqueue_mail
from mailbot.mail.bounces import bounce_reason, find_bounced_mail
from mailbot.mail.classify import Classification, ClassifyContext, classify
from mailbot.mail.parse import ParsedAttachment, ParsedMail, parse_message
from mailbot.portal import Portal
from mailbot.wflog import WorkflowLog
from storage.db import session_scope
from storage.models import Case, CaseEvent, InboundMessage, OutboxMail
from workflows import question, subscription
from workflows.core import (
    AccountsProvisioned,
    Attachment,
    Context,
    Decision,
    DeliveryFailed,
    Event,
    MailReceived,
    ProvisionAccounts,
    Publish,
    Published,
    ReviewerReply,
    SendMail,
    TimerFired,
    Withdraw,
)
from workflows.text.directives import parse_directives
from workflows.text.reply_text import extract_new_text

log = logging.getLogger(__name__)

FINAL_FATES = ("processed", "ignored", "quarantined")
IGNORED_KINDS = ("own_mail", "bounce", "auto_reply")
WORKFLOWS: dict[str, Any] = {"question": question, "subscription": subscription}

PortalFactory = Callable[[Session], Portal]


@dataclass
class Outcome:
    fate: str
    kind: str | None = None
    rule: str | None = None
    case_ref: str | None = None
    error: str | None = None


@dataclass
class _Pending:
    """Log lines to write once the transaction has committed."""

    lines: list[tuple[str | None, str, dict[str, Any]]] = field(default_factory=list)

    def add(self, ref: str | None, event: str, **fields: Any) -> None:
        self.lines.append((ref, event, fields))


class Runner:
    def __init__(
        self,
        config: Config,
        engine: Engine,
        wflog: WorkflowLog,
        portal_factory: PortalFactory,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        secret: bytes | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.wflog = wflog
        self.portal_factory = portal_factory
        self.clock = clock
        self.secret = secret if secret is not None else config.secret()
        self.handles = {h: name for name, g in config.reviewers.groups.items() for h in g.handles}

    # ------------------------------------------------------------------ journal

    def journal(self, raw: bytes, uidvalidity: int | None, uid: int | None) -> tuple[int, bool]:
        """Store the raw bytes first (invariant 1). Returns (journal id, already final)."""
        import hashlib

        digest = hashlib.sha256(raw).hexdigest()
        with session_scope(self.engine) as session:
            row = session.exec(
                select(InboundMessage).where(InboundMessage.sha256 == digest)
            ).first()
            if row is not None:
                return int(row.id or 0), row.fate in FINAL_FATES
            row = InboundMessage(
                message_id=quick_message_id(raw),
                sha256=digest,
                uidvalidity=uidvalidity,
                uid=uid,
                size=len(raw),
                raw=raw,
                received_at=self.clock(),
            )
            session.add(row)
            session.flush()
            return int(row.id or 0), False

    # ------------------------------------------------------------------ processing

    def process(self, journal_id: int) -> Outcome:
        pending = _Pending()
        try:
            with session_scope(self.engine) as session:
                row = session.get(InboundMessage, journal_id, with_for_update=True)
                if row is None:
                    raise LookupError(f"journal entry {journal_id} not found")
                if row.fate in FINAL_FATES:
                    return Outcome(row.fate, row.kind, row.rule, row.case_ref)
                outcome = self._process_row(session, row, pending)
                row.fate = outcome.fate
                row.kind = outcome.kind
                row.rule = outcome.rule
                row.case_ref = outcome.case_ref
                row.error = None
                row.processed_at = self.clock()
                session.add(row)
        except Exception as err:  # noqa: BLE001 - any failure quarantines the message
            log.exception("processing journal entry %s failed", journal_id)
            return self._quarantine(journal_id, err)
        self._flush_log(pending)
        return outcome

    def _quarantine(self, journal_id: int, err: BaseException) -> Outcome:
        summary = f"{type(err).__name__}: {err}"[:500]
        detail = "".join(traceback.format_exception(err))[-4000:]
        with session_scope(self.engine) as session:
            row = session.get(InboundMessage, journal_id)
            if row is not None:
                row.fate = "quarantined"
                row.error = detail
                row.processed_at = self.clock()
                session.add(row)
        self.wflog.write(None, "quarantined", {"journal": journal_id, "error": summary})
        return Outcome("quarantined", error=summary)

    def _flush_log(self, pending: _Pending) -> None:
        for ref, event, fields in pending.lines:
            self.wflog.write(ref, event, fields, at=self.clock())

    def _process_row(self, session: Session, row: InboundMessage, pending: _Pending) -> Outcome:
        if len(row.raw) > self.config.limits.max_message_bytes:
            raise ValueError(f"message of {len(row.raw)} bytes over the limit")
        mail = parse_message(row.raw, parse_limits(self.config))
        row.sender = mail.from_addr
        row.subject = (mail.subject or "")[:1000]
        ctx = ClassifyContext(
            config=self.config,
            secret=self.secret,
            case_is_open=lambda ref: cases.get_case(session, ref) is not None,
        )
        result = classify(mail, ctx)
        rule = result.rules[0] if result.rules else None
        kind = result.kind
        fields = {"journal": row.id, "kind": kind, "rule": rule, "from": mail.from_addr or "?"}
        if kind in IGNORED_KINDS:
            ref = self._ignored(session, mail, kind, pending)
            pending.add(ref, "ignored", **fields)
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
                event = self._mail_event(mail, case.kind, result)
                self._decide(session, case, event, pending)
                return Outcome("processed", kind, rule, case.ref)
            kind = "question"  # a reference we do not know: treat as a new mail
        new_kind = "subscription" if kind in ("subscription", "subscription_intent") else "question"
        ref = self._open_case(session, mail, new_kind, result, pending, fields)
        return Outcome("processed", kind, rule, ref)

    # ------------------------------------------------------------------ kinds

    def _mail_event(self, mail: ParsedMail, case_kind: str, result: Classification) -> MailReceived:
        annex, annex_name = None, None
        attachment = getattr(result, "annex_attachment", None)
        if attachment is None and case_kind == "subscription":
            attachment = _spreadsheet_attachment(mail)
        if attachment is not None:
            annex, annex_name = (
                self._parse_annex(attachment.data, attachment.filename),
                attachment.filename,
            )
        return MailReceived(
            sender=sender_of(mail),
            sender_name=mail.from_name,
            subject=mail.subject or "",
            message_id=mail.message_id,
            references=tuple(mail.references) + ((mail.in_reply_to,) if mail.in_reply_to else ()),
            text=mail.text or "",
            new_text=extract_new_text(mail.text or "", mail.html),
            attachments=tuple(
                Attachment(a.filename or "piece-jointe", a.content_type, a.data)
                for a in mail.attachments
                if a.data
            ),
            annex=annex,
            annex_filename=annex_name,
        )

    def _parse_annex(self, data: bytes, filename: str | None) -> dict[str, Any]:
        return parse_annex_bytes(data, filename, annex_limits(self.config))

    def _open_case(
        self,
        session: Session,
        mail: ParsedMail,
        kind: str,
        result: Classification,
        pending: _Pending,
        fields: dict[str, Any],
    ) -> str:
        now = self.clock()
        ref = cases.next_ref(session, kind, now.year)
        event = self._mail_event(mail, kind, result)
        case = Case(
            ref=ref,
            kind=kind,
            state="received",
            requester=sender_of(mail),
            requester_name=mail.from_name,
            subject=(mail.subject or "")[:1000],
            origin_message_id=mail.message_id,
            created_at=now,
            updated_at=now,
        )
        session.add(case)
        session.flush()
        pending.add(ref, "received", **fields)
        portal = self.portal_factory(session)
        ctx = self._context(session, portal, kind, event, case)
        decision = WORKFLOWS[kind].start(event, ctx, ref)
        self._apply(session, case, decision, pending, portal)
        return ref

    def _reviewer(
        self, session: Session, mail: ParsedMail, result: Classification, pending: _Pending
    ) -> str | None:
        ref = result.case_ref
        case = cases.get_case(session, ref, for_update=True) if ref else None
        if not result.authenticated or case is None:
            reason = result.auth_failure or "unknown_case"
            self._refuse_reviewer(session, mail, ref, reason, pending)
            return ref
        assert case is not None
        new_text = extract_new_text(mail.text or "", mail.html)
        parsed = parse_directives(new_text, case.kind)
        event = ReviewerReply(
            reviewer=sender_of(mail),
            reviewer_name=mail.from_name,
            message_id=mail.message_id,
            references=tuple(mail.references) + ((mail.in_reply_to,) if mail.in_reply_to else ()),
            new_text=parsed.text,
            directives=tuple(parsed.directives),
            command=parsed.command,
            errors=tuple(parsed.errors),
        )
        self._decide(session, case, event, pending)
        return case.ref

    def _refuse_reviewer(
        self, session: Session, mail: ParsedMail, ref: str | None, reason: str, pending: _Pending
    ) -> None:
        """Invariant 3: decide nothing, log it, alert the admins, tell the sender."""
        now = self.clock()
        context = {
            "sender": mail.from_addr,
            "reason": reason,
            "subject": mail.subject or "",
            "ref": ref,
        }
        key = f"authfail:{mail.message_id or now.isoformat()}"
        enqueue_mail(
            session,
            self.config,
            SendMail(
                template="reviewer_auth_alert",
                to=tuple(self.config.admins.addresses),
                context=context,
                key=f"{key}:admins",
            ),
            ref,
            now=now,
            secret=self.secret,
        )
        enqueue_mail(
            session,
            self.config,
            SendMail(
                template="reviewer_auth_failed",
                to=(sender_of(mail),),
                context=context,
                key=f"{key}:sender",
                in_reply_to=mail.message_id,
                auto=True,
            ),
            ref,
            now=now,
            secret=self.secret,
        )
        if ref and cases.get_case(session, ref) is not None:
            session.add(
                CaseEvent(
                    case_ref=ref,
                    at=now,
                    event="reviewer_auth_failed",
                    actor=mail.from_addr,
                    data={"reason": reason},
                )
            )
        pending.add(ref, "reviewer_auth_failed", **{"from": mail.from_addr, "reason": reason})

    def _ignored(
        self, session: Session, mail: ParsedMail, kind: str, pending: _Pending
    ) -> str | None:
        """Bounces find their outbox entry (by our `+b-TOKEN` envelope or the quoted
        Message-ID); nothing is ever answered (invariant 4)."""
        if kind != "bounce":
            return None
        row = find_bounced_mail(session, mail, self.config.instance.generic_address)
        if row is None:
            pending.add(None, "bounce_unmatched", subject=mail.subject or "")
            return None
        reason = bounce_reason(mail)
        row.state = "bounced"
        row.last_error = reason[:500]
        session.add(row)
        pending.add(row.case_ref, "bounce_matched", outbox=row.id, to=",".join(row.recipients))
        if row.case_ref:
            case = cases.get_case(session, row.case_ref, for_update=True)
            if case is not None:
                event = DeliveryFailed(
                    recipient=",".join(row.recipients), template=row.template, reason=reason[:300]
                )
                self._decide(session, case, event, pending)
        return row.case_ref

    # ------------------------------------------------------------------ decisions

    def _context(
        self,
        session: Session,
        portal: Portal,
        kind: str,
        event: Event | None,
        case: Case | None = None,
    ) -> Context:
        return build_context(
            self.config, session, portal, kind, event, case, self.clock(), self.handles
        )

    def _decide(
        self,
        session: Session,
        case: Case,
        event: Event,
        pending: _Pending,
    ) -> None:
        portal = self.portal_factory(session)
        ctx = self._context(session, portal, case.kind, event, case)
        decision = WORKFLOWS[case.kind].decide(cases.view(case), event, ctx)
        self._apply(session, case, decision, pending, portal)

    def _apply(
        self,
        session: Session,
        case: Case,
        decision: Decision,
        pending: _Pending,
        portal: Portal,
        depth: int = 0,
    ) -> None:
        now = self.clock()
        applied = cases.Applied()
        cases.apply_decision(session, self.config, case, decision, now, applied, self.secret)
        for event_name, fields in applied.log:
            pending.add(case.ref, event_name, **fields)
        for effect in applied.follow_ups:
            if depth > 5:
                raise RuntimeError("effect chain too deep")
            result: Event | None = None
            # Until effects go through mailbot.loop.portal_ops, the portal is called here, in
            # this transaction: a fresh key per call (a rollback undoes the call with it).
            key = f"{case.ref}:inline:{uuid.uuid4().hex}"
            if isinstance(effect, ProvisionAccounts):
                creds = portal.create_accounts(
                    case.ref, list(effect.people), effect.expires_at, key
                )
                result = AccountsProvisioned(tuple(creds))
            elif isinstance(effect, Publish):
                url, version = portal.publish(
                    effect.space, effect.question, effect.answer, case.ref, key
                )
                self._notify_publication(session, case.ref)
                result = Published(url=url, version=version)
            elif isinstance(effect, Withdraw):
                portal.withdraw(case.ref, key)
            if result is not None:
                ctx = self._context(session, portal, case.kind, result, case)
                follow = WORKFLOWS[case.kind].decide(cases.view(case), result, ctx)
                self._apply(session, case, follow, pending, portal, depth + 1)

    def _notify_publication(self, session: Session, case_ref: str) -> None:
        try:
            from portal_stub.notifications import notify_publication
        except ImportError:  # pragma: no cover - a deployment with a real portal
            return
        notify_publication(session, self.config, case_ref)

    # ------------------------------------------------------------------ timers

    def sweep_timers(self) -> int:
        """Fire every due timer; each in its own transaction with its decision."""
        fired = 0
        while True:
            pending = _Pending()
            with session_scope(self.engine) as session:
                timers = cases.claim_due_timers(session, self.clock(), limit=1)
                if not timers:
                    break
                timer = timers[0]
                case = cases.get_case(session, timer.case_ref, for_update=True)
                if case is not None:
                    pending.add(case.ref, "timer", kind=timer.kind)
                    self._decide(session, case, TimerFired(timer.kind, dict(timer.data)), pending)
                fired += 1
            self._flush_log(pending)
        return fired

    # ------------------------------------------------------------------ delivery failures

    def on_delivery_failure(self, session: Session, row: OutboxMail, reason: str) -> None:
        """A mail failed for good (5xx): case event, workflow told, admins alerted."""
        now = self.clock()
        pending = _Pending()
        pending.add(
            row.case_ref,
            "delivery_failed",
            outbox=row.id,
            to=",".join(row.recipients),
            reason=reason[:200],
        )
        if row.template != "delivery_failed_alert":
            enqueue_mail(
                session,
                self.config,
                SendMail(
                    template="delivery_failed_alert",
                    to=tuple(self.config.admins.addresses),
                    context={
                        "recipient": ", ".join(row.recipients),
                        "template": row.template,
                        "reason": reason,
                        "ref": row.case_ref,
                    },
                    key=f"delivery-failed:{row.id}",
                ),
                row.case_ref,
                now=now,
                secret=self.secret,
            )
        if row.case_ref:
            case = cases.get_case(session, row.case_ref)
            if case is not None:
                session.add(
                    CaseEvent(
                        case_ref=case.ref,
                        at=now,
                        event="delivery_failed",
                        data={"outbox": row.id, "reason": reason[:300]},
                    )
                )
        self._flush_log(pending)


_MID = re.compile(rb"^message-id:[ \t]*(<[^>\r\n]{1,900}>)", re.IGNORECASE | re.MULTILINE)


def sender_of(mail: ParsedMail) -> str:
    """The From address of a mail we act on (mail without one is ignored before this)."""
    if not mail.from_addr:
        raise ValueError("a mail without a sender reached a workflow")
    return mail.from_addr


def quick_message_id(raw: bytes) -> str | None:
    """The Message-ID of the header block, found without parsing the whole message."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:65536]
    match = _MID.search(head)
    return match.group(1).decode("ascii", "replace") if match else None


def _spreadsheet_attachment(mail: ParsedMail) -> ParsedAttachment | None:
    for att in mail.attachments:
        if att.data and sniff_spreadsheet(att.data):
            return att
    return None
