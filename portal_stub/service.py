"""`StubPortal`: the in-process implementation of `mailbot.portal.Portal` on the portal tables.

It works in the caller's session and never commits: mailbot's runner commits the portal's
changes with the case's in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from argon2 import PasswordHasher
from sqlmodel import Session, col, select

from mailbot.portal import Frequency, SearchHit, Subscriber
from portal_stub.models import (
    DEFAULT_FREQUENCY,
    PortalAccount,
    PortalNotificationPreference,
    PortalProvisioning,
    PortalPublication,
)
from portal_stub.search import fold, search_publication_ids
from portal_stub.security import DEFAULT_HASHER, temporary_password, verify_password
from workflows.core import SPACES, Credential, ExistingAccount, PersonRequest


class UnknownSpace(ValueError):
    """A space other than accueil, desta or antai."""


def publication_url(base_url: str, space: str, case_ref: str) -> str:
    return f"{base_url.rstrip('/')}/espaces/{space}/questions/{case_ref}"


def granted_spaces(requested: Sequence[str]) -> list[str]:
    """Accueil always, then the requested known spaces, in the portal's order."""
    wanted = {"accueil", *requested}
    return [s for s in SPACES if s in wanted]


def readable_spaces(account: PortalAccount) -> list[str]:
    """The spaces an account may read: all for admins, else Accueil and the granted ones."""
    return list(SPACES) if account.is_admin else granted_spaces(account.spaces)


def frequency_of(session: Session, account: PortalAccount, space: str) -> str:
    pref = session.get(PortalNotificationPreference, (account.id, space))
    return pref.frequency if pref else DEFAULT_FREQUENCY


def current_publication(session: Session, case_ref: str) -> PortalPublication | None:
    """The latest version of a case's Q&A, withdrawn or not."""
    return session.exec(
        select(PortalPublication).where(
            PortalPublication.case_ref == case_ref, col(PortalPublication.is_current)
        )
    ).first()


