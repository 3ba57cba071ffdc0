"""The admin's calls of `StubPortal` (accounts and documents) on both database engines:
search with the last login, disable/enable (the login check and sessions follow), spaces,
reset (the invitation mail through the portal's mailer, once per key), documents in spaces
and in the folders of the Espace documentaire, each once per key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from mailbot.portal import UnknownAccount, UnknownDocument
from portal_stub.models import PortalAccount, PortalDocument, PortalSession
from portal_stub.service import StubPortal
from portal_stub.sessions import open_session
from portal_stub.testing import RecordingMailer, cheap_hasher, migrated_sqlite, postgres_database
from storage.db import make_engine, session_scope
from workflows.core import PersonRequest

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(days=30)
ADMIN = "admin.stationnement@interieur.gouv.fr"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(migrated_sqlite(tmp_path / "portal.db"))
        yield eng
        eng.dispose()
    else:
        with postgres_database() as eng:
            yield eng


@pytest.fixture
def mailer() -> RecordingMailer:
    return RecordingMailer()


@pytest.fixture
def portal(engine: Engine, mailer: RecordingMailer) -> StubPortal:
    return StubPortal(
        engine, "http://portail.test/", lambda: NOW, hasher=cheap_hasher(), mailer=mailer
    )


def seed(portal: StubPortal) -> str:
    people = [
        PersonRequest("claire.martin@ville.fr", "Claire", "Martin", "Ville d’Évry", ("desta",)),
        PersonRequest("paul.durand@presta.fr", "Paul", "Durand", "Presta SA", ()),
    ]
    creds = portal.create_accounts("ABO-2026-000001", people, EXPIRES, "k-seed")
    password = creds[0].temporary_password
    assert password is not None
    return password


def test_list_and_search_accounts_with_spaces_and_last_login(portal: StubPortal) -> None:
    seed(portal)
    emails = [a.email for a in portal.list_accounts()]
    assert emails == ["claire.martin@ville.fr", "paul.durand@presta.fr"]
    [found] = portal.list_accounts("EVRY")  # accents and case folded, organisation searched
    assert found.email == "claire.martin@ville.fr"
    assert found.spaces == ("accueil", "desta") and found.invitation_pending
    assert found.last_login_at is None and found.disabled_at is None
    assert portal.list_accounts("durand")[0].organisation == "Presta SA"
    assert portal.list_accounts("personne") == []
    assert portal.account("Paul.Durand@presta.fr") is not None
    assert portal.account("inconnu@x.fr") is None


def test_disable_refuses_login_ends_sessions_and_enable_restores(
    portal: StubPortal, engine: Engine
) -> None:
    password = seed(portal)
    with session_scope(engine) as session:
        acct = session.exec(
            select(PortalAccount).where(PortalAccount.email == "claire.martin@ville.fr")
        ).one()
        assert acct.id is not None
        open_session(session, acct.id, NOW)
    info = portal.set_account_disabled("claire.martin@ville.fr", True, "d1", ADMIN)
    assert info.disabled_at == NOW
    assert not portal.check_login("claire.martin@ville.fr", password)
    with session_scope(engine) as session:
        assert session.exec(select(PortalSession)).all() == []
    portal.set_account_disabled("claire.martin@ville.fr", True, "d1", ADMIN)  # retry: same
    info = portal.set_account_disabled("claire.martin@ville.fr", False, "e1", ADMIN)
    assert info.disabled_at is None
    assert portal.check_login("claire.martin@ville.fr", password)
    with pytest.raises(UnknownAccount):
        portal.set_account_disabled("inconnu@x.fr", True, "d2", ADMIN)


def test_spaces_always_keep_accueil_and_refuse_unknown(portal: StubPortal) -> None:
    seed(portal)
    info = portal.set_account_spaces("paul.durand@presta.fr", ["antai", "desta"], "s1", ADMIN)
    assert info.spaces == ("accueil", "desta", "antai")
    info = portal.set_account_spaces("paul.durand@presta.fr", [], "s2", ADMIN)
    assert info.spaces == ("accueil",)
    with pytest.raises(ValueError, match="unknown space"):
        portal.set_account_spaces("paul.durand@presta.fr", ["mairie"], "s3", ADMIN)


def test_reset_sends_the_invitation_again_once_per_key(
    portal: StubPortal, mailer: RecordingMailer
) -> None:
    old = seed(portal)
    later = NOW + timedelta(days=15)
    info = portal.reset_account("claire.martin@ville.fr", later, "r1", ADMIN)
    assert info.invitation_pending and info.temp_password_expires_at == later
    [mail] = mailer.mails
    assert mail.template == "invitation" and mail.to == ("claire.martin@ville.fr",)
    assert mail.sensitive and mail.context["spaces_label"] == "Accueil et DESTA"
    assert mail.context["login_url"] == "http://portail.test/connexion"
    new = mail.context["password"]
    assert new != old and portal.check_login("claire.martin@ville.fr", new)
    assert not portal.check_login("claire.martin@ville.fr", old)
    portal.reset_account("claire.martin@ville.fr", later, "r1", ADMIN)  # a retry
    assert len(mailer.mails) == 1 and portal.check_login("claire.martin@ville.fr", new)


def test_documents_in_spaces_and_folders(portal: StubPortal, engine: Engine) -> None:
    places = [p.slug for p in portal.document_places()]
    assert places == ["accueil", "desta", "antai", "documentaire/fiches", "documentaire/modeles"]
    labels = {p.slug: p.label for p in portal.document_places()}
    assert labels["documentaire/fiches"] == "Espace documentaire — Fiches pratiques du site"
    doc = portal.add_document(
        "documentaire/fiches", "Guide", "guide.pdf", "application/pdf", b"%PDF-1", "a1", ADMIN
    )
    again = portal.add_document(
        "documentaire/fiches", "Guide", "guide.pdf", "application/pdf", b"%PDF-1", "a1", ADMIN
    )
    assert again.id == doc.id and doc.url == f"http://portail.test/documents/fichiers/{doc.id}"
    other = portal.add_document("desta", "", "schema.png", "image/png", b"\x89PNG", "a2", ADMIN)
    assert other.title == "schema.png" and other.url.endswith(
        f"/espaces/desta/documents/{other.id}"
    )
    assert [d.id for d in portal.list_documents("documentaire/fiches")] == [doc.id]
    assert [d.id for d in portal.list_documents("desta")] == [other.id]
    assert len(portal.list_documents()) == 2
    new = portal.replace_document(
        doc.id, "guide-v2.pdf", "application/pdf", b"%PDF-22", "p1", ADMIN
    )
    assert (new.id, new.title, new.filename, new.size) == (doc.id, "Guide", "guide-v2.pdf", 7)
    with session_scope(engine) as session:
        stored = session.get(PortalDocument, doc.id)
        assert stored is not None and stored.data == b"%PDF-22" and stored.uploaded_by == ADMIN
    portal.remove_document(doc.id, "x1", ADMIN)
    portal.remove_document(doc.id, "x1", ADMIN)  # idempotent
    assert portal.list_documents("documentaire/fiches") == []
    with pytest.raises(UnknownDocument):
        portal.replace_document(doc.id, "a.pdf", "application/pdf", b"%PDF", "p2", ADMIN)
    with pytest.raises(ValueError, match="unknown place"):
        portal.list_documents("documentaire/inconnu")
