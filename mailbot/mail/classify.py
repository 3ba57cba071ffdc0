"""Classification of a parsed mail: a list of small named rules, first match wins.

The order is ARCHITECTURE.md's: own mail → bounce → auto-reply → reviewer reply → follow-up
→ subscription → subscription intent → question. Every rule is evaluated so that the result
lists all that matched (the first decided): an operator sees why a mail went where it went.
The signs themselves (bounce wording, out-of-office wording…) live in `mailbot.mail.signs`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from mailbot.annex.sniff import is_spreadsheet
from mailbot.config import Config
from mailbot.mail import authres, signs, tokens
from mailbot.mail.parse import ParsedAttachment, ParsedMail, find_case_ref
from workflows.text.reply_text import extract_new_text

Kind = Literal[
    "own_mail",
    "bounce",
    "auto_reply",
    "reviewer_command",
    "follow_up",
    "subscription",
    "subscription_intent",
    "question",
]

DEFAULT_RULE = "default_question"
OWN_ADDRESS_RULE = "own_generic_address"  # the shell alerts the admins (not our header)

# Why a reviewer command was not authenticated (invariant 3).
MISSING_TOKEN = "missing_token"  # a reviewer wrote about a case without replying to a notification
BAD_TOKEN = "bad_token"  # the token does not verify for the case and any reviewer
WRONG_CASE = "wrong_case"  # the token is for another case than the subject's tag
WRONG_SENDER = "wrong_sender"  # issued to someone else (not allowed to decide for them)
NO_SECRET = "no_secret"  # no HMAC secret configured: nothing can be verified


@dataclass(frozen=True)
class ClassifyContext:
    config: Config | None
    secret: bytes | None
    # Whether a case with this reference exists (closed cases included: a follow-up reopens
    # them). None: every well-formed reference counts.
    case_is_open: Callable[[str], bool] | None = None
    envelope_to: str | None = None  # the RFC 5321 RCPT TO, when the shell knows it


@dataclass(frozen=True)
class Classification:
    kind: Kind
    rules: list[str]
    case_ref: str | None = None
    authenticated: bool | None = None  # set for reviewer_command only
    auth_failure: str | None = None
    reviewer_token_owner: str | None = None  # the address the verified token was issued to
    annex_attachment: ParsedAttachment | None = None  # first spreadsheet attached, by content
    new_text: str = ""  # what the sender wrote (workflows.text.reply_text), computed once


# --------------------------------------------------------------------------- facts


class _Facts:
    """What several rules look at, computed once and only when asked."""

    def __init__(self, mail: ParsedMail, ctx: ClassifyContext) -> None:
        self.mail = mail
        self.ctx = ctx
        self.config = ctx.config

    @cached_property
    def domain(self) -> str | None:
        return self.config.instance.domain.lower() if self.config else None

    def ours(self, mid: str) -> tokens.OurMessageId | None:
        """One of our Message-IDs; without a configuration, any domain (for `inspect`)."""
        domain = self.domain or mid.rpartition("@")[2].rstrip(">")
        return tokens.parse_our_message_id(mid, domain)

    @cached_property
    def thread_ids(self) -> list[tokens.OurMessageId]:
        """Our Message-IDs this mail refers to: In-Reply-To, then References newest first."""
        mids = ([self.mail.in_reply_to] if self.mail.in_reply_to else []) + list(
            reversed(self.mail.references)
        )
        found = [self.ours(m) for m in mids]
        return [f for f in found if f is not None]

    @cached_property
    def notifications(self) -> list[tokens.OurMessageId]:
        return [o for o in self.thread_ids if o.token is not None and o.case_ref]

    @cached_property
    def subject_ref(self) -> str | None:
        return find_case_ref(self.mail.subject, None, [])

    @cached_property
    def thread_ref(self) -> str | None:
        return next((o.case_ref for o in self.thread_ids if o.case_ref), None)

    @cached_property
    def case_ref(self) -> str | None:
        return self.thread_ref or self.subject_ref

    def known(self, ref: str | None) -> bool:
        if ref is None:
            return False
        return self.ctx.case_is_open is None or bool(self.ctx.case_is_open(ref))

    @cached_property
    def sender_is_reviewer(self) -> bool:
        return bool(
            self.config and self.mail.from_addr and self.config.is_reviewer(self.mail.from_addr)
        )

    @cached_property
    def new_text(self) -> str:
        try:
            return extract_new_text(self.mail.text, self.mail.html)
        except Exception:  # reply extraction must not stop classification
            return self.mail.text

    @cached_property
    def spreadsheet(self) -> ParsedAttachment | None:
        return first_spreadsheet(self.mail)

    @cached_property
    def generic_address(self) -> str | None:
        return self.config.instance.generic_address if self.config else None


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rule:
    name: str
    kind: Kind
    check: Callable[[_Facts], bool]
    doc: str = field(default="", compare=False)


def _own_mail(f: _Facts) -> bool:
    values = f.mail.headers.get_all("x-mailbot-instance")
    if f.domain is None:
        return bool(values)
    return any(v.strip().lower() == f.domain for v in values)


def _own_message_id(f: _Facts) -> bool:
    """A Message-ID of our shape on our domain: only we make those (a copy of a mail we sent,
    relayed back without our header)."""
    if f.domain is None or f.mail.message_id is None:
        return False
    return tokens.parse_our_message_id(f.mail.message_id, f.domain) is not None


def _own_generic_address(f: _Facts) -> bool:
    """From or Sender is the generic address or one of its `+` sub-addresses (a forwarding
    rule, an agent writing from the shared mailbox, a spoof): never answered."""
    if f.generic_address is None:
        return False
    senders = [f.mail.from_addr or ""]
    senders += [signs.bare_address(v) for v in f.mail.headers.get_all("sender")]
    return any(signs.is_own_address(a, f.generic_address) for a in senders if a)


def _bounce_envelope(f: _Facts) -> bool:
    if f.generic_address is None:
        return False
    addresses = [f.ctx.envelope_to] if f.ctx.envelope_to else []
    for name in ("delivered-to", "x-original-to", "envelope-to", "x-envelope-to", "to"):
        addresses.extend(f.mail.headers.get_all(name))
    addresses.extend(f.mail.to)
    hit = any(
        tokens.parse_bounce_token(signs.bare_address(a), f.generic_address) for a in addresses
    )
    # Vacation responders answer the envelope sender too (RFC 3834 §4): those are auto-replies.
    return hit and not signs.vacation_signs(f.mail)


def _reviewer_token_reference(f: _Facts) -> bool:
    return bool(f.notifications)


def _reviewer_without_token(f: _Facts) -> bool:
    return f.sender_is_reviewer and f.case_ref is not None


def _follow_up_reference(f: _Facts) -> bool:
    return f.known(f.thread_ref)


def _follow_up_subject_tag(f: _Facts) -> bool:
    return f.known(f.subject_ref)


def _annex_spreadsheet(f: _Facts) -> bool:
    return f.spreadsheet is not None


def _access_request(f: _Facts) -> bool:
    return signs.asks_for_access(f.mail.subject) or signs.asks_for_access(f.new_text[:4000])


RULES: tuple[Rule, ...] = (
    Rule("own_instance_header", "own_mail", _own_mail,
         "X-Mailbot-Instance names our instance: our own mail came back."),
    Rule("own_message_id", "own_mail", _own_message_id,
         "Its own Message-ID is one of ours (our shape, our domain)."),
    Rule(OWN_ADDRESS_RULE, "own_mail", _own_generic_address,
         "From or Sender is the generic address or a local+anything@ sub-address of it."),
    Rule("delivery_status_report", "bounce", lambda f: signs.delivery_report(f.mail),
         "multipart/report; report-type=delivery-status, or a delivery-status part (RFC 3464)."),
    Rule("feedback_report", "bounce", lambda f: signs.feedback_report(f.mail),
         "An abuse/feedback report (ARF, RFC 5965): nothing to answer."),
    Rule("failed_recipients_header", "bounce", lambda f: "x-failed-recipients" in f.mail.headers,
         "X-Failed-Recipients (Exim and others) is only set on bounces."),
    Rule("bounce_envelope_token", "bounce", _bounce_envelope,
         "Sent to our bounce sub-address local+b-TOKEN@domain, with no vacation sign."),
    Rule("mailer_daemon_sender", "bounce", lambda f: signs.daemon_bounce(f.mail),
         "From MAILER-DAEMON / postmaster / a mail delivery system, with bounce wording."),
    Rule("null_sender_delivery_notice", "bounce", lambda f: signs.null_sender_dsn(f.mail),
         "Empty Return-Path (<>) and delivery-failure wording in the subject or body."),
    Rule("read_receipt", "auto_reply", lambda f: signs.read_receipt(f.mail),
         "multipart/report; report-type=disposition-notification (RFC 8098)."),
    Rule("auto_submitted", "auto_reply", lambda f: signs.auto_submitted(f.mail),
         "Auto-Submitted other than `no` (RFC 3834 §5)."),
    Rule("autoreply_header", "auto_reply", lambda f: signs.autoreply_header(f.mail),
         "X-Autoreply, X-Autorespond, X-Autoresponder or X-Vacation."),
    Rule("precedence_bulk", "auto_reply", lambda f: signs.precedence_bulk(f.mail),
         "Precedence: bulk, junk, list or auto_reply."),
    Rule("list_traffic", "auto_reply", lambda f: signs.list_traffic(f.mail),
         "List-Id or List-Unsubscribe (RFC 2919, RFC 2369): mailing-list traffic."),
    Rule("null_return_path", "auto_reply", lambda f: f.mail.return_path == "",
         "Empty Return-Path <>: the null sender must never be answered (RFC 5321 §4.5.5)."),
    Rule("out_of_office", "auto_reply", lambda f: signs.out_of_office(f.mail),
         "An out-of-office subject WITH a second sign (auto header, <>, out-of-office body)."),
    Rule("reviewer_token_reference", "reviewer_command", _reviewer_token_reference,
         "In-Reply-To/References name one of our reviewer notifications (token inside)."),
    Rule("reviewer_without_token", "reviewer_command", _reviewer_without_token,
         "A configured reviewer writes about a case without replying to a notification."),
    Rule("follow_up_reference", "follow_up", _follow_up_reference,
         "In-Reply-To/References name one of our Message-IDs of a known case."),
    Rule("follow_up_subject_tag", "follow_up", _follow_up_subject_tag,
         "The subject carries a [Q-…]/[ABO-…] tag of a known case."),
    Rule("annex_spreadsheet", "subscription", _annex_spreadsheet,
         "An attachment is a spreadsheet by its content (not its name)."),
    Rule("access_request_wording", "subscription_intent", _access_request,
         "The subject or new text asks for an account or an access, without an annex."),
    Rule(DEFAULT_RULE, "question", lambda _f: True, "Everything else is a question."),
)  # fmt: skip


def first_spreadsheet(mail: ParsedMail) -> ParsedAttachment | None:
    """The mail's first attachment that is a spreadsheet by its content: its annex."""
    for attachment in mail.attachments:
        if attachment.data and attachment.content_type != "message/rfc822":
            if is_spreadsheet(attachment.data):
                return attachment
    return None


