"""Threat: passwords a guesser finds first. Over HTTP against the portal's app, on both forms
that set a password (the change after the first login, and the reset link).

The old rule was a length of 12: `aaaaaaaaaaaa` passed. Passwords are now judged by strength
(zxcvbn score 3 at least, French words, the person's identifier and names and the portal's
name counted as known words), and the rule is explained in French on the page and in the error.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from httpx import Response

from portal_stub.testing import (
    SECRET_ENV,
    SECRET_VALUE,
    RecordingMailer,
    WebEnv,
    form_token,
    sign_in,
    web_env,
)
from workflows.core import PersonRequest

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
EMAIL = "claire.martin@ville.fr"
PASSWORD = "une phrase de passe solide"
PORTAL_NAME = "Espace collectivités — stationnement payant"  # config's instance.name

WEAK = [
    ("aaaaaaaaaaaa", "trop facile à deviner"),
    ("Azerty123!", "au moins 12 caractères"),
    ("azertyuiop123", "trop facile à deviner"),
    ("motdepasse2026", "trop facile à deviner"),
    ("MotDePasse2026!", "trop facile à deviner"),
    ("Stationnement2026!", "trop facile à deviner"),
    ("123456789012", "trop facile à deviner"),
    ("claire.martin2026", "trop facile à deviner"),
    (EMAIL, "ne peut pas être votre identifiant"),
    (PORTAL_NAME, "trop facile à deviner"),
    ("EspaceCollectivités2026", "trop facile à deviner"),
]
STRONG = [
    "une phrase de passe solide",
    "Nouveau-Départ-Vélo-92",
    "girafe tulipe horloge 1957",
]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WebEnv:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    return web_env(tmp_path, NOW)


def text(response: Response) -> str:
    return response.text.replace("\u00a0", " ")


def first_login(env: WebEnv) -> None:
    [cred] = env.portal().create_accounts(
        "ABO-2026-000001",
        [PersonRequest(EMAIL, "Claire", "Martin", "Ville", ("desta",))],
        NOW + timedelta(days=30),
        "invite",
    )
    assert cred.temporary_password
    assert sign_in(env.client, EMAIL, cred.temporary_password).status_code == 303


def choose(env: WebEnv, new: str) -> Response:
    data = {
        "csrf_token": form_token(env.client, "/compte/mot-de-passe"),
        "nouveau": new,
        "confirmation": new,
    }
    return env.client.post("/compte/mot-de-passe", data=data, follow_redirects=False)


def reset_link(env: WebEnv) -> str:
    env.client.post(
        "/mot-de-passe-oublie",
        data={"csrf_token": form_token(env.client, "/mot-de-passe-oublie"), "identifiant": EMAIL},
    )
    assert isinstance(env.mailer, RecordingMailer)
    url: str = env.mailer.mails[-1].context["reset_url"]
    return url.removeprefix(env.config.portal.base_url)


@pytest.mark.parametrize(("weak", "reason"), WEAK)
def test_weak_passwords_are_refused_with_the_reason_in_french(
    env: WebEnv, weak: str, reason: str
) -> None:
    first_login(env)
    response = choose(env, weak)
    assert response.status_code == 400
    assert reason in text(response)
    assert "phrase de quatre ou cinq mots" in text(response)  # what to do instead
    assert not env.portal().check_login(EMAIL, weak)


@pytest.mark.parametrize("strong", STRONG)
def test_strong_passwords_are_accepted(env: WebEnv, strong: str) -> None:
    first_login(env)
    assert choose(env, strong).headers["location"] == "/espaces/accueil"
    assert env.portal().check_login(EMAIL, strong)


def test_the_reset_form_applies_the_same_rule(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    link = reset_link(env)
    for weak in ("aaaaaaaaaaaa", "motdepasse2026"):
        data = {"csrf_token": form_token(env.client, link), "nouveau": weak, "confirmation": weak}
        response = env.client.post(link, data=data)
        assert response.status_code == 400 and "trop facile à deviner" in text(response)
    strong = "girafe tulipe horloge 1957"
    data = {"csrf_token": form_token(env.client, link), "nouveau": strong, "confirmation": strong}
    assert env.client.post(link, data=data, follow_redirects=False).status_code == 303
    assert env.portal().check_login(EMAIL, strong)


def test_both_forms_explain_the_rule_before_anyone_types(env: WebEnv) -> None:
    first_login(env)
    rule = "Au moins 12 caractères, difficile à deviner : ni votre identifiant ni votre nom"
    assert rule in text(env.client.get("/compte/mot-de-passe"))
    env.client.cookies.clear()
    assert rule in text(env.client.get(reset_link(env)))
    assert "« azerty »" in text(env.client.get(reset_link(env)))
