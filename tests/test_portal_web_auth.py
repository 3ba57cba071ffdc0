"""The portal's accounts over HTTP: login, forced password change, expiry,
« mot de passe oublié » through the `PortalMailer` (mailbot's outbox), CSRF, sessions."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
from httpx import Response
from sqlalchemy import Engine
from sqlmodel import Session, select

from mailbot.config import Config
from mailbot.loop.outbox import OutboxPortalMailer
from portal_stub.models import PortalAccount, PortalResetToken
from portal_stub.testing import (
    SECRET_ENV,
    SECRET_VALUE,
    Clock,
    QueuedMail,
    RecordingMailer,
    WebEnv,
    form_token,
    sign_in,
    web_env,
)
from storage.models import OutboxMail
from workflows.core import PersonRequest

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
EMAIL = "claire.martin@ville.fr"
PASSWORD = "une phrase de passe solide"
NEW = "un autre mot de passe long"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WebEnv:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    return web_env(tmp_path, NOW, mailer=outbox_mailer)


def outbox_mailer(config: Config, engine: Engine, clock: Clock) -> OutboxPortalMailer:
    return OutboxPortalMailer(config, engine, now=clock)


def invite(env: WebEnv, email_address: str = EMAIL) -> str:
    [cred] = env.portal().create_accounts(
        "ABO-2026-000001",
        [PersonRequest(email_address, "Claire", "Martin", "Ville", ("desta",))],
        NOW + timedelta(days=30),
        f"invite:{email_address}",
    )
    assert cred.temporary_password
    return cred.temporary_password


def change(
    env: WebEnv, new: str, confirm: str | None = None, current: str | None = None
) -> Response:
    data = {
        "csrf_token": form_token(env.client, "/compte/mot-de-passe"),
        "nouveau": new,
        "confirmation": new if confirm is None else confirm,
    }
    if current is not None:
        data["actuel"] = current
    return env.client.post("/compte/mot-de-passe", data=data, follow_redirects=False)


# -------------------------------------------------------------------------------- login


def test_login_with_the_right_password_opens_the_accueil_space(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    response = sign_in(env.client, "Claire.Martin@Ville.fr", PASSWORD)
    assert (response.status_code, response.headers["location"]) == (303, "/espaces/accueil")
    assert env.client.get("/espaces/accueil").status_code == 200
    with Session(env.engine) as session:
        assert session.exec(select(PortalAccount)).one().last_login_at == NOW


@pytest.mark.parametrize("identifier", [EMAIL, "personne@ville.fr"])
def test_wrong_password_and_unknown_identifier_get_the_same_answer(
    env: WebEnv, identifier: str
) -> None:
    env.add_account(EMAIL, PASSWORD)
    response = sign_in(env.client, identifier, "pas le bon mot de passe")
    assert response.status_code == 400
    assert "Identifiant ou mot de passe incorrect." in response.text


def test_login_returns_to_the_page_asked_for_but_never_to_another_site(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    page = env.client.get("/espaces/accueil/questions/Q-2026-000001", follow_redirects=False)
    assert (
        page.headers["location"]
        == "/connexion?suite=%2Fespaces%2Faccueil%2Fquestions%2FQ-2026-000001"
    )
    back = sign_in(env.client, EMAIL, PASSWORD, suite="/espaces/accueil/questions/Q-2026-000001")
    assert back.headers["location"] == "/espaces/accueil/questions/Q-2026-000001"
    env.client.cookies.clear()
    away = sign_in(env.client, EMAIL, PASSWORD, suite="//evil.example/")
    assert away.headers["location"] == "/espaces/accueil"


def test_first_login_forces_a_new_password_before_any_page(env: WebEnv) -> None:
    temporary = invite(env)
    response = sign_in(env.client, EMAIL, temporary)
    assert response.headers["location"] == "/compte/mot-de-passe"
    for path in ("/espaces/accueil", "/espaces/desta", "/recherche?q=x", "/compte/notifications"):
        assert (
            env.client.get(path, follow_redirects=False).headers["location"]
            == "/compte/mot-de-passe"
        )
    assert "Choisissez votre mot de passe" in env.client.get("/compte/mot-de-passe").text
    done = change(env, NEW)
    assert (done.status_code, done.headers["location"]) == (303, "/espaces/accueil")
    assert env.client.get("/espaces/desta").status_code == 200
    with Session(env.engine) as session:
        account = session.exec(select(PortalAccount)).one()
        assert not account.must_change_password and account.temp_password_expires_at is None
        assert env.portal().check_login(EMAIL, NEW)
        assert not env.portal().check_login(EMAIL, temporary)


@pytest.mark.parametrize(
    ("new", "confirm", "message"),
    [
        ("court", None, "au moins 12 caractères"),
        (EMAIL, None, "ne peut pas être votre identifiant"),
        ("TEMPORARY", None, "différent de votre mot de passe actuel ou provisoire"),
        (NEW, NEW + "x", "ne sont pas identiques"),
    ],
)
def test_new_password_rules(env: WebEnv, new: str, confirm: str | None, message: str) -> None:
    temporary = invite(env)
    sign_in(env.client, EMAIL, temporary)
    response = change(env, temporary if new == "TEMPORARY" else new, confirm)
    assert response.status_code == 400
    assert message in response.text.replace("\u00a0", " ")


def test_voluntary_change_needs_the_current_password_and_ends_other_sessions(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    other = env.new_client()
    sign_in(other, EMAIL, PASSWORD)
    sign_in(env.client, EMAIL, PASSWORD)
    assert change(env, NEW, current="faux").status_code == 400
    assert change(env, NEW, current=PASSWORD).status_code == 303
    assert env.client.get("/espaces/accueil").status_code == 200
    assert other.get("/espaces/accueil", follow_redirects=False).status_code == 303


def test_expired_temporary_password_is_refused_with_a_clear_message(env: WebEnv) -> None:
    temporary = invite(env)
    env.clock.advance(days=30)
    response = sign_in(env.client, EMAIL, temporary)
    assert response.status_code == 400
    assert "Votre mot de passe provisoire a expiré le 30 décembre 2026" in response.text
    assert "Mot de passe oublié" in response.text
    assert env.client.get("/espaces/accueil", follow_redirects=False).status_code == 303


# Throttling (per identifier, per address, progressive delays): tests/test_threat_throttling.py.


def test_logout_ends_the_session(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    sign_in(env.client, EMAIL, PASSWORD)
    token = form_token(env.client, "/espaces/accueil")
    response = env.client.post("/deconnexion", data={"csrf_token": token}, follow_redirects=False)
    assert response.headers["location"] == "/connexion"
    assert env.client.get("/espaces/accueil", follow_redirects=False).status_code == 303


# ----------------------------------------------------------------------- forgotten password


def ask_reset(env: WebEnv, identifier: str) -> str:
    token = form_token(env.client, "/mot-de-passe-oublie")
    response = env.client.post(
        "/mot-de-passe-oublie", data={"csrf_token": token, "identifiant": identifier}
    )
    assert response.status_code == 200
    return response.text


def reset_mails(env: WebEnv) -> list[OutboxMail]:
    with Session(env.engine) as session:
        return list(
            session.exec(
                select(OutboxMail).where(OutboxMail.template == "portal_password_reset")
            ).all()
        )


def reset_link(mail: OutboxMail) -> str:
    message = email.message_from_bytes(mail.raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(
        r"http://portail\.test(/mot-de-passe/reinitialiser/[\w-]+)", body.get_content()
    )
    assert found
    return found.group(1)


def test_reset_answer_never_tells_whether_the_address_has_an_account(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    known, unknown = ask_reset(env, EMAIL), ask_reset(env, "personne@ville.fr")
    pattern = re.compile(r'name="csrf_token" value="[^"]+"')
    assert pattern.sub("", known) == pattern.sub("", unknown)
    assert "Si un compte correspond à cette adresse" in known
    assert [m.recipients for m in reset_mails(env)] == [[EMAIL]]


def test_reset_link_goes_through_the_outbox_and_works_once(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    ask_reset(env, EMAIL)
    [mail] = reset_mails(env)
    assert mail.sensitive and mail.state == "pending"
    link = reset_link(mail)
    with Session(env.engine) as session:
        stored = session.exec(select(PortalResetToken)).one()
        assert stored.token_hash not in link and link.rsplit("/", 1)[1] not in stored.token_hash
    assert env.client.get(link).status_code == 200
    data = {"csrf_token": form_token(env.client, link), "nouveau": NEW, "confirmation": NEW}
    done = env.client.post(link, data=data, follow_redirects=False)
    assert done.headers["location"] == "/connexion"
    assert sign_in(env.client, EMAIL, NEW).status_code == 303
    again = env.client.get(link)
    assert again.status_code == 400 and "Ce lien n’est plus valable" in again.text
    data["csrf_token"] = form_token(env.client, "/connexion")
    assert env.client.post(link, data=data).status_code == 400


def test_reset_mail_goes_through_the_portal_mailer_once_the_token_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    env = web_env(tmp_path, NOW)  # a RecordingMailer: the portal knows only the interface
    env.add_account(EMAIL, PASSWORD)
    ask_reset(env, EMAIL)
    ask_reset(env, "personne@ville.fr")
    assert isinstance(env.mailer, RecordingMailer)
    [mail] = env.mailer.mails
    assert isinstance(mail, QueuedMail)
    assert (mail.template, mail.to, mail.sensitive) == ("portal_password_reset", (EMAIL,), True)
    assert mail.context["valid_minutes"] == 60
    link = mail.context["reset_url"].removeprefix("http://portail.test")
    with Session(env.engine) as session:
        stored = session.exec(select(PortalResetToken)).one()
    assert mail.key == f"portal-reset:{stored.token_hash[:32]}"
    assert env.client.get(link).status_code == 200  # the token was committed before the mail
    with Session(env.engine) as session:
        assert session.exec(select(OutboxMail)).all() == []  # nothing but the interface


def test_reset_link_expires_after_an_hour(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    ask_reset(env, EMAIL)
    link = reset_link(reset_mails(env)[0])
    env.clock.advance(minutes=59)
    assert env.client.get(link).status_code == 200
    env.clock.advance(minutes=1)
    assert env.client.get(link).status_code == 400


def test_reset_opens_an_account_whose_temporary_password_expired(env: WebEnv) -> None:
    invite(env)
    env.clock.advance(days=40)
    ask_reset(env, EMAIL)
    link = reset_link(reset_mails(env)[0])
    data = {"csrf_token": form_token(env.client, link), "nouveau": NEW, "confirmation": NEW}
    env.client.post(link, data=data)
    assert sign_in(env.client, EMAIL, NEW).headers["location"] == "/espaces/accueil"


def test_reset_requests_are_capped_per_hour(env: WebEnv) -> None:
    env.add_account(EMAIL, PASSWORD)
    for _ in range(5):
        ask_reset(env, EMAIL)
    assert len(reset_mails(env)) == 3


# ----------------------------------------------------------------------------- CSRF


POST_ROUTES = [
    "/connexion",
    "/deconnexion",
    "/compte/mot-de-passe",
    "/compte/notifications",
    "/mot-de-passe-oublie",
    "/mot-de-passe/reinitialiser/abc",
]


@pytest.mark.parametrize("path", POST_ROUTES)
@pytest.mark.parametrize("token", [None, "a-forged-token"])
def test_every_form_without_the_session_token_is_refused(
    env: WebEnv, path: str, token: str | None
) -> None:
    env.add_account(EMAIL, PASSWORD, admin=True)
    sign_in(env.client, EMAIL, PASSWORD)
    data = {"identifiant": EMAIL, "mot_de_passe": PASSWORD}
    if token:
        data["csrf_token"] = token
    response = env.client.post(path, data=data)
    assert response.status_code == 403
    assert "Le formulaire n’a pas pu être vérifié" in response.text
    assert '<html lang="fr"' in response.text


def test_every_post_route_is_in_the_csrf_table(env: WebEnv) -> None:
    app_routes = {
        getattr(r, "path", "")
        for r in env.client.app.routes  # type: ignore[attr-defined]
        if "POST" in (getattr(r, "methods", None) or ())
    }
    expected = {
        re.sub(r"/abc$", "/{token}", re.sub(r"/1/", "/{message_id:int}/", p)) for p in POST_ROUTES
    }
    assert app_routes == expected


# --------------------------------------------------------------------------- cookies


def test_session_cookie_is_httponly_and_lax(env: WebEnv) -> None:
    response = env.client.get("/connexion")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie


def test_session_cookie_is_secure_behind_https(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    secure = web_env(tmp_path, NOW, base_url="https://portail.test")
    assert "secure" in secure.client.get("/connexion").headers["set-cookie"].lower()
