"""A disabled account on the portal stand-in's web pages: the login tells only whoever typed the
right password, its sessions end at once, no reset link is sent; enabled again, it signs in
with its own password."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

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
ADMIN = "admin.stationnement@demo.test"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WebEnv:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    return web_env(tmp_path, NOW)


def test_disabled_account_cannot_sign_in_loses_its_session_and_gets_no_reset(
    env: WebEnv,
) -> None:
    env.add_account(EMAIL, PASSWORD)
    assert sign_in(env.client, EMAIL, PASSWORD).status_code == 303
    assert env.client.get("/espaces/accueil", follow_redirects=False).status_code == 200
    env.portal().set_account_disabled(EMAIL, True, "desk:disable-1", ADMIN)
    assert env.client.get("/espaces/accueil", follow_redirects=False).status_code == 303

    stranger = env.new_client()
    wrong = sign_in(stranger, EMAIL, "pas le bon mot de passe")
    assert wrong.status_code == 400 and "désactivé" not in wrong.text
    right = sign_in(stranger, EMAIL, PASSWORD)
    assert right.status_code == 403
    assert "Ce compte a été désactivé par l’administration du portail." in right.text

    token = form_token(stranger, "/mot-de-passe-oublie")
    stranger.post("/mot-de-passe-oublie", data={"csrf_token": token, "identifiant": EMAIL})
    assert isinstance(env.mailer, RecordingMailer) and env.mailer.mails == []

    env.portal().set_account_disabled(EMAIL, False, "desk:enable-1", ADMIN)
    assert sign_in(env.new_client(), EMAIL, PASSWORD).status_code == 303
