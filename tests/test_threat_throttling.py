"""Threat: guessing passwords, and locking people out. Over HTTP against the portal's app,
with a settable clock (no sleeping) and test clients at chosen client addresses.

- One machine trying many identifiers is stopped per client address (the old throttle counted
  only per identifier: 25 identifiers from one client, none slowed).
- A town hall behind one NAT, in normal use, never reaches the address limit.
- Guessing one identifier gets progressive delays (1 s, 2 s, 4 s… capped at one minute).
- The owner is never locked out: anyone could lock anyone for 15 minutes with five wrong
  passwords; now the owner waits a minute at most, and a reset link lifts the wait.
- The state is in the database: a restarted portal remembers it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from httpx import Response
from starlette.testclient import TestClient

from portal_stub.app import create_app
from portal_stub.testing import (
    SECRET_ENV,
    SECRET_VALUE,
    RecordingMailer,
    WebEnv,
    form_token,
    sign_in,
    web_env,
)
from workflows.login_throttle import ADDRESS_LIMIT, MAX_DELAY

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
EMAIL = "claire.martin@ville.fr"
PASSWORD = "une phrase de passe solide"
NEW = "un autre mot de passe long"
TOWN_HALL = "192.0.2.10"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WebEnv:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    return web_env(tmp_path, NOW)


def browser(env: WebEnv, address: str) -> TestClient:
    return TestClient(env.client.app, base_url=env.config.portal.base_url, client=(address, 50000))


def text(response: Response) -> str:
    return response.text.replace("\u00a0", " ")


def test_one_address_trying_many_identifiers_is_stopped(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    attacker = browser(env, "203.0.113.66")
    answers = [
        sign_in(attacker, f"agent{i}@ville.fr", "Azerty123!").status_code
        for i in range(ADDRESS_LIMIT)
    ]
    assert answers == [400] * (ADDRESS_LIMIT - 1) + [429]
    blocked = sign_in(attacker, EMAIL, PASSWORD)  # even the right password: not even checked
    assert blocked.status_code == 429
    assert "depuis votre réseau" in text(blocked) and "jusqu’à 10 h 15" in text(blocked)
    assert int(blocked.headers["retry-after"]) == 15 * 60
    # Another address is not concerned, the owner included.
    assert sign_in(browser(env, "198.51.100.7"), EMAIL, PASSWORD).status_code == 303
    env.clock.advance(minutes=15)
    assert sign_in(attacker, EMAIL, PASSWORD).status_code == 303


def test_a_town_hall_behind_one_nat_never_reaches_the_limit(env: WebEnv) -> None:
    """60 agents over a morning, one address: half mistype once, some twice, all get in."""
    for i in range(60):
        env.add_account(f"agent{i}@ville.fr", PASSWORD)
    for i in range(60):
        agent = browser(env, TOWN_HALL)
        for _ in range(i % 2 + (1 if i % 7 == 0 else 0)):
            assert sign_in(agent, f"agent{i}@ville.fr", "une phrase de passe").status_code == 400
        assert sign_in(agent, f"agent{i}@ville.fr", PASSWORD).status_code == 303
        env.clock.advance(minutes=2)


def test_guessing_one_identifier_gets_progressive_delays(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    waits = []
    for attempt in range(12):
        # From a new address each time: only the identifier's counter is at work here.
        response = sign_in(browser(env, f"203.0.113.{attempt}"), EMAIL, "faux mot de passe")
        waits.append(int(response.headers.get("retry-after", 0)))
        if response.status_code == 429:
            assert "Identifiant ou mot de passe incorrect." in text(response)
            assert "patientez" in text(response) and "Mot de passe oublié" in text(response)
            # Before the wait is over, even the right password is refused unchecked.
            early = sign_in(browser(env, "198.51.100.1"), EMAIL, PASSWORD)
            assert early.status_code == 429 and "patientez" in text(early)
            env.clock.advance(seconds=waits[-1])
    assert waits == [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60]


def test_unknown_identifiers_are_slowed_the_same_way(env: WebEnv) -> None:
    """The delays do not tell which identifiers have an account."""
    env.add_account(EMAIL, PASSWORD)
    seen = {}
    for name in (EMAIL, "personne@ville.fr"):
        answers = []
        for attempt in range(6):
            response = sign_in(browser(env, f"203.0.113.{attempt}"), name, "faux")
            answers.append((response.status_code, response.headers.get("retry-after")))
        seen[name] = answers
    assert seen[EMAIL] == seen["personne@ville.fr"]
    assert [code for code, _ in seen[EMAIL]] == [400, 400, 400, 400, 429, 429]


def hammer(env: WebEnv, minutes: int) -> int:
    """An attacker guessing EMAIL's password from many addresses, as fast as allowed, for
    `minutes`; returns the number of guesses actually checked."""
    checked, end, attempt = 0, env.clock() + timedelta(minutes=minutes), 0
    while env.clock() < end:
        attempt += 1
        response = sign_in(browser(env, f"203.0.{attempt // 250}.{attempt % 250}"), EMAIL, "x1")
        if response.status_code == 400 or "incorrect" in response.text:
            checked += 1
        env.clock.advance(seconds=int(response.headers.get("retry-after", 0)) or 1)
    return checked


def test_the_owner_is_never_locked_out(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    checked = hammer(env, minutes=60)
    assert checked <= 60 + 10  # about one guess a minute once the delays are at their cap
    owner = browser(env, TOWN_HALL)
    response = sign_in(owner, EMAIL, PASSWORD)
    if response.status_code == 429:  # the owner arrived during a wait: a minute at most
        wait = int(response.headers["retry-after"])
        assert 0 < wait <= MAX_DELAY.total_seconds()
        assert "patientez" in text(response)
        env.clock.advance(seconds=wait)
        response = sign_in(owner, EMAIL, PASSWORD)
    assert response.status_code == 303


def test_a_reset_link_lifts_the_wait_at_once(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    hammer(env, minutes=10)
    sign_in(browser(env, "203.0.113.250"), EMAIL, "x2")  # a wait has just started
    owner = browser(env, TOWN_HALL)
    assert sign_in(owner, EMAIL, PASSWORD).status_code == 429
    owner.post(
        "/mot-de-passe-oublie",
        data={"csrf_token": form_token(owner, "/mot-de-passe-oublie"), "identifiant": EMAIL},
    )
    assert isinstance(env.mailer, RecordingMailer)
    [mail] = env.mailer.mails
    link = mail.context["reset_url"].removeprefix(env.config.portal.base_url)
    data = {"csrf_token": form_token(owner, link), "nouveau": NEW, "confirmation": NEW}
    assert owner.post(link, data=data, follow_redirects=False).status_code == 303
    assert sign_in(owner, EMAIL, NEW).status_code == 303  # no wait left


def test_the_throttle_survives_a_restart_of_the_portal(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    for attempt in range(5):
        sign_in(browser(env, f"203.0.113.{attempt}"), EMAIL, "faux")
    restarted = create_app(
        env.config, env.engine, mailer=RecordingMailer(), now=env.clock, hasher=env.hasher
    )
    client = TestClient(restarted, base_url=env.config.portal.base_url)
    assert sign_in(client, EMAIL, PASSWORD).status_code == 429
