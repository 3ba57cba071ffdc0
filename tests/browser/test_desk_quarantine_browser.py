"""The quarantine on the desk's front page in Chromium (Playwright): each mail set aside with
its sender, subject and French reason (never a Python error), « Rejouer » and « Supprimer »
with their confirmation, and the same list at 390 px wide with nothing overlapping.
Screenshots: docs/screenshots/quarantaine*.png (with MAILBOT_SCREENSHOTS=1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect
from portal_browser import chromium, desk_login, overlaps, screenshot, serve_portal
from sqlalchemy import Engine
from sqlmodel import Session, select

from mailbot.config import Config
from portal_stub.models import PortalAccount
from portal_stub.testing import cheap_hasher
from storage.models import InboundMessage

ADMIN = "admin.stationnement@demo.test"
ADMIN_PASSWORD = "mot de passe administrateur"
TOO_BIG = "le message pèse 28 Mo, au-delà de la limite de 25 Mo : il n'a pas été lu"


def seed(engine: Engine) -> tuple[int, int]:
    now = datetime.now(UTC)
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
        big = InboundMessage(
            sha256="b" * 64,
            raw=b"From: mairie@commune.fr\r\nSubject: Annexes\r\n\r\nx",
            fate="quarantined",
            sender="mairie@commune-de-saint-remy-de-provence.fr",
            subject="Délibération, annexes et plans (version signée)",
            reason=TOO_BIG,
            error="UnreadableMail: message of 29360128 bytes over the limit\nTraceback …",
            received_at=now - timedelta(hours=2),
        )
        broken = InboundMessage(
            sha256="c" * 64,
            raw=b"From: agent@ville.fr\r\n\r\nx",
            fate="quarantined",
            sender="agent@ville.fr",
            subject=None,
            reason="erreur de traitement (KeyError: 'x')",
            received_at=now - timedelta(hours=1),
        )
        s.add(big)
        s.add(broken)
        s.add(
            InboundMessage(
                sha256="d" * 64,
                raw=b"x",
                fate="ignored",
                kind="auto_reply",
                rule="auto_submitted",
                sender="absent@ville.fr",
                subject="Absence du bureau",
                received_at=now,
            )
        )
        s.commit()
        return int(big.id or 0), int(broken.id or 0)


def test_quarantine_list_replay_and_delete(portal_db: tuple[Config, Engine]) -> None:
    config, engine = portal_db
    big, broken = seed(engine)
    with serve_portal(config, engine, hasher=cheap_hasher()) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR")
        desk_login(page, base, ADMIN, ADMIN_PASSWORD)
        page.goto(f"{base}/admin#messages")
        table = page.get_by_role("table", name="Courriels ignorés ou en quarantaine")
        expect(table).to_contain_text("le message pèse 28 Mo, au-delà de la limite de 25 Mo")
        expect(table).to_contain_text("mairie@commune-de-saint-remy-de-provence.fr")
        expect(table).to_contain_text("(sans objet)")  # the broken one has no subject
        expect(table).to_contain_text("réponse automatique")
        expect(table).not_to_contain_text("Traceback")
        expect(table.get_by_role("button", name="Supprimer")).to_have_count(2)
        screenshot(page, "quarantaine")

        mobile = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-FR")
        mobile.context.add_cookies(page.context.cookies())
        mobile.goto(f"{base}/admin#messages")
        expect(mobile.get_by_text("au-delà de la limite de 25 Mo")).to_be_visible()
        expect(mobile.get_by_role("heading", name="Courriels mis de côté")).to_be_visible()
        assert overlaps(mobile) == []
        screenshot(mobile, "quarantaine-390")

        table.get_by_title(f"Rejouer le courriel n° {big}").click()
        expect(page.get_by_text("Le message sera traité de nouveau")).to_be_visible()
        table = page.get_by_role("table", name="Courriels ignorés ou en quarantaine")
        table.get_by_title(f"Supprimer le courriel n° {broken}").click()
        expect(page.get_by_text("Le message sera supprimé par le robot")).to_be_visible()
        with Session(engine) as s:
            fates = {m.id: m.fate for m in s.exec(select(InboundMessage)).all()}
        assert fates[big] == "replay"
        assert fates[broken] == "delete"
