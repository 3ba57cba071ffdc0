"""`StubPortal`: the in-process implementation of `mailbot.portal.Portal` on the portal tables.

It opens its own sessions on the database it is given (an Engine or a session factory) and
commits one short transaction per mutating call, together with the call's idempotency key
(`PortalCallKey`): mailbot calls it after its own commit, from the durable operation table,
and a retried call with the same key returns what the first one did.

Transitional: given a `Session` instead, it works inside that session's transaction (each
mutating call in a SAVEPOINT, nothing committed). Only mailbot's synchronous runner path and
`portal_stub.notifications` still do so; they go once portal operations run from
`mailbot.loop.portal_ops` after commit (on SQLite, a second connection would wait for the
runner's write lock).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from mailbot.portal import Frequency, SearchHit, Subscriber
from portal_stub import invitations
from portal_stub.accounts_admin import AccountAdmin
from portal_stub.documents_admin import DocumentAdmin
from portal_stub.models import (
    DEFAULT_FREQUENCY,
    PortalAccount,
    PortalNotificationPreference,
    PortalProvisioning,
    PortalPublication,
)
from portal_stub.search import search_publication_ids
from portal_stub.security import temporary_password, verify_password
from portal_stub.store import (
    KeyReused,
    SessionFactory,
    granted_spaces,
    readable_spaces,
    spaces_readable,
)
from workflows.core import SPACES, Credential, ExistingAccount, PersonRequest
from workflows.text.fold import fold

__all__ = [
    "KeyReused",
    "SessionFactory",
    "StubPortal",
    "UnknownSpace",
    "granted_spaces",
    "readable_spaces",
]


class UnknownSpace(ValueError):
    """A space other than accueil, desta or antai."""


@cache
def _accounts_by_email() -> Any:
    """Built once: building a statement costs more than running it on SQLite. Columns, not
    `PortalAccount` objects: loading those cost two thirds of the call."""
    table = PortalAccount.__table__  # type: ignore[attr-defined]
    columns = ("email", "organisation", "is_admin", "spaces", "last_login_at")
    return select_columns(*(table.c[name] for name in columns)).where(
        table.c.email.in_(bindparam("emails", expanding=True))
    )


@cache
def _publication_by_id() -> Any:
    table = PortalPublication.__table__  # type: ignore[attr-defined]
    return select_columns(table.c.case_ref, table.c.space, table.c.question).where(
        table.c.id == bindparam("id")
    )


def publication_url(base_url: str, space: str, case_ref: str) -> str:
    return f"{base_url.rstrip('/')}/espaces/{space}/questions/{case_ref}"


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


class StubPortal(AccountAdmin, DocumentAdmin):
    """The stand-in's `Portal`: `PortalStore`'s transactions, the admin's calls on accounts
    (`AccountAdmin`) and documents (`DocumentAdmin`), and the workflow's calls below."""

    # ----------------------------------------------------------------------------- accounts

    def find_accounts(self, emails: Sequence[str]) -> dict[str, ExistingAccount]:
        wanted = {e.strip().lower() for e in emails}
        if not wanted:
            return {}
        with self._read_statements() as connection:
            found = connection.execute(_accounts_by_email(), {"emails": sorted(wanted)})
            return {
                email: ExistingAccount(
                    email=email,
                    organisation=organisation,
                    spaces=tuple(spaces_readable(is_admin, spaces)),
                    # Has the person logged in since the invitation? (invitation reminders)
                    first_login_at=last_login_at,
                )
                for email, organisation, is_admin, spaces, last_login_at in found
            }

    def create_accounts(
        self,
        request_ref: str,
        people: Sequence[PersonRequest],
        expires_at: datetime,
        key: str,
    ) -> list[Credential]:
        with self._writing() as session:
            retry = self._done(session, key, "create_accounts", request_ref) is not None
            creds = [
                self._provision(session, request_ref, person, expires_at, retry)
                for person in people
            ]
            if not retry:
                emails = [c.email for c in creds]
                self._record(session, key, "create_accounts", request_ref, {"emails": emails})
            return creds

    def _provision(
        self,
        session: Session,
        request_ref: str,
        person: PersonRequest,
        expires_at: datetime,
        retry: bool,
    ) -> Credential:
        email = person.email.strip().lower()
        done = session.exec(
            select(PortalProvisioning).where(
                PortalProvisioning.request_ref == request_ref, PortalProvisioning.email == email
            )
        ).first()
        if done is not None:
            if retry and done.created:
                return self._reissue(session, done)
            # The same request under another key: same account, nothing new to send.
            return Credential(email, None, done.expires_at, tuple(done.spaces), done.created)
        account = session.exec(select(PortalAccount).where(PortalAccount.email == email)).first()
        password: str | None = None
        if account is None:
            password = temporary_password()
            account = self._new_account(request_ref, person, email, password, expires_at)
        else:
            account.spaces = granted_spaces([*account.spaces, *person.spaces])
        session.add(account)
        session.flush()
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
        session.add(record)
        session.flush()
        return Credential(email, password, record.expires_at, tuple(spaces), record.created)

    def _reissue(self, session: Session, done: PortalProvisioning) -> Credential:
        """A retried call for an account it created: the first temporary password is only
        hashed, so issue a fresh one, unless the person has already signed in (then the first
        one did reach them)."""
        account = session.get(PortalAccount, done.account_id)
        assert account is not None
        spaces = tuple(done.spaces)
        unused = (
            account.must_change_password
            and account.last_login_at is None
            and account.password_changed_at is None
        )
        if not unused:
            return Credential(done.email, None, done.expires_at, spaces, True)
        password = temporary_password()
        account.password_hash = self.hasher.hash(password)
        account.temp_password_expires_at = done.expires_at
        session.add(account)
        session.flush()
        return Credential(done.email, password, done.expires_at, spaces, True, reissued=True)

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
        """True for the right password, unless it is a temporary one that has expired or
        the account is disabled.

        Throttling is the web application's business (`portal_stub.auth`), not this check's.
        """
        with self._reading() as session:
            account = session.exec(
                select(PortalAccount).where(PortalAccount.email == email.strip().lower())
            ).first()
        if not verify_password(self.hasher, account.password_hash if account else None, password):
            return False
        assert account is not None
        if account.disabled_at is not None:
            return False
        expiry = account.temp_password_expires_at
        return not (account.must_change_password and expiry is not None and expiry <= self._now())

    def reissue_invitation(
        self, request_ref: str, email: str, expires_at: datetime, key: str
    ) -> Credential:
        with self._writing() as session:
            if self._done(session, key, "reissue_invitation", request_ref) is None:
                self._record(session, key, "reissue_invitation", request_ref, {"email": email})
            return invitations.reissue(session, self.hasher, email, expires_at)

    def revoke_invitation(self, request_ref: str, email: str, key: str) -> None:
        with self._writing() as session:
            if self._done(session, key, "revoke_invitation", request_ref) is None:
                self._record(session, key, "revoke_invitation", request_ref, {"email": email})
                invitations.revoke(session, self.hasher, email, self._now())

    # ------------------------------------------------------------------------- publications

    def publish(
        self, space: str, question: str, answer: str, case_ref: str, key: str
    ) -> tuple[str, int]:
        if space not in SPACES:
            raise UnknownSpace(space)
        with self._writing() as session:
            done = self._done(session, key, "publish", case_ref)
            if done is not None:  # a retry: the version this key made
                version = int(done.result["version"])
                return publication_url(self.base_url, done.result["space"], case_ref), version
            previous = current_publication(session, case_ref)
            version = 1
            if previous is not None:
                previous.is_current = False
                version = previous.version + 1
                session.add(previous)
                session.flush()  # one current row per case, before the new one is added
            session.add(
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
            session.flush()
            self._record(session, key, "publish", case_ref, {"space": space, "version": version})
            return publication_url(self.base_url, space, case_ref), version

    def withdraw(self, case_ref: str, key: str) -> None:
        with self._writing() as session:
            if self._done(session, key, "withdraw", case_ref) is not None:
                return  # already done: never withdraw a later version by a late retry
            publication = current_publication(session, case_ref)
            version = None
            if publication is not None and publication.withdrawn_at is None:
                publication.withdrawn_at = self._now()
                version = publication.version
                session.add(publication)
                session.flush()
            self._record(session, key, "withdraw", case_ref, {"version": version})

    def search(
        self, query: str, spaces: Sequence[str] | None = None, limit: int = 3
    ) -> list[SearchHit]:
        scope = [s for s in (spaces if spaces is not None else SPACES) if s in SPACES]
        hits = []
        with self._read_statements() as connection:
            for pub_id, score in search_publication_ids(connection, query, scope, limit):
                case_ref, space, question = connection.execute(
                    _publication_by_id(), {"id": pub_id}
                ).one()
                url = publication_url(self.base_url, space, case_ref)
                hits.append(SearchHit(case_ref, space, question, url, score))
        return hits

    # ------------------------------------------------------------------------ notifications

    def subscribers(self, space: str, frequency: Frequency) -> list[Subscriber]:
        """Activated accounts (own password chosen) that may read `space` and chose
        `frequency` for it (no choice made: `DEFAULT_FREQUENCY`), with the moment that choice
        took effect (the account's creation when none was made)."""
        with self._reading() as session:
            return [
                Subscriber(a.email, a.first_name, a.last_name, since)
                for a, since in subscribed_accounts(session, space, frequency)
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
