"""The admin's desk over HTTP (login through the portal's check, the admin view, « Rejouer »),
the weekly chart it draws, and how it sits beside the portal stand-in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.testclient import TestClient

from mailbot.config import Config
from mailbot.desk.app import SESSION_COOKIE, create_desk_app
from mailbot.desk.chart import WeekCount, svg_chart, weekly_counts
from mailbot.wiring import portal_server_app
from portal_stub.app import create_app
from portal_stub.models import PortalAccount
from portal_stub.service import StubPortal
from portal_stub.testing import (
    SECRET_ENV,
    SECRET_VALUE,
    Clock,
    RecordingMailer,
    cheap_hasher,
    make_config,
    migrated_sqlite,
)
from storage.db import make_engine
from storage.models import Case, InboundMessage

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday
ADMIN = "admin.stationnement@demo.test"  # in [admins] addresses of make_config
PORTAL_ADMIN = "admin@interieur.gouv.fr"  # an admin of the portal only, not of mailbot
USER = "claire.martin@ville.fr"
PASSWORD = "une phrase de passe solide"
BASE = "http://portail.test"
LOGIN = "/admin/connexion"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class DeskEnv:
    config: Config
    engine: Engine
    clock: Clock
    client: TestClient

    def fate(self, message_id: int) -> str | None:
        with Session(self.engine) as session:
            message = session.get(InboundMessage, message_id)
            return message.fate if message else None


def _account(session: Session, email: str, *, admin: bool = False) -> None:
    session.add(
        PortalAccount(
            email=email,
            first_name="Alice",
            last_name="Admin",
            spaces=["accueil"],
            password_hash=cheap_hasher().hash(PASSWORD),
            must_change_password=False,
            is_admin=admin,
            created_at=NOW - timedelta(days=30),
        )
    )


def _seed(engine: Engine) -> None:
    with Session(engine) as session:
        _account(session, ADMIN)
        _account(session, PORTAL_ADMIN, admin=True)
        _account(session, USER)
        session.add(
            Case(
                ref="ABO-2026-000001",
                kind="subscription",
                state="awaiting_review",
                requester="a@ville.fr",
                subject="Demande <script>x</script>",
                group="abonnements",
                assignee="relecteur@interieur.gouv.fr",
                created_at=NOW - timedelta(days=3),
                due_at=NOW + timedelta(days=2),
            )
        )
        session.add(
            Case(
                ref="Q-2026-000002",
                kind="question",
                state="answered",
                requester="b@ville.fr",
                created_at=NOW - timedelta(days=9),
                closed_at=NOW - timedelta(days=1),
            )
        )
        for fate, rule, error in (
            ("ignored", "auto_reply", None),
            ("quarantined", None, "KeyError: 'x'"),
            ("processed", "question", None),
        ):
            session.add(
                InboundMessage(
                    sha256=fate.ljust(64, "0"),
                    raw=b"x",
                    fate=fate,
                    rule=rule,
                    error=error,
                    sender="c@ville.fr",
                    subject=f"Objet <b>{fate}</b>",
                )
            )
        session.commit()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DeskEnv:
    monkeypatch.setenv("MAILBOT_SECRET", "desk-test-instance-secret-0123456789")
    url = migrated_sqlite(tmp_path / "desk.db")
    engine = make_engine(url)
    config = make_config(url, BASE)
    clock = Clock(NOW)
    hasher = cheap_hasher()
    _seed(engine)
    desk = create_desk_app(
        config,
        engine,
        lambda _session: StubPortal(engine, BASE, clock, hasher=hasher),
        now=clock,
    )
    return DeskEnv(config, engine, clock, TestClient(desk, base_url=BASE))


def token(client: TestClient, path: str = LOGIN) -> str:
    found = _CSRF.search(client.get(path).text)
    assert found, f"no form token on {path}"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    data = {"csrf_token": token(client), "identifiant": email, "mot_de_passe": password, **extra}
    return client.post(LOGIN, data=data, follow_redirects=False)


def signed_in(env: DeskEnv) -> DeskEnv:
    response = sign_in(env.client, ADMIN)
    assert response.status_code == 303 and response.headers["location"] == "/admin"
    return env


# ------------------------------------------------------------------------------ signing in


@pytest.mark.parametrize(
    "path", ["/admin", "/admin/", "/admin/inconnu", "/admin/messages/1/rejouer?x=1"]
)
def test_everything_under_admin_sends_strangers_to_the_login(env: DeskEnv, path: str) -> None:
    response = env.client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"{LOGIN}?suite=%2Fadmin")


def test_a_replay_without_signing_in_changes_nothing(env: DeskEnv) -> None:
    csrf = token(env.client)
    response = env.client.post(
        "/admin/messages/1/rejouer", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == LOGIN
    assert env.fate(1) == "ignored"


def test_the_login_page_is_french_dsfr_and_guarded(env: DeskEnv) -> None:
    response = env.client.get(LOGIN)
    page = response.text
    assert response.status_code == 200 and '<html lang="fr"' in page
    assert "<h1>Connexion au bureau des administrateurs</h1>" in page
    assert 'action="/admin/connexion"' in page and 'name="csrf_token"' in page
    csp = response.headers["content-security-policy"]
    assert csp.startswith("default-src 'self'") and "script-src" not in csp
    assert response.headers["cache-control"] == "no-store"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "path=/admin" in cookie.lower()
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()


def test_an_admin_signs_in_with_the_portal_password_and_out_again(env: DeskEnv) -> None:
    response = sign_in(env.client, ADMIN.upper(), suite="/admin?vue=1")
    assert response.status_code == 303 and response.headers["location"] == "/admin?vue=1"
    page = env.client.get("/admin").text
    assert "<h1>Administration</h1>" in page and f"Connecté en tant que {ADMIN}" in page
    csrf = token(env.client, "/admin")
    response = env.client.post(
        "/admin/deconnexion", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert response.headers["location"] == LOGIN
    assert "Vous êtes déconnecté" in env.client.get(LOGIN).text
    assert env.client.get("/admin", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("email", "password"),
    [
        (ADMIN, "pas le bon mot de passe"),
        (USER, PASSWORD),  # a portal account, not an admin
        (PORTAL_ADMIN, PASSWORD),  # an admin of the portal, not in [admins] addresses
        ("inconnu@demo.test", PASSWORD),
        ("", ""),
    ],
)
def test_only_configured_admins_with_the_right_password_get_in(
    env: DeskEnv, email: str, password: str
) -> None:
    response = sign_in(env.client, email, password)
    assert response.status_code == 400
    assert "Identifiant ou mot de passe incorrect" in response.text
    assert env.client.get("/admin", follow_redirects=False).status_code == 303


# Throttling and server-side sessions of the desk: tests/test_threat_desk.py.


@pytest.mark.parametrize("target", ["//ailleurs.example/admin", "/espaces/accueil", "/admin\\x"])
def test_after_signing_in_one_stays_on_the_desk(env: DeskEnv, target: str) -> None:
    assert sign_in(env.client, ADMIN, suite=target).headers["location"] == "/admin"


@pytest.mark.parametrize("path", [LOGIN, "/admin/deconnexion", "/admin/messages/1/rejouer"])
@pytest.mark.parametrize("csrf", [None, "a-forged-token"])
def test_every_form_without_the_session_token_is_refused(
    env: DeskEnv, path: str, csrf: str | None
) -> None:
    signed_in(env)
    data = {"identifiant": ADMIN, "mot_de_passe": PASSWORD}
    if csrf:
        data["csrf_token"] = csrf
    response = env.client.post(path, data=data)
    assert response.status_code == 403 and "Le formulaire n’a pas pu être vérifié" in response.text
    assert env.fate(1) == "ignored"


def test_the_portal_session_opens_nothing_on_the_desk(env: DeskEnv) -> None:
    env.client.cookies.set("portail_session", "anything")
    assert env.client.get("/admin", follow_redirects=False).status_code == 303


# ------------------------------------------------------------------------------ the view


def test_admin_view_lists_open_cases_and_set_aside_mails(env: DeskEnv) -> None:
    page = signed_in(env).client.get("/admin").text
    assert "ABO-2026-000001" in page and "Q-2026-000002" not in page.split('id="messages"')[0]
    assert "awaiting_review" in page and "3 j" in page and "relecteur@interieur.gouv.fr" in page
    assert "2 décembre 2026" in page  # due date
    assert "réponse automatique" in page and "Objet &lt;b&gt;processed" not in page
    # A quarantined mail shows its French reason, never the Python error.
    assert "erreur de traitement" in page and "KeyError" not in page
    assert page.count(">Rejouer</button>") == 2
    assert page.count(">Supprimer</button>") == 1  # quarantined mail only
    assert "<script>x" not in page and "Demande &lt;script&gt;x&lt;/script&gt;" in page


@pytest.mark.parametrize(
    ("message_id", "fate_after"), [(1, "replay"), (2, "replay"), (3, "processed")]
)
def test_replay_button_marks_only_a_set_aside_mail(
    env: DeskEnv, message_id: int, fate_after: str
) -> None:
    signed_in(env)
    csrf = token(env.client, "/admin")
    response = env.client.post(
        f"/admin/messages/{message_id}/rejouer", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert response.headers["location"] == "/admin#messages"
    assert env.fate(message_id) == fate_after
    assert (
        env.client.post("/admin/messages/99/rejouer", data={"csrf_token": csrf}).status_code == 404
    )


def test_admin_view_has_an_accessible_svg_chart_with_its_data_table(env: DeskEnv) -> None:
    page = signed_in(env).client.get("/admin").text
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert 'role="img"' in svg and 'aria-labelledby="graphique-titre graphique-desc"' in svg
    assert '<title id="graphique-titre">Dossiers reçus et clos par semaine</title>' in svg
    assert "2 dossiers reçus et 1 dossier clos" in svg
    assert svg.count("<rect") == 12 * 2 + 2  # two bars a week, two legend keys
    rows = re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td><td>(\d+)</td></tr>", page)
    assert len(rows) == 12
    assert rows[-2:] == [("23 novembre 2026", "1", "1"), ("30 novembre 2026", "0", "0")]


def test_unknown_desk_pages_are_french_404s(env: DeskEnv) -> None:
    response = signed_in(env).client.get("/admin/inconnu")
    assert response.status_code == 404 and "<h1>Page introuvable</h1>" in response.text


# ----------------------------------------------------------------- assets and the wiring


def test_dsfr_is_served_from_the_folder_the_wiring_gives(env: DeskEnv, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "dsfr.min.css").write_text("/* dsfr */")
    desk = create_desk_app(
        env.config,
        env.engine,
        lambda _s: StubPortal(env.engine, BASE),
        dsfr_dir=dist,
        secret="x" * 32,
    )
    client = TestClient(desk, base_url=BASE)
    page = client.get(LOGIN).text
    assert 'href="/admin/static/dsfr/dsfr.min.css"' in page
    assert client.get("/admin/static/dsfr/dsfr.min.css").text == "/* dsfr */"
    assert "cache-control" not in client.get("/admin/static/bureau/desk.css").headers
    assert "/admin/static/dsfr" not in env.client.get(LOGIN).text  # no folder: no DSFR links


def test_one_server_routes_admin_to_the_desk_and_the_rest_to_the_stand_in(
    env: DeskEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    both = TestClient(portal_server_app(env.config, env.engine), base_url=BASE)  # `mailbot run`
    stub = create_app(env.config, env.engine, mailer=RecordingMailer(), hasher=cheap_hasher())
    assert "Connexion au bureau des administrateurs" in both.get(LOGIN).text
    assert "Connexion à l’Espace collectivités" in both.get("/connexion").text
    assert both.get("/administration").status_code == 404  # not a desk path: the stand-in's
    # The stand-in alone no longer has an admin page.
    alone = TestClient(stub, base_url=BASE)
    assert alone.get("/admin", follow_redirects=False).status_code == 404


def test_the_desk_and_the_stand_in_stay_apart() -> None:
    root = Path(__file__).parents[1]
    for path in (root / "mailbot" / "desk").glob("*.py"):
        assert "portal_stub" not in path.read_text(), path
    for path in (root / "portal_stub").glob("*.py"):
        text = path.read_text()
        assert not re.search(r"from storage\.models import [^\n]*\b(Case|InboundMessage)\b", text)
        assert "mailbot.desk" not in text, path


# ----------------------------------------------------------------------------- the chart


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cases", "expected_last_two"),
    [
        ([], [(0, 0), (0, 0)]),
        ([(at(24), None)], [(1, 0), (0, 0)]),
        ([(at(24), at(30))], [(1, 0), (0, 1)]),
        ([(at(23, 22), None)], [(1, 0), (0, 0)]),  # Sunday 23:00 in Paris is still week 47
        ([(at(29, 23), None)], [(0, 0), (1, 0)]),  # Monday 00:00 in Paris starts the week
        ([(datetime(2025, 1, 1, tzinfo=UTC), at(25))], [(0, 1), (0, 0)]),  # old case, closed lately
    ],
)
def test_weekly_counts_use_paris_weeks(
    cases: list[tuple[datetime, datetime | None]], expected_last_two: list[tuple[int, int]]
) -> None:
    weeks = weekly_counts(cases, NOW, weeks=12)
    assert len(weeks) == 12 and weeks[-1].start.isoformat() == "2026-11-30"
    assert all(w.start.weekday() == 0 for w in weeks)
    assert [(w.received, w.closed) for w in weeks[-2:]] == expected_last_two


def test_bar_heights_are_proportional_to_the_counts() -> None:
    start = NOW.date()
    svg = svg_chart([WeekCount(start, 4, 2)])
    heights = [
        float(h)
        for h in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"', svg)
    ]
    assert heights[0] == pytest.approx(2 * heights[1])