def classify(mail: ParsedMail, ctx: ClassifyContext) -> Classification:
    facts = _Facts(mail, ctx)
    matched = [rule for rule in RULES if _safe_check(rule, facts)]
    first = matched[0]
    # The catch-all is named only when it decided.
    names = [rule.name for rule in matched if rule is first or rule.name != DEFAULT_RULE]
    annex = facts.spreadsheet if first.kind in ("follow_up", "subscription") else None
    if first.kind == "reviewer_command":
        return _reviewer_classification(facts, names)
    case_ref = facts.case_ref
    if first.kind == "follow_up" and not facts.known(facts.thread_ref):
        case_ref = facts.subject_ref
    return Classification(
        kind=first.kind,
        rules=names,
        case_ref=case_ref,
        annex_attachment=annex,
        new_text=facts.new_text,
    )


def _safe_check(rule: Rule, facts: _Facts) -> bool:
    try:
        return bool(rule.check(facts))
    except (ImportError, MemoryError):
        raise
    except Exception:  # a rule that cannot decide does not match
        return False


# --------------------------------------------------------------------------- reviewers


def _reviewer_classification(f: _Facts, names: list[str]) -> Classification:
    ref, owner, failure = _authenticate(f)
    return Classification(
        kind="reviewer_command",
        rules=names,
        case_ref=ref,
        authenticated=failure is None,
        auth_failure=failure,
        reviewer_token_owner=owner,
        new_text=f.new_text,
    )


