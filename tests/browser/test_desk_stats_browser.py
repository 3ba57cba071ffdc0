"""The desk's « Statistiques » page in Chromium (Playwright), on a controlled dataset: weekly
counts, medians and 90th percentiles as computed by hand, overdue cases per reviewer, the xlsx
download; the same page at 390 px wide with nothing overlapping and nothing wider than the
screen but the tables' own scrolling areas. Screenshots: docs/screenshots/statistiques*.png
(with MAILBOT_SCREENSHOTS=1)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook
from playwright.sync_api import ConsoleMessage, Page, expect
from portal_browser import chromium, desk_login, screenshot, serve_portal
from sqlalchemy import Engine
from sqlmodel import Session

from mailbot.config import Config
from portal_stub.models import PortalAccount
from portal_stub.testing import cheap_hasher
from storage.models import Case, CaseEvent

ADMIN = "admin.stationnement@demo.test"
ADMIN_PASSWORD = "mot de passe administrateur"
REVIEWER = "relecteur.accueil@demo.test"
H = timedelta(hours=1)


def seed(engine: Engine) -> datetime:
    """Four answered questions (first answers after 2, 4, 10 and 30 hours, each held 15
    minutes), one open and overdue, one with a formula-looking subject; an admin account."""
    now = datetime.now(UTC)
    start = now - timedelta(days=2)
    with Session(engine) as s:
        s.add(
            PortalAccount(
                email=ADMIN,
                first_name="Alice",
                last_name="Admin",
                spaces=["accueil", "desta", "antai"],
                password_hash=cheap_hasher().hash(ADMIN_PASSWORD),
                must_change_password=False,
                is_admin=True,
            )
        )
        for i, hours in enumerate((2, 4, 10, 30), start=1):
            ref = f"Q-2026-00000{i}"
            answered = start + hours * H
            s.add(
                Case(
                    ref=ref,
                    kind="question",
                    state="answered",
                    requester=f"demandeur{i}@commune.fr",
                    subject=f"Question {i}" if i > 1 else '=HYPERLINK("http://x/";"clic")',
                    group="accueil",
                    assignee=REVIEWER,
                    space="accueil",
                    created_at=start,
                    closed_at=answered + H / 4,
                )
            )
            for at, old, new in (
                (start, "received", "open"),
                (answered, "open", "held"),
                (answered + H / 4, "held", "answered"),
            ):
                s.add(CaseEvent(case_ref=ref, at=at, event="state", data={"from": old, "to": new}))
        s.add(
            Case(
                ref="Q-2026-000009",
                kind="question",
                state="open",
                requester="attente@commune.fr",
                subject="Toujours en attente",
                group="accueil",
                space="accueil",
                created_at=now - timedelta(days=6),
                due_at=now - H,
            )
        )
        s.commit()
    return now


def watch(page: Page, problems: list[str]) -> None:
    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"console {message.type}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))


def overlaps(page: Page) -> list[str]:
    """Visible text blocks and controls of the main content whose boxes overlap, and anything
    wider than the window outside a table's scrolling container."""
    return page.evaluate(
        """() => {
        const found = [];
        const width = document.documentElement.clientWidth;
        const items = [...document.querySelectorAll(
            'main h1, main h2, main p, main label, main select, main input, main button, '
            + 'main figure, main .fr-table')];
        const boxes = items.map(e => [e, e.getBoundingClientRect()])
            .filter(([e, r]) => r.width > 0 && r.height > 0);
        for (const [e, r] of boxes) {
            if (r.right > width + 1 && !e.closest('.fr-table__container')) {
                found.push('too wide: ' + e.tagName + ' ' + e.textContent.slice(0, 40));
            }
        }
        for (let i = 0; i < boxes.length; i++) {
            for (let j = i + 1; j < boxes.length; j++) {
                const [a, ra] = boxes[i], [b, rb] = boxes[j];
                if (a.contains(b) || b.contains(a)) continue;
                const x = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
                const y = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
                if (x > 1 && y > 1) {
                    found.push(a.tagName + ' / ' + b.tagName + ': ' + a.textContent.slice(0, 30)
                        + ' | ' + b.textContent.slice(0, 30));
                }
            }
        }
        return found;
    }"""
    )


def test_statistics_page_figures_download_and_mobile(portal_db: tuple[Config, Engine]) -> None:
    config, engine = portal_db
    seed(engine)
    problems: list[str] = []
    with serve_portal(config, engine, hasher=cheap_hasher()) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR")
        watch(page, problems)
        desk_login(page, base, ADMIN, ADMIN_PASSWORD)
        page.get_by_role("link", name="Statistiques").click()
        page.wait_for_url(f"{base}/admin/statistiques")
        expect(page.get_by_role("heading", level=1)).to_have_text("Statistiques")
        expect(page.get_by_role("img", name="Dossiers reçus et clos par semaine")).to_be_visible()
        opened = page.get_by_text("1 dossier ouvert aujourd’hui, dont 1 en retard.")
        expect(opened).to_be_visible()
        overall = page.get_by_role("table", name="Ensemble des dossiers")
        row = overall.get_by_role("row").nth(2)  # after the two header rows
        # 2, 4, 10, 30 h: median 7 h, p90 (nearest rank, 4th of 4) 1 j 6 h; decisions +15 min
        expect(row.get_by_role("cell")).to_have_text(
            ["7\u00a0h", "1\u00a0j 6\u00a0h", "4", "7\u00a0h 15", "1\u00a0j 6\u00a0h", "4"]
        )
        reviewers = page.get_by_role("table", name="Par relecteur (celui qui a décidé)")
        expect(reviewers.get_by_role("rowheader")).to_have_text([REVIEWER, "non attribué"])
        late = page.get_by_role("table", name="Relecteurs et groupes, les plus chargés")
        expect(late.get_by_role("row").nth(1)).to_have_text("groupe accueil (non attribué)1")
        weeks = page.get_by_role("table", name="Les mêmes chiffres, semaine par semaine")
        expect(weeks.get_by_role("row")).to_have_count(13)  # header and 12 weeks
        assert overlaps(page) == []
        screenshot(page, "statistiques")

        with page.expect_download() as info:
            page.get_by_role("button", name="Télécharger le classeur").click()
        download = info.value
        assert download.suggested_filename.startswith("export-dossiers-")
        book = load_workbook(io.BytesIO(open(download.path(), "rb").read()))
        assert book.sheetnames == ["Dossiers", "Personnes et comptes", "Questions-réponses"]
        subjects = [r[7] for r in book["Dossiers"].iter_rows(min_row=2, values_only=True)]
        assert '\'=HYPERLINK("http://x/";"clic")' in subjects

        page.get_by_label("Période affichée").select_option("4")
        page.get_by_role("button", name="Afficher").click()
        page.wait_for_url(f"{base}/admin/statistiques?semaines=4")
        expect(
            page.get_by_role("table", name="Les mêmes chiffres, semaine par semaine").get_by_role(
                "row"
            )
        ).to_have_count(5)

        mobile = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-FR")
        watch(mobile, problems)
        mobile.context.add_cookies(page.context.cookies())
        mobile.goto(f"{base}/admin/statistiques")
        expect(mobile.get_by_role("heading", level=1)).to_have_text("Statistiques")
        width = mobile.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways: {width} px"
        assert overlaps(mobile) == []
        screenshot(mobile, "statistiques-390")
        mobile.goto(f"{base}/admin/statistiques/export?depuis=2026-12-10&jusqu_au=2026-12-01")
        expect(mobile.get_by_role("status")).to_contain_text("Les dates de l’export sont")
    assert problems == [], "\n".join(problems)
