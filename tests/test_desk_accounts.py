"""The desk's « Comptes » and « Documents » pages over HTTP, on a migrated database with the
stand-in behind `Portal` and mailbot's outbox as the portal's mailer: search, disable/enable,
spaces, reset (the invitation in the outbox), upload/replace/remove with their checks, CSRF
refusals and the admin in the workflow log."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.testclient import TestClient

from mailbot.desk.app import create_desk_app
from mailbot.loop.outbox import OutboxPortalMailer
from portal_stub.models import PortalAccount, PortalDocument
from portal_stub.service import StubPortal
from portal_stub.testing import Clock, cheap_hasher, make_config, migrated_sqlite
from storage.db import make_engine
from storage.models import OutboxMail

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ADMIN = "admin.stationnement@demo.test"
USER = "claire.martin@ville.fr"
PASSWORD = "une phrase de passe solide"
BASE = "http://portail.test"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_KEY = re.compile(r'name="cle" value="([^"]+)"')
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class Env:
    engine: Engine
    client: TestClient
    log: Path
    portal: StubPortal

    def account(self, email: str) -> PortalAccount:
        with Session(self.engine) as session:
            return session.exec(select(PortalAccount).where(PortalAccount.email == email)).one()

    def form(self, path: str) -> dict[str, str]:
        page = self.client.get(path).text
        csrf, key = _CSRF.search(page), _KEY.search(page)
        assert csrf and key, f"no form on {path}"
        return {"csrf_token": csrf.group(1), "cle": key.group(1)}


def _account(session: Session, email: str, **values: object) -> None:
    session.add(
        PortalAccount(
            email=email,
            first_name=str(values.pop("first_name", "Alice")),
            last_name="Martin",
            organisation=str(values.pop("organisation", "Ville d’Évry")),
            spaces=["accueil", "desta"],
            password_hash=cheap_hasher().hash(PASSWORD),
            must_change_password=False,
            created_at=NOW - timedelta(days=30),
            **values,
        )
    )


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    monkeypatch.setenv("MAILBOT_SECRET", "desk-test-instance-secret-0123456789")
    url = migrated_sqlite(tmp_path / "desk.db")
    engine = make_engine(url)
    log = tmp_path / "workflow.log"
    config = make_config(url, BASE, log={"file": str(log)})
    clock = Clock(NOW)
    with Session(engine) as session:
        _account(session, ADMIN)
        _account(session, USER, last_login_at=NOW - timedelta(days=2))
        _account(session, "paul.durand@presta.fr", first_name="Paul", organisation="Presta SA")
        session.commit()
    mailer = OutboxPortalMailer(config, engine, now=clock)
    portal = StubPortal(engine, BASE, clock, hasher=cheap_hasher(), mailer=mailer)
    desk = create_desk_app(config, engine, lambda _session: portal, now=clock)
    client = TestClient(desk, base_url=BASE)
    page = client.get("/admin/connexion").text
    csrf = _CSRF.search(page)
    assert csrf
    data = {"csrf_token": csrf.group(1), "identifiant": ADMIN, "mot_de_passe": PASSWORD}
    assert client.post("/admin/connexion", data=data, follow_redirects=False).status_code == 303
    return Env(engine, client, log, portal)


# -------------------------------------------------------------------------------- accounts


def test_accounts_list_searches_and_shows_last_login(env: Env) -> None:
    page = env.client.get("/admin/comptes").text
    assert "<h1" in page and "Comptes du portail" in page
    assert USER in page and "paul.durand@presta.fr" in page
    assert "28 novembre 2026" in page  # Claire's last login, Paris time
    assert 'href="/admin/comptes"' in page and 'aria-current="page">Comptes' in page
    found = env.client.get("/admin/comptes", params={"q": "presta"}).text
    assert "paul.durand@presta.fr" in found and USER not in found
    assert "« presta »" in found
    assert "Aucun compte ne correspond" in env.client.get("/admin/comptes?q=zzz").text


def test_disable_then_enable_an_account_logged_with_the_admin(env: Env) -> None:
    path = f"/admin/comptes/{USER}"
    response = env.client.post(f"{path}/desactiver", data=env.form(path), follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == path
    assert env.account(USER).disabled_at == NOW
    assert not env.portal.check_login(USER, PASSWORD)
    page = env.client.get(path).text
    assert "Désactivé le" in page and "Réactiver le compte" in page
    env.client.post(f"{path}/activer", data=env.form(path))
    assert env.account(USER).disabled_at is None and env.portal.check_login(USER, PASSWORD)
    lines = env.log.read_text().splitlines()
    assert f"account_disable  account={USER} by={ADMIN}" in lines[0]
    assert f"account_enable  account={USER} by={ADMIN}" in lines[1]


def test_an_admin_cannot_disable_their_own_account(env: Env) -> None:
    path = f"/admin/comptes/{ADMIN}"
    response = env.client.post(f"{path}/desactiver", data=env.form(path))
    assert "Vous ne pouvez pas désactiver votre propre compte." in response.text
    assert env.account(ADMIN).disabled_at is None


def test_spaces_change_keeps_accueil(env: Env) -> None:
    path = f"/admin/comptes/{USER}"
    data = {**env.form(path), "espace_antai": "oui"}
    response = env.client.post(f"{path}/espaces", data=data)
    assert env.account(USER).spaces == ["accueil", "antai"]
    assert "Espaces de claire.martin@ville.fr : Accueil et ANTAI." in response.text
    assert "spaces=accueil,antai" not in env.log.read_text()  # what was asked, not granted
    assert f"account_spaces  account={USER} spaces=antai by={ADMIN}" in env.log.read_text()


def test_reset_queues_the_invitation_once_even_if_the_form_is_sent_twice(env: Env) -> None:
    path = f"/admin/comptes/{USER}"
    data = env.form(path)
    first = env.client.post(f"{path}/reinitialiser", data=data)
    env.client.post(f"{path}/reinitialiser", data=data)  # a double click: the same key
    with Session(env.engine) as session:
        mails = session.exec(select(OutboxMail)).all()
    assert [(m.template, m.recipients) for m in mails] == [("invitation", [USER])]
    account = env.account(USER)
    assert account.must_change_password
    assert account.temp_password_expires_at == NOW + timedelta(days=30)
    assert not env.portal.check_login(USER, PASSWORD)
    assert "Une nouvelle invitation" in first.text


@pytest.mark.parametrize("action", ["desactiver", "activer", "espaces", "reinitialiser"])
def test_account_actions_refuse_a_missing_or_wrong_csrf_token(env: Env, action: str) -> None:
    path = f"/admin/comptes/{USER}"
    for token in (None, "faux"):
        data = {"cle": env.form(path)["cle"], "espace_antai": "oui"}
        if token:
            data["csrf_token"] = token
        response = env.client.post(f"{path}/{action}", data=data)
        assert response.status_code == 403 and "n’a pas pu être vérifié" in response.text
    account = env.account(USER)
    assert account.disabled_at is None and account.spaces == ["accueil", "desta"]
    assert not account.must_change_password and not env.log.exists()


def test_unknown_account_is_404_and_strangers_go_to_login(env: Env) -> None:
    assert env.client.get("/admin/comptes/personne@nulle.part").status_code == 404
    stranger = TestClient(env.client.app, base_url=BASE)
    response = stranger.get("/admin/comptes", follow_redirects=False)
    assert response.status_code == 303 and "/admin/connexion" in response.headers["location"]


# ------------------------------------------------------------------------------- documents


def _upload(env: Env, name: str, data: bytes, place: str = "desta", title: str = "") -> str:
    form = {**env.form("/admin/documents"), "lieu": place, "titre": title}
    response = env.client.post(
        "/admin/documents", data=form, files={"fichier": (name, data, "application/pdf")}
    )
    assert response.status_code == 200
    return response.text


def _documents(env: Env) -> list[PortalDocument]:
    with Session(env.engine) as session:
        return list(session.exec(select(PortalDocument)).all())


def test_upload_to_a_folder_of_the_espace_documentaire(env: Env) -> None:
    page = _upload(env, "../../Guide\u202e final.pdf", PDF, "documentaire/fiches", "Guide")
    assert "Le document « Guide » est publié (Guide final.pdf)." in page
    [doc] = _documents(env)
    assert (doc.space, doc.folder, doc.filename) == ("documentaire", "fiches", "Guide final.pdf")
    assert doc.content_type == "application/pdf" and doc.uploaded_by == ADMIN
    listing = env.client.get("/admin/documents").text
    assert "Espace documentaire — Fiches pratiques du site (1)" in listing
    assert f"document_added  document={doc.id} place=documentaire/fiches" in env.log.read_text()


def test_upload_refuses_a_file_disguised_by_its_extension(env: Env) -> None:
    page = _upload(env, "rapport.pdf", b"MZ\x90\x00 an executable")
    assert "Ce type de fichier n’est pas accepté" in page
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w/>")
    page = _upload(env, "note.pdf", buffer.getvalue())  # a Word file named .pdf
    assert "ne correspond pas à son extension « .pdf »" in page
    page = _upload(env, "image.svg", b"<svg onload='alert(1)'/>")
    assert "n’est pas accepté" in page
    assert _documents(env) == []


def test_upload_refuses_a_file_over_the_size_limit(env: Env) -> None:
    just_over = PDF + b"0" * (20 * 1024 * 1024)  # read, then refused by its size
    page = _upload(env, "b.pdf", just_over)
    assert "Le fichier est trop volumineux (20 Mo) : 20 Mo au plus." in page
    far_over = PDF + b"0" * (21 * 1024 * 1024)  # refused by its announced length, unread
    form = {**env.form("/admin/documents"), "lieu": "desta"}
    response = env.client.post(
        "/admin/documents", data=form, files={"fichier": ("b.pdf", far_over)}
    )
    assert response.status_code == 413 and "Fichier trop volumineux" in response.text
    assert _documents(env) == []


def test_replace_and_remove_a_document(env: Env) -> None:
    _upload(env, "schema.pdf", PDF, "desta", "Schéma des flux")
    [doc] = _documents(env)
    path = f"/admin/documents/{doc.id}"
    page = env.client.get(path).text
    assert "Schéma des flux" in page and "Espace DESTA" in page
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    form = env.form(path)
    response = env.client.post(
        f"{path}/remplacer", data=form, files={"fichier": ("schema.png", png, "image/png")}
    )
    assert "remplacé par schema.png" in response.text
    [doc] = _documents(env)
    assert (doc.title, doc.content_type, doc.data) == ("Schéma des flux", "image/png", png)
    response = env.client.post(f"{path}/supprimer", data=env.form(path))
    assert "est retiré du portail" in response.text and _documents(env) == []
    log = env.log.read_text()
    assert f"document_replaced  document={doc.id} file=schema.png by={ADMIN}" in log
    assert f"document_removed  document={doc.id} file=schema.png by={ADMIN}" in log


def test_document_actions_refuse_a_wrong_csrf_token(env: Env) -> None:
    form = {"csrf_token": "faux", "cle": env.form("/admin/documents")["cle"], "lieu": "desta"}
    response = env.client.post("/admin/documents", data=form, files={"fichier": ("a.pdf", PDF)})
    assert response.status_code == 403
    assert _documents(env) == []
