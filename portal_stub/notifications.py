"""Announcing new Q&A to the people who asked for it, through mailbot's outbox.

Each publication version reaches a person at most once, by whichever channel they chose when it
came (`portal_notification_sent` records it): an immediate mail (`notify_publication`, run by
mailbot right after a publication) or a line in the daily digest (`send_daily_digest`, run by
mailbot's scheduler). A digest covers what was published since the person's choice took effect
(or since their account was created) and not announced yet, so it never repeats itself and a
run missed is caught up by the next one.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from mailbot.config import Config
from mailbot.loop.outbox import enqueue_mail
from mailbot.portal import Frequency
from portal_stub.models import (
    PortalAccount,
    PortalNotificationPreference,
    PortalNotificationSent,
    PortalPublication,
)
from portal_stub.service import StubPortal, current_publication, publication_url
from portal_stub.spaces import space_label
from workflows.core import SPACES, SendMail

PARIS = ZoneInfo("Europe/Paris")  # dates in mails are French calendar days


def notify_publication(
    session: Session, config: Config, case_ref: str, *, now: datetime | None = None
) -> int:
    """Queue one mail per immediate subscriber of the case's current version; the count."""
    now = now or datetime.now(UTC)
    pub = current_publication(session, case_ref)
    if pub is None or pub.withdrawn_at is not None or pub.id is None:
        return 0
    sent = 0
    for account in _subscribers(session, config, pub.space, "immediate"):
        assert account.id is not None
        if _already_sent(session, account.id, [pub.id]):
            continue
        mail = SendMail(
            template="portal_publication",
            to=(account.email,),
            context={**_person(account), "item": _item(config, pub), **_links(config)},
            key=f"portal-publication:{pub.case_ref}:v{pub.version}:{_short_hash(account.email)}",
        )
        if enqueue_mail(session, config, mail, None, now=now) is not None:
            _record(session, account.id, [pub.id], "immediate", now)
            sent += 1
    return sent


def send_daily_digest(session: Session, config: Config, now: datetime) -> int:
    """Queue one digest per daily subscriber with something new; the number of digests."""
    items_by_account: dict[int, list[PortalPublication]] = defaultdict(list)
    accounts: dict[int, PortalAccount] = {}
    for space in SPACES:
        for account in _subscribers(session, config, space, "daily"):
            assert account.id is not None
            accounts[account.id] = account
            items_by_account[account.id].extend(_news(session, account, space, now))
    sent = 0
    for account_id, pubs in sorted(items_by_account.items()):
        if not pubs:
            continue
        account = accounts[account_id]
        ids = sorted(p.id for p in pubs if p.id is not None)
        mail = SendMail(
            template="portal_digest",
            to=(account.email,),
            context={
                **_person(account),
                "items": [_item(config, p) for p in pubs],
                "day": now.astimezone(PARIS),
                **_links(config),
            },
            key=f"portal-digest:{_short_hash(account.email + repr(ids))}",
        )
        if enqueue_mail(session, config, mail, None, now=now) is not None:
            _record(session, account_id, ids, "daily", now)
            sent += 1
    return sent


def _subscribers(
    session: Session, config: Config, space: str, frequency: Frequency
) -> list[PortalAccount]:
    """Who to tell, asked through the `Portal` boundary (`Portal.subscribers`, CONTRACTS.md),
    then their accounts for names and the record of what was already sent."""
    emails = StubPortal(session, config.portal.base_url).subscribers(space, frequency)
    if not emails:
        return []
    accounts = session.exec(select(PortalAccount).where(col(PortalAccount.email).in_(emails))).all()
    return sorted(accounts, key=lambda a: a.email)


def _news(
    session: Session, account: PortalAccount, space: str, now: datetime
) -> list[PortalPublication]:
    """Visible versions in `space` published since the choice held and not yet announced."""
    pref = session.get(PortalNotificationPreference, (account.id, space))
    since = pref.updated_at if pref else account.created_at
    pubs = session.exec(
        select(PortalPublication)
        .where(
            PortalPublication.space == space,
            col(PortalPublication.is_current),
            col(PortalPublication.withdrawn_at).is_(None),
            PortalPublication.published_at >= since,
            PortalPublication.published_at <= now,
        )
        .order_by(col(PortalPublication.published_at))
    ).all()
    assert account.id is not None
    return [p for p in pubs if p.id is not None and not _already_sent(session, account.id, [p.id])]


def _already_sent(session: Session, account_id: int, publication_ids: list[int]) -> bool:
    return (
        session.exec(
            select(PortalNotificationSent).where(
                PortalNotificationSent.account_id == account_id,
                col(PortalNotificationSent.publication_id).in_(publication_ids),
            )
        ).first()
        is not None
    )


def _record(
    session: Session, account_id: int, publication_ids: list[int], channel: str, now: datetime
) -> None:
    for pub_id in publication_ids:
        session.add(
            PortalNotificationSent(
                account_id=account_id, publication_id=pub_id, channel=channel, sent_at=now
            )
        )
    session.flush()


def _person(account: PortalAccount) -> dict[str, Any]:
    return {"first_name": account.first_name, "last_name": account.last_name}


def _links(config: Config) -> dict[str, str]:
    return {"preferences_url": f"{config.portal.base_url}/compte/notifications"}


def _item(config: Config, pub: PortalPublication) -> dict[str, Any]:
    return {
        "case_ref": pub.case_ref,
        "space": pub.space,
        "space_label": space_label(pub.space),
        "question": pub.question,
        "version": pub.version,
        "published_at": pub.published_at.astimezone(PARIS),
        "url": publication_url(config.portal.base_url, pub.space, pub.case_ref),
    }


def _short_hash(value: str) -> str:
    # Outbox keys are at most 200 characters; an address may be 320.
    return hashlib.sha256(value.lower().encode("utf-8")).hexdigest()[:24]
