"""The vocabulary shared by every workflow: what goes in (a case, an event, a context) and what
comes out (a decision: new state, effects to carry out, workflow-log lines).

Workflows decide and do no I/O. The shell (`mailbot.loop.runner`) commits a decision in one
transaction: case changes, outbox mails, timers and log lines together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from workflows.commands import ReviewerCommand
from workflows.records import CaseRecord
from workflows.states import CaseKind, State
from workflows.text.triage_result import TriageResult

Space = Literal["accueil", "desta", "antai"]
SPACES: tuple[Space, ...] = ("accueil", "desta", "antai")

# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class CaseView:
    """A case as the workflow sees it (a snapshot of the `mail_case` row)."""

    ref: str
    kind: CaseKind
    state: State
    requester: str
    requester_name: str | None
    subject: str
    group: str | None
    assignee: str | None
    space: str | None
    origin_message_id: str | None
    created_at: datetime
    data: CaseRecord  # a SubscriptionRecord or a QuestionRecord, by `kind`


@dataclass(frozen=True)
class MailReceived:
    """A mail from a requester: the first of a case, or a follow-up in its thread."""

    sender: str  # bare address, lower-case
    sender_name: str | None
    subject: str
    message_id: str | None
    references: tuple[str, ...]  # References + In-Reply-To, oldest first
    text: str  # whole decoded body
    new_text: str  # what the sender wrote in this mail (quotes/signature removed)
    attachments: tuple[Attachment, ...] = ()
    annex: Mapping[str, Any] | None = None  # `mailbot annex parse --json` output, or None
    annex_filename: str | None = None
    omitted: tuple[str, ...] = ()  # attachments too large to pass on: « name (size) »
    # files named as a spreadsheet that are not one, when no table was found:
    # « « annexe.xlsx », un document PDF »
    not_tables: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReviewerReply:
    """An authenticated reply of a reviewer to a notification of the case."""

    reviewer: str
    reviewer_name: str | None
    message_id: str | None
    references: tuple[str, ...]
    new_text: str  # directive/command lines removed
    directives: tuple[str, ...]  # canonical directive strings (CONTRACTS.md)
    command: ReviewerCommand | None = None  # on subscription cases
    errors: tuple[str, ...] = ()  # French notes of the directive parser, for the reviewer


@dataclass(frozen=True)
class TimerFired:
    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Credential:
    """What the portal returned for one person (`Portal.create_accounts`)."""

    email: str
    temporary_password: str | None  # None: the account existed already (nothing new to send)
    expires_at: datetime | None
    spaces: tuple[str, ...]
    created: bool
    # A retried call (same idempotency key) could not return the first temporary password,
    # which the portal keeps only hashed: it issued a fresh one, and the first no longer opens.
    reissued: bool = False


@dataclass(frozen=True)
class AccountsProvisioned:
    credentials: tuple[Credential, ...]


@dataclass(frozen=True)
class Published:
    """The portal has published the case's Q&A (`Publish` carried out): where, which version,
    and what (for mailbot's record of publications and the notices)."""

    url: str
    version: int
    space: str = ""
    question: str = ""


@dataclass(frozen=True)
class Withdrawn:
    """The portal has withdrawn the case's published Q&A (`Withdraw` carried out)."""


@dataclass(frozen=True)
class PortalFailed:
    """A portal operation (`create_accounts`, `publish`, `withdraw`) failed for good, after
    its retries; `reason` is the last error, for the admins."""

    kind: str
    reason: str


@dataclass(frozen=True)
class DeliveryFailed:
    """An outbox mail of this case failed for good: our relay refused it (`via="smtp"`, a
    5xx) or a bounce came back (`via="bounce"`)."""

    recipient: str
    template: str
    reason: str
    via: Literal["smtp", "bounce"] = "bounce"


@dataclass(frozen=True)
class ReviewerAway:
    """A reviewer's out-of-office reply to this case's notification (never answered itself):
    the group's other members, or the admins, are told at once (workflows/group_review.py)."""

    reviewer: str
    message_id: str | None = None


@dataclass(frozen=True)
class InvitationReissued:
    """The portal issued a new temporary password for an unused account (`ReissueInvitation`
    carried out); `credential.temporary_password` None: the account is in use already."""

    credential: Credential


@dataclass(frozen=True)
class InvitationRevoked:
    """The portal made an unused invitation's temporary password unusable."""

    email: str


Event = (
    MailReceived
    | ReviewerReply
    | TimerFired
    | AccountsProvisioned
    | Published
    | Withdrawn
    | PortalFailed
    | DeliveryFailed
    | ReviewerAway
    | InvitationReissued
    | InvitationRevoked
)


@dataclass(frozen=True)
class SimilarAnswer:
    case_ref: str
    space: str
    question: str
    url: str


@dataclass(frozen=True)
class ExistingAccount:
    email: str
    organisation: str | None
    spaces: tuple[str, ...]
    first_login_at: datetime | None = None


@dataclass(frozen=True)
class Context:
    """Everything a decision may need to know, passed in by the shell."""

    now: datetime
    generic_address: str
    portal_base_url: str
    groups: Mapping[str, tuple[str, ...]]  # group name -> member addresses
    handles: Mapping[str, str]  # "subscription" / "question:desta" … -> group name
    admins: tuple[str, ...]
    cerema_url: str
    auto_redirect_out_of_scope: bool
    reviewer_reminder_business_days: int
    escalation_business_days: int
    invitation_reminder_days: int
    invitation_expiry_days: int
    add_business_days: Callable[[datetime, int], datetime]
    # `[questions] publish_delay_minutes`: how long a reviewer's answer is held (0: at once).
    # 0 here keeps hand-built contexts immediate; the shell passes the configured value.
    publish_delay_minutes: int = 0
    # `[limits] reviewer_notifications_per_case_per_hour` (0 here: no cap) and how many
    # follow-ups of this case were passed on to reviewers in the last hour
    # (workflows/followup_cap.py).
    reviewer_notifications_per_case_per_hour: int = 0
    forwards_last_hour: int = 0
    # Lookups prepared by the shell for this event (empty when irrelevant):
    existing_accounts: Mapping[str, ExistingAccount] = field(default_factory=dict)
    open_requests: Mapping[str, str] = field(default_factory=dict)  # email -> other case ref
    similar_answers: tuple[SimilarAnswer, ...] = ()
    triage: TriageResult | None = None  # for questions (None: unclassified)
    blank_annex: bytes | None = None  # the template xlsx, for subscription_intent replies
    # The administration's contacts that stay in published text (`[privacy] keep_contacts` and
    # the generic address).
    keep_contacts: tuple[str, ...] = ()


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class SendMail:
    """A mail rendered from `templates/<template>/` and written to the outbox.

    `key` makes the outbox idempotency key (`<case ref>:<key>`): a mail is sent at most once
    per key. `reviewer` set: a reviewer notification, whose Message-ID carries the HMAC token
    issued to that reviewer for this case. `auto`: an automatic answer to a person's mail
    (`Auto-Submitted: auto-replied`; otherwise `auto-generated`). `sensitive`: the stored copy
    is redacted once the SMTP server has accepted it (temporary passwords). `essential`: an
    automatic answer the sender must not miss (the acknowledgement of a new case, a report on
    an annex): only the higher per-address daily ceiling limits it, not the per-case cap that
    a spoofer writing in the sender's name could use up (docs/security.md).
    `thread_notification`: the shell threads the mail under the last reviewer notification of
    the case sent to its recipient (when `in_reply_to` is not set).
    """

    template: str
    to: tuple[str, ...]
    context: Mapping[str, Any]
    key: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    auto: bool = False
    reviewer: str | None = None
    attachments: tuple[Attachment, ...] = ()
    sensitive: bool = False
    essential: bool = False
    thread_notification: bool = False


@dataclass(frozen=True)
class PersonRequest:
    email: str
    first_name: str
    last_name: str
    organisation: str
    spaces: tuple[str, ...]
    job_title: str | None = None
    phone: str | None = None
    on_behalf_of: str | None = None


@dataclass(frozen=True)
class ProvisionAccounts:
    """Create portal accounts; the shell answers with `AccountsProvisioned`."""

    people: tuple[PersonRequest, ...]
    expires_at: datetime


@dataclass(frozen=True)
class Publish:
    """Publish the Q&A in the space; the shell answers with `Published`."""

    space: str
    question: str
    answer: str


@dataclass(frozen=True)
class Withdraw:
    pass


@dataclass(frozen=True)
class SetTimer:
    """Schedule `TimerFired(kind, data)` for this case at `due_at` (replaces one of same name)."""

    name: str
    kind: str
    due_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CancelTimers:
    """Cancel the pending timers of this case whose name starts with one of `prefixes`
    (empty: all of them)."""

    prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReissueInvitation:
    """A new temporary password for the unused account `email` (an admin's « Renvoyer »); the
    shell answers with `InvitationReissued`."""

    email: str
    expires_at: datetime


@dataclass(frozen=True)
class RevokeInvitation:
    """Make the unused invitation of `email` unusable; the shell answers `InvitationRevoked`."""

    email: str


PortalEffect = ProvisionAccounts | Publish | Withdraw | ReissueInvitation | RevokeInvitation
Effect = SendMail | PortalEffect | SetTimer | CancelTimers


@dataclass(frozen=True)
class LogLine:
    """One workflow-log line: `<time> <case ref> <event> key=value …`."""

    event: str
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """The outcome of one event. `state` None: unchanged. `updates`: other case columns to
    change (`group`, `assignee`, `space`, `requester_name`, `subject`); `data`: the new record
    of the case when not None (replaces it whole; None: unchanged)."""

    state: State | None = None
    updates: Mapping[str, Any] = field(default_factory=dict)
    data: CaseRecord | None = None
    effects: tuple[Effect, ...] = ()
    log: tuple[LogLine, ...] = ()
    closed: bool = False

    def then(self, more: Decision) -> Decision:
        """This decision followed by `more`, a decision that only adds effects and log lines
        (it changes nothing of the case: no state, data or updates)."""
        if more.state is not None or more.data is not None or more.updates:
            raise ValueError("a decision that changes the case cannot follow another one")
        return replace(self, effects=self.effects + more.effects, log=self.log + more.log)