class StubPortal:
    def __init__(
        self,
        session: Session,
        base_url: str,
        now: Callable[[], datetime] | None = None,
        *,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self._now = now or (lambda: datetime.now(UTC))
        self.hasher = hasher or DEFAULT_HASHER

    # ----------------------------------------------------------------------------- accounts

    def find_accounts(self, emails: Sequence[str]) -> dict[str, ExistingAccount]:
        wanted = {e.strip().lower() for e in emails}
        if not wanted:
            return {}
        rows = self.session.exec(
            select(PortalAccount).where(col(PortalAccount.email).in_(wanted))
        ).all()
        return {
            a.email: ExistingAccount(
                email=a.email,
                organisation=a.organisation,
                spaces=tuple(readable_spaces(a)),
                # Has the person logged in since the invitation? (invitation reminders)
                first_login_at=a.last_login_at,
            )
            for a in rows
        }

    def create_accounts(
        self, request_ref: str, people: Sequence[PersonRequest], expires_at: datetime
    ) -> list[Credential]:
        return [self._provision(request_ref, person, expires_at) for person in people]

    def _provision(
        self, request_ref: str, person: PersonRequest, expires_at: datetime
    ) -> Credential:
        email = person.email.strip().lower()
        done = self.session.exec(
            select(PortalProvisioning).where(
                PortalProvisioning.request_ref == request_ref, PortalProvisioning.email == email
            )
        ).first()
        if done is not None:  # the same request again: same accounts, nothing new to send
            return Credential(email, None, done.expires_at, tuple(done.spaces), done.created)
        account = self.session.exec(
            select(PortalAccount).where(PortalAccount.email == email)
        ).first()
        password: str | None = None
        if account is None:
            password = temporary_password()
            account = self._new_account(request_ref, person, email, password, expires_at)
        else:
            account.spaces = granted_spaces([*account.spaces, *person.spaces])
        self.session.add(account)
        self.session.flush()
        assert account.id is not None
        spaces = granted_spaces(account.spaces)
        record = PortalProvisioning(
            request_ref=request_ref,
            email=email,
            account_id=account.id,
            created=password is not None,
            spaces=spaces,
            expires_at=expires_at if password else None,
            at=self._now(),
        )
        self.session.add(record)
        self.session.flush()
        return Credential(email, password, record.expires_at, tuple(spaces), record.created)

    def _new_account(
        self,
        request_ref: str,
        person: PersonRequest,
        email: str,
        password: str,
        expires_at: datetime,
    ) -> PortalAccount:
        return PortalAccount(
            email=email,
            first_name=person.first_name,
            last_name=person.last_name,
            organisation=person.organisation,
            job_title=person.job_title,
            spaces=granted_spaces(person.spaces),
            password_hash=self.hasher.hash(password),
            must_change_password=True,
            temp_password_expires_at=expires_at,
            created_for_request=request_ref,
            created_at=self._now(),
        )

    def check_login(self, email: str, password: str) -> bool:
        """True for the right password, unless it is a temporary one that has expired.

        Throttling is the web application's business (`portal_stub.auth`), not this check's.
        """
        account = self.session.exec(
            select(PortalAccount).where(PortalAccount.email == email.strip().lower())
        ).first()
        if not verify_password(self.hasher, account.password_hash if account else None, password):
            return False
        assert account is not None
        expiry = account.temp_password_expires_at
        return not (account.must_change_password and expiry is not None and expiry <= self._now())

    # ------------------------------------------------------------------------- publications

    def publish(self, space: str, question: str, answer: str, case_ref: str) -> tuple[str, int]:
        if space not in SPACES:
            raise UnknownSpace(space)
        previous = current_publication(self.session, case_ref)
        version = 1
        if previous is not None:
            previous.is_current = False
            version = previous.version + 1
            self.session.add(previous)
            self.session.flush()  # one current row per case, before the new one is added
        self.session.add(
            PortalPublication(
                case_ref=case_ref,
                version=version,
                space=space,
                question=question,
                answer=answer,
                search_text=fold(f"{question}\n{answer}"),
                published_at=self._now(),
            )
        )
        self.session.flush()
        return publication_url(self.base_url, space, case_ref), version

    def withdraw(self, case_ref: str) -> None:
        publication = current_publication(self.session, case_ref)
        if publication is not None and publication.withdrawn_at is None:
            publication.withdrawn_at = self._now()
            self.session.add(publication)
            self.session.flush()

    def search(
        self, query: str, spaces: Sequence[str] | None = None, limit: int = 3
    ) -> list[SearchHit]:
        scope = [s for s in (spaces if spaces is not None else SPACES) if s in SPACES]
        hits = []
        for pub_id, score in search_publication_ids(self.session, query, scope, limit):
            pub = self.session.get(PortalPublication, pub_id)
            assert pub is not None
            url = publication_url(self.base_url, pub.space, pub.case_ref)
            hits.append(SearchHit(pub.case_ref, pub.space, pub.question, url, score))
        return hits

    # ------------------------------------------------------------------------ notifications

    def subscribers(self, space: str, frequency: Frequency) -> list[Subscriber]:
        """Activated accounts (own password chosen) that may read `space` and chose
        `frequency` for it (no choice made: `DEFAULT_FREQUENCY`), with the moment that choice
        took effect (the account's creation when none was made)."""
        return [
            Subscriber(a.email, a.first_name, a.last_name, since)
            for a, since in subscribed_accounts(self.session, space, frequency)
        ]


def subscribed_accounts(
    session: Session, space: str, frequency: str
) -> list[tuple[PortalAccount, datetime]]:
    """(account, since) pairs, by address: see `StubPortal.subscribers`."""
    accounts = session.exec(
        select(PortalAccount)
        .where(col(PortalAccount.must_change_password).is_(False))
        .order_by(col(PortalAccount.email))
    ).all()
    prefs = {
        p.account_id: p
        for p in session.exec(
            select(PortalNotificationPreference).where(PortalNotificationPreference.space == space)
        ).all()
    }
    chosen = []
    for account in accounts:
        pref = prefs.get(account.id or 0)
        if space not in readable_spaces(account):
            continue
        if (pref.frequency if pref else DEFAULT_FREQUENCY) != frequency:
            continue
        chosen.append((account, pref.updated_at if pref else account.created_at))
    return chosen
