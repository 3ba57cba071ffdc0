"""The desk's « Comptes » and « Documents » in Chromium: search an account, change its
spaces, disable, enable, send the invitation again; publish a document in a folder of the
Espace documentaire, be refused a disguised file, replace and remove; the same screens at
390 px wide with nothing drawn over anything else. Screenshots in docs/screenshots/ when
MAILBOT_SCREENSHOTS=1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect
from portal_browser import chromium, desk_login, overlaps, screenshot, serve_portal
from sqlalchemy import Engine
from sqlmodel import Session, select

from mailbot.config import Config
from portal_stub.models import PortalAccount, PortalDocument
from portal_stub.testing import cheap_hasher
from storage.models import OutboxMail

ADMIN = "admin.stationnement@demo.test"  # in [admins] addresses (make_config)
PASSWORD = "mot de passe administrateur"
USER = "claire.martin@ville-exemple.fr"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _seed(engine: Engine) -> None:
    hasher, now = cheap_hasher(), datetime.now(UTC)
    people = [
        (ADMIN, "Alice", "Admin", "Ministère de l’Intérieur", ["accueil"], now),
        (USER, "Claire", "Martin", "Ville d’Exemple", ["accueil", "desta"], now),
        ("paul.durand@prestataire-stationnement.fr", "Paul", "Durand", "Presta SA", [], None),
        ("jeanne.petit@agglo-exemple.fr", "Jeanne", "Petit", "Agglo d’Exemple", ["antai"], None),
    ]
    with Session(engine) as session:
        for email, first, last, org, spaces, login in people:
            session.add(
                PortalAccount(
                    email=email,
                    first_name=first,
                    last_name=last,
                    organisation=org,
                    spaces=["accueil", *spaces],
                    password_hash=hasher.hash(PASSWORD),
                    must_change_password=login is None,
                    temp_password_expires_at=None if login else now + timedelta(days=30),
                    created_at=now - timedelta(days=40),
                    last_login_at=login - timedelta(hours=5) if login else None,
                )
            )
        session.commit()


def _no_overlap(page: Page, name: str) -> None:
    assert overlaps(page) == [], name


def test_account_management(portal_db: tuple[Config, Engine]) -> None:
    config, engine = portal_db
    _seed(engine)
    with serve_portal(config, engine, hasher=cheap_hasher()) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR")
        desk_login(page, base, ADMIN, PASSWORD)
        page.get_by_role("link", name="Comptes").click()
        page.wait_for_url(f"{base}/admin/comptes")
        expect(page.get_by_role("heading", level=1)).to_have_text("Comptes du portail")
        expect(page.get_by_role("cell", name="Invitation en attente")).to_have_count(2)
        _no_overlap(page, "comptes")
        screenshot(page, "desk-comptes")
        page.get_by_label("Rechercher un compte").fill("ville d'exemple")
        page.get_by_role("button", name="Rechercher").click()
        expect(page.get_by_role("link", name=USER)).to_be_visible()
        expect(
            page.get_by_role("link", name="paul.durand@prestataire-stationnement.fr")
        ).to_have_count(0)
        page.get_by_role("link", name=USER).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(USER)
        page.get_by_label("ANTAI").check(force=True)
        page.get_by_label("DESTA").uncheck(force=True)
        page.get_by_role("button", name="Enregistrer les espaces").click()
        expect(page.get_by_role("status")).to_contain_text("Accueil et ANTAI")
        page.get_by_role("button", name="Désactiver le compte").click()
        expect(page.get_by_role("status")).to_contain_text("est désactivé")
        expect(page.get_by_text("Désactivé", exact=True)).to_be_visible()
        _no_overlap(page, "compte")
        screenshot(page, "desk-compte")
        page.get_by_role("button", name="Réactiver le compte").click()
        expect(page.get_by_role("status")).to_contain_text("de nouveau actif")
        page.get_by_role("button", name="Renvoyer l’invitation").click()
        expect(page.get_by_role("status")).to_contain_text("nouveau mot de passe provisoire")

        narrow = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-FR")
        desk_login(narrow, base, ADMIN, PASSWORD)
        for path, name in (
            ("/admin/comptes", "desk-comptes-390"),
            (f"/admin/comptes/{USER}", "desk-compte-390"),
        ):
            narrow.goto(base + path)
            _no_overlap(narrow, name)
            screenshot(narrow, name)
        narrow.get_by_role("button", name="Menu").click()
        expect(narrow.get_by_role("link", name="Documents")).to_be_visible()
    with Session(engine) as session:
        account = session.exec(select(PortalAccount).where(PortalAccount.email == USER)).one()
        assert account.spaces == ["accueil", "antai"] and account.disabled_at is None
        assert account.must_change_password
        [mail] = session.exec(select(OutboxMail)).all()
        assert (mail.template, mail.recipients) == ("invitation", [USER])


def test_document_upload(portal_db: tuple[Config, Engine], tmp_path: Path) -> None:
    config, engine = portal_db
    _seed(engine)
    guide = tmp_path / "Guide de la réforme.pdf"
    guide.write_bytes(PDF)
    fake = tmp_path / "note.pdf"
    fake.write_bytes(b"MZ\x90\x00 not a pdf at all")
    schema = tmp_path / "schema-des-flux.png"
    schema.write_bytes(PNG)
    with serve_portal(config, engine, hasher=cheap_hasher()) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR")
        desk_login(page, base, ADMIN, PASSWORD)
        page.get_by_role("link", name="Documents").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Documents du portail")
        page.get_by_label("Emplacement").select_option(
            label="Espace documentaire — Fiches pratiques du site"
        )
        page.get_by_label("Titre affiché").fill("Guide de la réforme")
        page.locator("#fichier").set_input_files(str(guide))
        page.get_by_role("button", name="Publier le document").click()
        expect(page.get_by_role("status")).to_contain_text("« Guide de la réforme » est publié")
        page.get_by_label("Emplacement").select_option("desta")
        page.locator("#fichier").set_input_files(str(fake))
        page.get_by_role("button", name="Publier le document").click()
        expect(page.get_by_role("status")).to_contain_text("Ce type de fichier n’est pas accepté")
        _no_overlap(page, "documents")
        screenshot(page, "desk-documents")
        page.get_by_role("link", name="Guide de la réforme").click()
        page.locator("#fichier").set_input_files(str(schema))
        page.get_by_role("button", name="Remplacer le fichier").click()
        expect(page.get_by_role("status")).to_contain_text("remplacé par schema-des-flux.png")
        _no_overlap(page, "document")
        screenshot(page, "desk-document")

        reader = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR")
        reader.goto(f"{base}/documents")  # readable without signing in
        expect(reader.get_by_role("link", name="Guide de la réforme")).to_be_visible()
        screenshot(reader, "documents-fiches")

        narrow = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-FR")
        desk_login(narrow, base, ADMIN, PASSWORD)
        with Session(engine) as session:
            doc_id = session.exec(select(PortalDocument.id)).one()
        for path, name in (
            ("/admin/documents", "desk-documents-390"),
            (f"/admin/documents/{doc_id}", "desk-document-390"),
        ):
            narrow.goto(base + path)
            _no_overlap(narrow, name)
            screenshot(narrow, name)
        page.get_by_role("button", name="Retirer le document").click()
        expect(page.get_by_role("status")).to_contain_text("est retiré du portail")
    with Session(engine) as session:
        assert session.exec(select(PortalDocument)).all() == []
