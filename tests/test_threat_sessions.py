"""Threat: a session that outlives its end. Over HTTP against the portal's Starlette app.

- A cookie copied before logout (a shared computer, a stolen cookie) must open nothing after.
- A password change or reset must sign out every other browser of the account.
- The database keeps only a hash of the session token, and a session ends server-side after
  its lifetime whatever the cookie says.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from portal_stub.app import SESSION_COOKIE
from portal_stub.models import PortalSession
from portal_stub.security import token_hash
from portal_stub.testing import (
    SECRET_ENV,
    SECRET_VALUE,
    RecordingMailer,
    WebEnv,
    form_token,
    sign_in,
    web_env,
)

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
EMAIL = "claire.martin@ville.fr"
PASSWORD = "une phrase de passe solide"
NEW = "un autre mot de passe long"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WebEnv:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    return web_env(tmp_path, NOW)


def signed_in(client: TestClient) -> bool:
    response = client.get("/espaces/accueil", follow_redirects=False)
    assert response.status_code in (200, 303)
    return response.status_code == 200


def copy_of(env: WebEnv, client: TestClient) -> TestClient:
    """Another browser holding a copy of `client`'s session cookie."""
    value = client.cookies.get(SESSION_COOKIE)
    assert value
    thief = env.new_client()
    thief.cookies.set(SESSION_COOKIE, value)
    return thief


def logout(client: TestClient) -> None:
    token = form_token(client, "/espaces/accueil")
    response = client.post("/deconnexion", data={"csrf_token": token}, follow_redirects=False)
    assert response.headers["location"] == "/connexion"


def cookie_payload(client: TestClient) -> dict[str, object]:
    value = client.cookies.get(SESSION_COOKIE)
    assert value
    data = value.split(".")[0]
    payload: dict[str, object] = json.loads(base64.b64decode(data + "=" * (-len(data) % 4)))
    return payload


def test_a_cookie_copied_before_logout_opens_nothing_after(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    sign_in(env.client, EMAIL, PASSWORD)
    thief = copy_of(env, env.client)
    assert signed_in(thief)  # the copy works while the session lives
    logout(env.client)
    assert not signed_in(env.client)
    assert not signed_in(thief)
    with Session(env.engine) as session:
        assert session.exec(select(PortalSession)).all() == []


def test_logout_ends_only_the_browser_that_logs_out(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    office, home = env.client, env.new_client()
    sign_in(office, EMAIL, PASSWORD)
    sign_in(home, EMAIL, PASSWORD)
    logout(office)
    assert not signed_in(office) and signed_in(home)


def test_a_password_change_signs_out_every_other_browser(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    other = env.new_client()
    sign_in(other, EMAIL, PASSWORD)
    sign_in(env.client, EMAIL, PASSWORD)
    thief = copy_of(env, env.client)  # a copy of the very browser that changes it
    data = {
        "csrf_token": form_token(env.client, "/compte/mot-de-passe"),
        "actuel": PASSWORD,
        "nouveau": NEW,
        "confirmation": NEW,
    }
    assert env.client.post("/compte/mot-de-passe", data=data).status_code == 200
    assert signed_in(env.client)  # the browser that changed it goes on, with a new session
    assert not signed_in(other)
    assert not signed_in(thief)


def test_a_password_reset_signs_out_every_browser(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    sign_in(env.client, EMAIL, PASSWORD)
    attacker = env.new_client()
    sign_in(attacker, EMAIL, PASSWORD)  # someone who knew the old password
    helper = env.new_client()
    helper.post(
        "/mot-de-passe-oublie",
        data={"csrf_token": form_token(helper, "/mot-de-passe-oublie"), "identifiant": EMAIL},
    )
    assert isinstance(env.mailer, RecordingMailer)
    [mail] = env.mailer.mails
    link = mail.context["reset_url"].removeprefix(env.config.portal.base_url)
    data = {"csrf_token": form_token(helper, link), "nouveau": NEW, "confirmation": NEW}
    assert helper.post(link, data=data, follow_redirects=False).status_code == 303
    assert not signed_in(attacker)
    assert not signed_in(env.client)
    assert sign_in(env.client, EMAIL, NEW).status_code == 303


def test_the_database_holds_only_a_hash_of_the_session_token(env: WebEnv) -> None:
    account_id = env.add_account(EMAIL, PASSWORD)
    sign_in(env.client, EMAIL, PASSWORD)
    token = cookie_payload(env.client)["sid"]
    assert isinstance(token, str) and len(token) >= 40
    with Session(env.engine) as session:
        [row] = session.exec(select(PortalSession)).all()
    assert (row.token_hash, row.account_id) == (token_hash(token), account_id)
    assert token not in row.token_hash


def test_a_session_ends_after_its_lifetime_even_with_a_fresh_cookie(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    sign_in(env.client, EMAIL, PASSWORD)
    env.clock.advance(hours=7, minutes=59)
    assert signed_in(env.client)
    env.clock.advance(minutes=1)
    assert not signed_in(env.client)  # the cookie itself is still within its max-age
