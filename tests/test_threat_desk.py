"""Threats on the admin's desk sign-in, the same as on the portal's (see
tests/test_threat_sessions.py and tests/test_threat_throttling.py): a cookie copied before
logout, guessing one admin's password, one machine trying many identifiers, an admin locked out
by someone else. Over HTTP against the desk's Starlette app (fixture from tests/test_desk.py).
"""

from __future__ import annotations

from starlette.testclient import TestClient
from test_desk import ADMIN, BASE, PASSWORD, DeskEnv, env, sign_in, token

from mailbot.desk.app import SESSION_COOKIE
from workflows.login_throttle import ADDRESS_LIMIT, MAX_DELAY

__all__ = ["env"]  # the fixture, imported for pytest


def browser(env: DeskEnv, address: str) -> TestClient:
    return TestClient(env.client.app, base_url=BASE, client=(address, 50000))


def on_desk(client: TestClient) -> bool:
    return client.get("/admin", follow_redirects=False).status_code == 200


def test_a_desk_cookie_copied_before_logout_opens_nothing_after(env: DeskEnv) -> None:
    assert sign_in(env.client, ADMIN).status_code == 303
    value = env.client.cookies.get(SESSION_COOKIE)
    assert value
    thief = TestClient(env.client.app, base_url=BASE)
    thief.cookies.set(SESSION_COOKIE, value, path="/admin")
    assert on_desk(thief)
    csrf = token(env.client, "/admin")
    env.client.post("/admin/deconnexion", data={"csrf_token": csrf})
    assert not on_desk(env.client)
    assert not on_desk(thief)


def test_a_desk_session_ends_after_a_working_day(env: DeskEnv) -> None:
    sign_in(env.client, ADMIN)
    env.clock.advance(hours=7, minutes=59)
    assert on_desk(env.client)
    env.clock.advance(minutes=1)
    assert not on_desk(env.client)


def test_guessing_an_admin_password_gets_progressive_delays_not_a_lock(env: DeskEnv) -> None:
    waits = []
    for attempt in range(12):
        response = sign_in(browser(env, f"203.0.113.{attempt}"), ADMIN, "faux")
        waits.append(int(response.headers.get("retry-after", 0)))
        if response.status_code == 429:
            assert "patientez" in response.text.replace("\u00a0", " ")
            assert sign_in(browser(env, "198.51.100.1"), ADMIN).status_code == 429  # unchecked
            env.clock.advance(seconds=waits[-1])
    assert waits == [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60]
    # The admin, whenever they come, waits one minute at most.
    sign_in(browser(env, "203.0.113.99"), ADMIN, "faux")
    owner = browser(env, "198.51.100.1")
    response = sign_in(owner, ADMIN)
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) <= MAX_DELAY.total_seconds()
    env.clock.advance(seconds=int(response.headers["retry-after"]))
    assert sign_in(owner, ADMIN).status_code == 303


def test_one_address_trying_many_identifiers_is_stopped_on_the_desk(env: DeskEnv) -> None:
    attacker = browser(env, "203.0.113.66")
    codes = [sign_in(attacker, f"agent{i}@demo.test", "x").status_code for i in range(30)]
    assert codes == [400] * (ADDRESS_LIMIT - 1) + [429]
    blocked = sign_in(attacker, ADMIN)
    assert blocked.status_code == 429 and "depuis votre réseau" in blocked.text
    assert sign_in(browser(env, "198.51.100.7"), ADMIN, PASSWORD).status_code == 303
