"""`AccountAdmin`: the admin's calls on accounts (`mailbot.portal.Portal`): list and search
with the last login, disable and enable, change spaces, reset (the invitation mail again, with
a new temporary password, through the portal's mailer as a password reset).

Every mutating call runs in one transaction with its idempotency key (`PortalCallKey`, its
`ref` the account's id): the same key again does nothing more and answers what the account is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from mailbot.portal import AccountInfo, UnknownAccount
from portal_stub.models import PortalAccount
from portal_stub.security import temporary_password
from portal_stub.sessions import close_all_sessions
from portal_stub.spaces import space_label
from portal_stub.store import PortalStore, granted_spaces, readable_spaces
from workflows.core import SPACES
from workflows.text.fold import fold

INVITATION_TEMPLATE = "invitation"


def account_info(account: PortalAccount) -> AccountInfo:
    return AccountInfo(
        email=account.email,
        first_name=account.first_name,
        last_name=account.last_name,
        organisation=account.organisation,
        spaces=tuple(readable_spaces(account)),
        is_admin=account.is_admin,
        created_at=account.created_at,
        last_login_at=account.last_login_at,
        disabled_at=account.disabled_at,
        invitation_pending=account.must_change_password,
        temp_password_expires_at=account.temp_password_expires_at,
        created_for_request=account.created_for_request,
    )


def _matches(account: PortalAccount, needle: str) -> bool:
    hay = " ".join(
        [account.email, account.first_name, account.last_name, account.organisation or ""]
    )
    return needle in fold(hay)


def spaces_text(spaces: Sequence[str]) -> str:
    """« Accueil, DESTA et ANTAI »."""
    labels = [space_label(s) for s in spaces]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " et " + labels[-1]


class AccountAdmin(PortalStore):
    def list_accounts(self, query: str = "", limit: int = 200) -> list[AccountInfo]:
        needle = fold(query.strip())
        with self._reading() as session:
            rows = session.exec(select(PortalAccount).order_by(col(PortalAccount.email))).all()
            found = [account_info(a) for a in rows if not needle or _matches(a, needle)]
        return found[:limit]

    def account(self, email: str) -> AccountInfo | None:
        with self._reading() as session:
            found = _by_email(session, email)
            return account_info(found) if found is not None else None

    def set_account_disabled(self, email: str, disabled: bool, key: str, by: str) -> AccountInfo:
        kind = "disable_account" if disabled else "enable_account"
        with self._writing() as session:
            account = _existing(session, email)
            ref = f"account:{account.id}"
            if self._done(session, key, kind, ref) is None:
                if disabled and account.disabled_at is None:
                    account.disabled_at = self._now()
                    assert account.id is not None
                    close_all_sessions(session, account.id)
                elif not disabled:
                    account.disabled_at = None
                session.add(account)
                self._record(session, key, kind, ref, {"by": by})
            return account_info(account)

    def set_account_spaces(
        self, email: str, spaces: Sequence[str], key: str, by: str
    ) -> AccountInfo:
        unknown = [s for s in spaces if s not in SPACES]
        if unknown:
            raise ValueError(f"unknown space {unknown[0]!r}")
        with self._writing() as session:
            account = _existing(session, email)
            ref = f"account:{account.id}"
            if self._done(session, key, "account_spaces", ref) is None:
                account.spaces = granted_spaces(spaces)
                session.add(account)
                result = {"by": by, "spaces": account.spaces}
                self._record(session, key, "account_spaces", ref, result)
            return account_info(account)

    def reset_account(self, email: str, expires_at: datetime, key: str, by: str) -> AccountInfo:
        if self.mailer is None:
            raise RuntimeError("the portal has no mailer: it cannot send the invitation again")
        with self._writing() as session:
            account = _existing(session, email)
            ref = f"account:{account.id}"
            if self._done(session, key, "reset_account", ref) is not None:
                return account_info(account)
            password = temporary_password()
            account.password_hash = self.hasher.hash(password)
            account.must_change_password = True
            account.temp_password_expires_at = expires_at
            assert account.id is not None
            close_all_sessions(session, account.id)
            session.add(account)
            self._record(session, key, "reset_account", ref, {"by": by})
            context = self._invitation_context(account, password, expires_at)
            info = account_info(account)
        # Queued once the new password is committed (the mail must not announce a password
        # that a rolled-back transaction never set); the mailer queues once per key.
        self.mailer.queue(INVITATION_TEMPLATE, [info.email], context, key, sensitive=True)
        return info

    def _invitation_context(
        self, account: PortalAccount, password: str, expires_at: datetime
    ) -> dict[str, str]:
        return {
            "first_name": account.first_name,
            "last_name": account.last_name,
            "organisation": account.organisation or "",
            "email": account.email,
            "spaces_label": spaces_text(readable_spaces(account)),
            "password": password,
            "expires_at": expires_at.isoformat(),
            "login_url": f"{self.base_url}/connexion",
            "password_guide_url": f"{self.base_url}/documents/fiches/mot-de-passe",
            "mini_guide_url": f"{self.base_url}/documents/fiches/mini-guide",
        }


def _by_email(session: Session, email: str) -> PortalAccount | None:
    wanted = email.strip().lower()
    return session.exec(select(PortalAccount).where(PortalAccount.email == wanted)).first()


def _existing(session: Session, email: str) -> PortalAccount:
    account = _by_email(session, email)
    if account is None:
        raise UnknownAccount(email)
    return account
