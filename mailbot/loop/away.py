"""A reviewer's out-of-office reply to a notification (issue 10, « Reviewers in a group »).

Such mail is an auto-reply: it is never answered and goes to Ignored like any other. But when
it comes from a member of the case's group (or its assignee) and reads as a vacation message
(RFC 3834 headers, or the usual out-of-office wording: `mail/signs.py`), the case is told with
a `ReviewerAway` event, so that the group's other members, or the admins, take it at once
instead of waiting for the escalation timer (workflows/group_review.py)."""

from __future__ import annotations

from sqlmodel import Session

from mailbot.config import Config
from mailbot.loop import cases
from mailbot.mail import signs
from mailbot.mail.classify import Classification
from mailbot.mail.parse import ParsedMail
from storage.models import Case
from workflows.core import ReviewerAway


def reviewer_away(
    session: Session, config: Config, mail: ParsedMail, result: Classification
) -> tuple[Case, ReviewerAway] | None:
    """The case and the event, when this auto-reply is a reviewer's out-of-office reply to
    one of the case's mails; None otherwise."""
    if result.kind != "auto_reply" or not result.case_ref or not mail.from_addr:
        return None
    if signs.read_receipt(mail) or not signs.vacation_signs(mail):
        return None
    case = cases.get_case(session, result.case_ref, for_update=True)
    if case is None:
        return None
    group = config.reviewers.groups.get(case.group or "")
    reviewers = {m.lower() for m in group.members} if group else set()
    if case.assignee:
        reviewers.add(case.assignee.lower())
    sender = mail.from_addr.lower()
    if sender not in reviewers:
        return None
    return case, ReviewerAway(reviewer=sender, message_id=mail.message_id)
