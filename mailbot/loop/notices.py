"""Announcing new Q&A to the people who asked for it, through mailbot's outbox.

What was published comes from mailbot's own record (`publication`, written by the runner right
after `Portal.publish` and `Portal.withdraw`); who wants to hear of it comes from the portal,
through `Portal.subscribers` only (CONTRACTS.md, "The portal boundary").

Each publication version reaches a person at most once, by whichever channel they chose when it
came (`notice_sent` records it): an immediate mail (`notify_publication`, run right after a
publication) or a line in the daily digest (`send_daily_digest`, run by mailbot's scheduler). A
digest covers what was published since the person's choice took effect (or since their account
was created) and not announced yet, so it never repeats itself and a run missed is caught up by
the next one. Only the latest version of a case counts, and never a withdrawn one.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from mailbot.config import Config
from mailbot.loop.outbox import enqueue_mail
from mailbot.portal import Portal, Subscriber
from storage.models import NoticeSent, Publication
from workflows.casework import space_label
from workflows.core import SPACES, SendMail

PARIS = ZoneInfo("Europe/Paris")  # dates in mails are French calendar days


# ---------------------------------------------------------------------------- the record


def record_publication(
    session: Session,
    case_ref: str,
    space: str,
    question: str,
    url: str,
    version: int,
    at: datetime,
) -> Publication:
    """Record version `version` of a case's Q&A as published at `at` (idempotent: the same
    version again keeps the first record)."""
    existing = session.exec(
        select(Publication).where(Publication.case_ref == case_ref, Publication.version == version)
    ).first()
    if existing is not None:
        return existing
    row = Publication(
        case_ref=case_ref,
        version=version,
        space=space,
        question=question,
        url=url,
        published_at=at,
    )
    session.add(row)
    session.flush()
    return row


def record_withdrawal(session: Session, case_ref: str, at: datetime) -> None:
    """The case's Q&A was withdrawn from the portal at `at`: announce it no more."""
    latest = latest_publication(session, case_ref)
    if latest is not None and latest.withdrawn_at is None:
        latest.withdrawn_at = at
        session.add(latest)
        session.flush()


def latest_publication(session: Session, case_ref: str) -> Publication | None:
    """The latest version of a case's Q&A, withdrawn or not."""
    return session.exec(
        select(Publication)
        .where(Publication.case_ref == case_ref)
        .order_by(col(Publication.version).desc())
    ).first()


# ------------------------------------------------------------------------------ notices


def notify_publication(
    session: Session, config: Config, portal: Portal, case_ref: str, now: datetime
) -> int:
    """Queue one mail per immediate subscriber of the case's latest version; the count."""
    pub = latest_publication(session, case_ref)
    if pub is None or pub.withdrawn_at is not None:
        return 0
    sent = 0
    for person in portal.subscribers(pub.space, "immediate"):
        recipient = person.email.lower()
        if _already_sent(session, recipient, pub):
            continue
        mail = SendMail(
            template="portal_publication",
            to=(recipient,),
            context={**_person(person), "item": _item(pub), **_links(config)},
            key=f"portal-publication:{pub.case_ref}:v{pub.version}:{_short_hash(recipient)}",
        )
        if enqueue_mail(session, config, mail, None, now=now) is not None:
            _record(session, recipient, [pub], "immediate", now)
            sent += 1
    return sent


def send_daily_digest(session: Session, config: Config, portal: Portal, now: datetime) -> int:
    """Queue one digest per daily subscriber with something new; the number of digests."""
    items: dict[str, list[Publication]] = defaultdict(list)
    people: dict[str, Subscriber] = {}
    for space in SPACES:
        for person in portal.subscribers(space, "daily"):
            recipient = person.email.lower()
            people.setdefault(recipient, person)
            items[recipient].extend(_news(session, recipient, space, person.since, now))
    sent = 0
    for recipient, pubs in sorted(items.items()):
        if not pubs:
            continue
        versions = sorted((p.case_ref, p.version) for p in pubs)
        mail = SendMail(
            template="portal_digest",
            to=(recipient,),
            context={
                **_person(people[recipient]),
                "items": [_item(p) for p in pubs],
                "day": now.astimezone(PARIS),
                **_links(config),
            },
            key=f"portal-digest:{_short_hash(recipient + repr(versions))}",
        )
        if enqueue_mail(session, config, mail, None, now=now) is not None:
            _record(session, recipient, pubs, "daily", now)
            sent += 1
    return sent


def _news(
    session: Session, recipient: str, space: str, since: datetime, now: datetime
) -> list[Publication]:
    """Latest, visible versions in `space` published since `since` and not yet announced."""
    latest = (
        select(Publication.case_ref, func.max(Publication.version).label("version"))
        .group_by(col(Publication.case_ref))
        .subquery()
    )
    pubs = session.exec(
        select(Publication)
        .join(
            latest,
            (col(Publication.case_ref) == latest.c.case_ref)
            & (col(Publication.version) == latest.c.version),
        )
        .where(
            Publication.space == space,
            col(Publication.withdrawn_at).is_(None),
            Publication.published_at >= since,
            Publication.published_at <= now,
        )
        .order_by(col(Publication.published_at))
    ).all()
    return [p for p in pubs if not _already_sent(session, recipient, p)]


def _already_sent(session: Session, recipient: str, pub: Publication) -> bool:
    return (
        session.exec(
            select(NoticeSent.id).where(
                NoticeSent.recipient == recipient,
                NoticeSent.case_ref == pub.case_ref,
                NoticeSent.version == pub.version,
            )
        ).first()
        is not None
    )


def _record(
    session: Session, recipient: str, pubs: list[Publication], channel: str, now: datetime
) -> None:
    for pub in pubs:
        session.add(
            NoticeSent(
                recipient=recipient,
                case_ref=pub.case_ref,
                version=pub.version,
                channel=channel,
                sent_at=now,
            )
        )
    session.flush()


def _person(person: Subscriber) -> dict[str, Any]:
    return {"first_name": person.first_name, "last_name": person.last_name}


def _links(config: Config) -> dict[str, str]:
    return {"preferences_url": f"{config.portal.base_url}/compte/notifications"}


def _item(pub: Publication) -> dict[str, Any]:
    return {
        "case_ref": pub.case_ref,
        "space": pub.space,
        "space_label": space_label(pub.space),
        "question": pub.question,
        "version": pub.version,
        "published_at": pub.published_at.astimezone(PARIS),
        "url": pub.url,
    }


def _short_hash(value: str) -> str:
    # Outbox keys are at most 200 characters; an address may be 320.
    return hashlib.sha256(value.lower().encode("utf-8")).hexdigest()[:24]
