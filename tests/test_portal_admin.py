"""The admin view over HTTP, and the weekly chart it draws."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from portal_stub.chart import WeekCount, svg_chart, weekly_counts
from portal_stub.testing import SECRET_ENV, SECRET_VALUE, WebEnv, form_token, sign_in, web_env
from storage.models import Case, InboundMessage

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday
ADMIN, USER = "admin@interieur.gouv.fr", "claire.martin@ville.fr"
PASSWORD = "une phrase de passe solide"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WebEnv:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    env = web_env(tmp_path, NOW)
    env.add_account(ADMIN, PASSWORD, admin=True)
    env.add_account(USER, PASSWORD, ("accueil", "desta", "antai"))
    with Session(env.engine) as session:
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
    return env


def sign_in_as(env: WebEnv, email: str) -> None:
    assert sign_in(env.client, email, PASSWORD).status_code == 303


def test_admin_view_lists_open_cases_and_set_aside_mails(env: WebEnv) -> None:
    sign_in_as(env, ADMIN)
    page = env.client.get("/admin").text
    assert "ABO-2026-000001" in page and "Q-2026-000002" not in page.split('id="messages"')[0]
    assert "awaiting_review" in page and "3 j" in page and "relecteur@interieur.gouv.fr" in page
    assert "2 décembre 2026" in page  # due date
    assert "auto_reply" in page and "KeyError" in page and "Objet &lt;b&gt;processed" not in page
    assert page.count(">Rejouer</button>") == 2
    assert "<script>x" not in page and "Demande &lt;script&gt;x&lt;/script&gt;" in page


def test_a_requester_never_sees_the_admin_view(env: WebEnv) -> None:
    sign_in_as(env, USER)
    assert env.client.get("/admin").status_code == 403
    token = form_token(env.client, "/espaces/accueil")
    assert (
        env.client.post("/admin/messages/1/rejouer", data={"csrf_token": token}).status_code == 403
    )
    with Session(env.engine) as session:
        assert session.get(InboundMessage, 1).fate == "ignored"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("message_id", "fate_after"), [(1, "replay"), (2, "replay"), (3, "processed")]
)
def test_replay_button_marks_only_a_set_aside_mail(
    env: WebEnv, message_id: int, fate_after: str
) -> None:
    sign_in_as(env, ADMIN)
    token = form_token(env.client, "/admin")
    response = env.client.post(
        f"/admin/messages/{message_id}/rejouer", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.headers["location"] == "/admin#messages"
    with Session(env.engine) as session:
        assert session.get(InboundMessage, message_id).fate == fate_after  # type: ignore[union-attr]
    assert (
        env.client.post("/admin/messages/99/rejouer", data={"csrf_token": token}).status_code == 404
    )


def test_admin_view_has_an_accessible_svg_chart_with_its_data_table(env: WebEnv) -> None:
    sign_in_as(env, ADMIN)
    page = env.client.get("/admin").text
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert 'role="img"' in svg and 'aria-labelledby="graphique-titre graphique-desc"' in svg
    assert '<title id="graphique-titre">Dossiers reçus et clos par semaine</title>' in svg
    assert "2 dossiers reçus et 1 dossier clos" in svg
    assert svg.count("<rect") == 12 * 2 + 2  # two bars a week, two legend keys
    rows = re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td><td>(\d+)</td></tr>", page)
    assert len(rows) == 12
    assert rows[-2:] == [("23 novembre 2026", "1", "1"), ("30 novembre 2026", "0", "0")]


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
