"""The portal's pages over HTTP: spaces and access control, Q&A pages, search, documents,
guides, notification preferences, escaping of what people wrote, headers."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from mailbot.config import ConfigError
from portal_stub import app as portal_app
from portal_stub.models import PortalDocument, PortalNotificationPreference
from portal_stub.testing import SECRET_ENV, SECRET_VALUE, WebEnv, form_token, sign_in, web_env

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
USER, ADMIN = "claire.martin@ville.fr", "admin@interieur.gouv.fr"
PASSWORD = "une phrase de passe solide"
HOSTILE = "Et <script>alert('x')</script> &amp; « <b>gras</b> » ?"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WebEnv:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    env = web_env(tmp_path, NOW)
    env.add_account(USER, PASSWORD, ("accueil", "desta"))
    env.add_account(ADMIN, PASSWORD, admin=True)
    with Session(env.engine) as session:
        portal = env.portal()
        portal.publish(
            "accueil", "Quelle réglementation s’applique ?", "La loi MAPTAM.", "Q-2026-000001", "p1"
        )
        env.clock.advance(hours=1)
        portal.publish(
            "desta",
            "Format des interfaces CCSP ?",
            "XML.\n\nVoir le schéma.",
            "Q-2026-000002",
            "p2",
        )
        env.clock.advance(hours=1)
        portal.publish(
            "antai",
            "Délai d’envoi des avis FPS ?",
            "Selon la réglementation.",
            "Q-2026-000003",
            "p3",
        )
        portal.publish("desta", HOSTILE, "Réponse <i>texte</i> &lt;", "Q-2026-000004", "p4")
        session.add(
            PortalDocument(
                space="desta",
                title="Feuille de route",
                filename="feuille route é.pdf",
                content_type="application/pdf",
                size=4,
                data=b"%PDF",
            )
        )
        session.commit()
    return env


def as_user(env: WebEnv, email: str = USER) -> WebEnv:
    assert sign_in(env.client, email, PASSWORD).status_code == 303
    return env


# ------------------------------------------------------------------------ access control


@pytest.mark.parametrize(
    "path",
    [
        "/espaces/accueil",
        "/espaces/desta",
        "/espaces/desta/questions/Q-2026-000002",
        "/recherche?q=x",
        "/compte/notifications",
        "/compte/mot-de-passe",
        "/espaces/desta/documents/1",
    ],
)
def test_pages_need_a_signed_in_person(env: WebEnv, path: str) -> None:
    response = env.client.get(path, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith(
        "/connexion?suite="
    )


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/espaces/accueil", 200),
        ("/espaces/desta", 200),
        ("/espaces/antai", 403),
        ("/espaces/antai/questions/Q-2026-000003", 403),
        ("/espaces/cerema", 404),
        ("/admin", 404),  # the admin's desk is mailbot's app (tests/test_desk.py)
        ("/espaces/desta/questions/Q-2026-999999", 404),
    ],
)
def test_a_requester_sees_accueil_and_granted_spaces_only(
    env: WebEnv, path: str, status: int
) -> None:
    response = as_user(env).client.get(path)
    assert response.status_code == status
    if status == 403:
        assert "Accès refusé" in response.text and '<html lang="fr"' in response.text


def test_admins_see_every_space_and_the_menu_shows_what_one_may_read(env: WebEnv) -> None:
    as_user(env)
    menu = env.client.get("/espaces/accueil").text
    assert (
        'href="/espaces/desta"' in menu
        and 'href="/espaces/antai"' not in menu
        and 'href="/admin"' not in menu
    )
    env.client.cookies.clear()
    as_user(env, ADMIN)
    for space in ("accueil", "desta", "antai"):
        assert env.client.get(f"/espaces/{space}").status_code == 200
    assert 'href="/admin"' in env.client.get("/espaces/accueil").text


def test_root_sends_people_where_they_belong(env: WebEnv) -> None:
    assert env.client.get("/", follow_redirects=False).headers["location"] == "/connexion"
    as_user(env)
    assert env.client.get("/", follow_redirects=False).headers["location"] == "/espaces/accueil"


# -------------------------------------------------------------------------------- spaces


def test_space_lists_its_documents_and_qa_newest_first(env: WebEnv) -> None:
    page = as_user(env).client.get("/espaces/desta").text
    assert "Feuille de route" in page and 'href="/espaces/desta/documents/1"' in page
    assert page.index("Q-2026-000004") < page.index("Q-2026-000002")
    assert "Q-2026-000001" not in page and "Q-2026-000003" not in page


def test_qa_page_has_a_permanent_link_print_stylesheet_and_history(env: WebEnv) -> None:
    env.portal().publish("desta", "Format des interfaces CCSP ?", "XML 2.", "Q-2026-000002", "p5")
    page = as_user(env).client.get("/espaces/desta/questions/Q-2026-000002").text
    assert "http://portail.test/espaces/desta/questions/Q-2026-000002" in page
    assert '<link rel="stylesheet" href="/static/portal/print.css" media="print">' in page
    assert "Version 1 publiée le" in page and "Version 2 publiée le" in page and "XML 2." in page
    assert env.client.get("/static/portal/print.css").status_code == 200


def test_withdrawn_qa_is_gone_and_a_moved_one_redirects(env: WebEnv) -> None:
    portal = env.portal()
    portal.withdraw("Q-2026-000002", "w1")
    portal.publish("accueil", HOSTILE, "Déplacée.", "Q-2026-000004", "p5")
    as_user(env)
    gone = env.client.get("/espaces/desta/questions/Q-2026-000002")
    assert gone.status_code == 410 and "retirée" in gone.text
    moved = env.client.get("/espaces/desta/questions/Q-2026-000004", follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (
        301,
        "/espaces/accueil/questions/Q-2026-000004",
    )


def test_document_download_is_an_attachment_for_readers_only(env: WebEnv) -> None:
    response = as_user(env).client.get("/espaces/desta/documents/1")
    assert response.status_code == 200 and response.content == b"%PDF"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert (
        "filename*=UTF-8''feuille%20route%20%C3%A9.pdf" in response.headers["content-disposition"]
    )
    assert env.client.get("/espaces/accueil/documents/1").status_code == 404


# -------------------------------------------------------------------------------- search


def test_search_folds_accents_and_stays_in_the_readable_spaces(env: WebEnv) -> None:
    page = as_user(env).client.get("/recherche", params={"q": "REGLEMENTATION"}).text
    assert "Q-2026-000001" in page and "Q-2026-000003" not in page  # antai is not granted
    assert "1 question-réponse trouvée" in page


def test_space_search_box_searches_that_space(env: WebEnv) -> None:
    page = as_user(env).client.get("/espaces/desta", params={"q": "interfaces"}).text
    assert "Résultats pour «\u00a0interfaces\u00a0»" in page
    assert page.count('href="/espaces/desta/questions/Q-2026-000002"') == 2  # results and list
    empty = env.client.get("/espaces/desta", params={"q": "réglementation"}).text
    assert "Aucune question-réponse de cet espace ne correspond" in empty


# ------------------------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    "path",
    ["/espaces/desta", "/espaces/desta/questions/Q-2026-000004", "/recherche?q=gras+script"],
)
def test_what_people_wrote_is_shown_as_text(env: WebEnv, path: str) -> None:
    page = as_user(env).client.get(path).text
    assert "<script>alert" not in page and "<b>gras</b>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp;amp;" in page


def test_search_terms_are_escaped(env: WebEnv) -> None:
    page = as_user(env).client.get("/recherche", params={"q": '"><script>alert(1)</script>'}).text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


# --------------------------------------------------------------------- guides, documents


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/documents", "Fiches pratiques du site"),
        ("/documents/fiches/mot-de-passe", "Gérer votre mot de passe et vos notifications"),
        ("/documents/fiches/mini-guide", "Mini-guide de navigation"),
        ("/accessibilite", "Déclaration d’accessibilité"),
    ],
)
def test_documentary_space_and_guides_are_readable_without_login(
    env: WebEnv, path: str, heading: str
) -> None:
    response = env.client.get(path)
    assert response.status_code == 200 and heading in response.text


# -------------------------------------------------------------------------- notifications


def test_notification_preferences_default_to_daily_and_can_be_changed(env: WebEnv) -> None:
    page = as_user(env).client.get("/compte/notifications").text
    assert 'id="frequence_desta_daily" name="frequence_desta" value="daily" checked' in page
    assert "frequence_antai" not in page
    data = {
        "csrf_token": form_token(env.client, "/compte/notifications"),
        "frequence_desta": "immediate",
        "frequence_accueil": "none",
        "frequence_antai": "immediate",  # not readable: ignored
    }
    response = env.client.post("/compte/notifications", data=data, follow_redirects=False)
    assert response.headers["location"] == "/compte/notifications"
    assert (
        "Vos préférences de notification ont été enregistrées."
        in env.client.get("/compte/notifications").text
    )
    with Session(env.engine) as session:
        assert [s.email for s in env.portal().subscribers("desta", "immediate")] == [USER]
        assert session.get(PortalNotificationPreference, (1, "accueil")).frequency == "none"  # type: ignore[union-attr]
        assert session.get(PortalNotificationPreference, (1, "antai")) is None


def test_unknown_frequency_is_ignored(env: WebEnv) -> None:
    as_user(env)
    data = {
        "csrf_token": form_token(env.client, "/compte/notifications"),
        "frequence_desta": "hourly",
    }
    env.client.post("/compte/notifications", data=data)
    with Session(env.engine) as session:
        assert session.get(PortalNotificationPreference, (1, "desta")) is None


# ------------------------------------------------------------------------ look, headers


def test_pages_are_french_dsfr_with_a_strict_csp(env: WebEnv) -> None:
    response = env.client.get("/connexion")
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    assert '<html lang="fr"' in page and "Ministère<br>de l’Intérieur" in page
    assert 'href="/static/dsfr/dsfr.min.css"' in page and "fr-skiplinks" in page
    assert 'for="identifiant"' in page and 'for="mot_de_passe"' in page
    assert "http://" not in page.split("<footer")[0].replace("http://www.w3.org", "")
    assert env.client.get("/static/dsfr/dsfr.min.css").status_code == 200


def test_templates_hold_no_inline_style_or_script() -> None:
    # The CSP (default-src 'self') would block them; the DSFR's files are the only scripts.
    folder = Path(portal_app.__file__).parent / "templates"
    for template in folder.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=|javascript:", text), template.name
        assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", text)), template.name


def test_pages_are_served_without_the_dsfr_assets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    monkeypatch.setattr(portal_app, "DSFR_DIST", tmp_path / "missing")
    with caplog.at_level(logging.WARNING, logger="portal_stub.app"):
        bare = web_env(tmp_path, NOW)
    assert "DSFR assets missing" in caplog.text
    page = bare.client.get("/connexion")
    assert page.status_code == 200 and "dsfr.min.css" not in page.text


def test_unknown_page_gets_the_french_404(env: WebEnv) -> None:
    response = env.client.get("/nulle-part")
    assert response.status_code == 404 and "Page introuvable" in response.text


def test_missing_session_secret_stops_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    with pytest.raises(ConfigError, match=SECRET_ENV):
        web_env(tmp_path, NOW)