def _authenticate(f: _Facts) -> tuple[str | None, str | None, str | None]:
    """(case ref, token owner, failure reason or None). The checks, in order: a notification
    is referred to (`missing_token`), a secret exists (`no_secret`), its token verifies for
    the case in that Message-ID and a configured reviewer or the sender (`bad_token`), the
    subject's case tag, when there is one, names the same case (`wrong_case`), the sender is
    the owner or — `any_member_may_decide` — shares a group with them (`wrong_sender`), and
    no trusted Authentication-Results fails (`auth_results_fail` / `auth_results_not_pass`)."""
    if not f.notifications:
        return f.case_ref, None, MISSING_TOKEN
    if not f.ctx.secret:
        return f.notifications[0].case_ref, None, NO_SECRET
    sender = (f.mail.from_addr or "").lower()
    candidates = _reviewer_addresses(f.config) | ({sender} if sender else set())
    for note in f.notifications:
        assert note.case_ref is not None and note.token is not None
        owner = tokens.token_issued_to(
            f.ctx.secret, note.case_ref, note.nonce, note.token, sorted(candidates)
        )
        if owner is not None:
            return note.case_ref, owner, _after_token(f, note.case_ref, owner, sender)
    return f.notifications[0].case_ref, None, BAD_TOKEN


def _after_token(f: _Facts, ref: str, owner: str, sender: str) -> str | None:
    if f.subject_ref is not None and f.subject_ref != ref:
        return WRONG_CASE
    if not _may_decide_for(f.config, sender, owner):
        return WRONG_SENDER
    if f.config is not None:
        ar = f.config.authentication_results
        ok, reason = authres.verdict(f.mail, ar.trusted_authserv_ids, ar.require_pass)
        if not ok:
            return reason
    return None


def _reviewer_addresses(config: Config | None) -> set[str]:
    if config is None:
        return set()
    return {m for group in config.reviewers.groups.values() for m in group.members}


def _may_decide_for(config: Config | None, sender: str, owner: str) -> bool:
    """The owner still a reviewer; the sender the owner, or a member of one of the owner's
    groups when `any_member_may_decide`."""
    if config is None or not config.is_reviewer(owner):
        return False
    if sender == owner:
        return True
    if not config.reviewers.any_member_may_decide:
        return False
    return bool(set(config.groups_of(sender)) & set(config.groups_of(owner)))
