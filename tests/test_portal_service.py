"""`StubPortal` on both database engines: accounts, publications, search, subscribers, and
its idempotency keys. The stub commits its own transactions: the tests read the tables in short
sessions of their own (a session left open on SQLite would hold the write lock)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect
from sqlmodel import Session, col, select

from mailbot.portal import Frequency, Subscriber
from portal_stub.models import PortalAccount, PortalNotificationPreference, PortalPublication
from portal_stub.service import KeyReused, StubPortal, UnknownSpace
from portal_stub.testing import cheap_hasher, migrated_sqlite, postgres_database
from storage.db import make_engine, session_scope
from storage.migrate import alembic_config, upgrade
from workflows.core import PersonRequest

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(days=30)


def person(email: str, *spaces: str) -> PersonRequest:
    return PersonRequest(email, "Claire", "Martin", "Ville d’Exemple", tuple(spaces))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(migrated_sqlite(tmp_path / "portal.db"))
        yield eng
        eng.dispose()
    else:
        with postgres_database() as eng:
            yield eng


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    with session_scope(engine) as s:
        yield s


@pytest.fixture
def clock() -> list[datetime]:
    return [NOW]


@pytest.fixture
def portal(engine: Engine, clock: list[datetime]) -> StubPortal:
    return StubPortal(engine, "http://portail.test/", lambda: clock[0], hasher=cheap_hasher())


# ----------------------------------------------------------------------------- accounts


def test_new_account_gets_a_random_temporary_password_stored_as_argon2(
    portal: StubPortal, engine: Engine
) -> None:
    [cred] = portal.create_accounts(
        "ABO-2026-000001", [person("Claire.Martin@Ville.FR", "desta")], EXPIRES, "k1"
    )
    assert cred.email == "claire.martin@ville.fr"
    assert cred.created and cred.expires_at == EXPIRES
    assert cred.spaces == ("accueil", "desta")
    password = cred.temporary_password
    assert password is not None and len(password) == 14
    assert not set(password) & set("0Oo1lI") and not cred.reissued
    with reading(engine) as session:
        account = session.exec(select(PortalAccount)).one()
    assert account.password_hash.startswith("$argon2id$") and password not in account.password_hash
    assert account.must_change_password and account.created_for_request == "ABO-2026-000001"
    assert portal.check_login("CLAIRE.MARTIN@ville.fr", password)


def test_temporary_passwords_differ_between_people(portal: StubPortal) -> None:
    creds = portal.create_accounts(
        "ABO-2026-000001", [person(f"p{i}@ville.fr") for i in range(5)], EXPIRES, "k1"
    )
    assert len({c.temporary_password for c in creds}) == 5


def test_another_key_for_the_same_request_returns_the_same_accounts_without_password(
    portal: StubPortal, engine: Engine
) -> None:
    people = [person("a@ville.fr", "desta"), person("b@ville.fr", "antai")]
    first = portal.create_accounts("ABO-2026-000001", people, EXPIRES, "k1")
    again = portal.create_accounts("ABO-2026-000001", people, EXPIRES + timedelta(days=3), "k2")
    assert [(c.temporary_password, c.reissued) for c in again] == [(None, False)] * 2
    assert [(c.email, c.spaces, c.created, c.expires_at) for c in again] == [
        (c.email, c.spaces, c.created, c.expires_at) for c in first
    ]
    with reading(engine) as session:
        assert len(session.exec(select(PortalAccount)).all()) == 2
    assert portal.check_login("a@ville.fr", first[0].temporary_password or "")


def test_a_retry_with_the_same_key_reissues_the_temporary_passwords_it_cannot_return(
    portal: StubPortal, engine: Engine
) -> None:
    people = [person("a@ville.fr", "desta"), person("b@ville.fr")]
    first = portal.create_accounts("ABO-2026-000001", people, EXPIRES, "k1")
    retry = portal.create_accounts("ABO-2026-000001", people, EXPIRES, "k1")
    assert [(c.email, c.created, c.reissued, c.expires_at) for c in retry] == [
        ("a@ville.fr", True, True, EXPIRES),
        ("b@ville.fr", True, True, EXPIRES),
    ]
    for old, new in zip(first, retry, strict=True):
        assert new.temporary_password and new.temporary_password != old.temporary_password
        assert portal.check_login(new.email, new.temporary_password)
        assert not portal.check_login(old.email, old.temporary_password or "")
    with reading(engine) as session:
        assert len(session.exec(select(PortalAccount)).all()) == 2


def test_a_retry_never_resets_a_password_already_used_nor_an_older_account(
    portal: StubPortal, engine: Engine
) -> None:
    [older] = portal.create_accounts("ABO-2026-000001", [person("old@ville.fr")], EXPIRES, "k0")
    people = [person("a@ville.fr"), person("old@ville.fr", "antai")]
    [first, extended] = portal.create_accounts("ABO-2026-000002", people, EXPIRES, "k1")
    with session_scope(engine) as session:
        account = session.exec(select(PortalAccount).where(PortalAccount.email == "a@ville.fr"))
        used = account.one()
        used.last_login_at = NOW  # the first password reached its owner
        session.add(used)
    retry = portal.create_accounts("ABO-2026-000002", people, EXPIRES, "k1")
    assert [(c.temporary_password, c.reissued) for c in retry] == [(None, False)] * 2
    assert (extended.created, retry[1].created, retry[1].spaces) == (
        False,
        False,
        ("accueil", "antai"),
    )
    assert portal.check_login("a@ville.fr", first.temporary_password or "")
    assert portal.check_login("old@ville.fr", older.temporary_password or "")


def test_a_key_is_refused_for_another_kind_of_call_or_reference(portal: StubPortal) -> None:
    portal.create_accounts("ABO-2026-000001", [person("a@ville.fr")], EXPIRES, "k1")
    with pytest.raises(KeyReused):
        portal.create_accounts("ABO-2026-000002", [person("a@ville.fr")], EXPIRES, "k1")
    with pytest.raises(KeyReused):
        portal.publish("accueil", "Question ?", "Réponse", "ABO-2026-000001", "k1")


def test_existing_account_from_another_request_gets_its_spaces_extended_and_no_password(
    portal: StubPortal,
) -> None:
    [first] = portal.create_accounts(
        "ABO-2026-000001", [person("a@ville.fr", "desta")], EXPIRES, "k1"
    )
    [second] = portal.create_accounts(
        "ABO-2026-000002", [person("A@ville.fr", "antai")], EXPIRES, "k2"
    )
    assert (second.created, second.temporary_password, second.expires_at) == (False, None, None)
    assert second.spaces == ("accueil", "desta", "antai")
    assert portal.check_login("a@ville.fr", first.temporary_password or "")
    found = portal.find_accounts(["A@VILLE.FR", "nobody@ville.fr"])
    assert list(found) == ["a@ville.fr"]
    assert found["a@ville.fr"].spaces == ("accueil", "desta", "antai")
    assert found["a@ville.fr"].organisation == "Ville d’Exemple"


@pytest.mark.parametrize(
    ("password", "moment", "expected"),
    [
        ("right", NOW, True),
        ("wrong", NOW, False),
        ("right", EXPIRES - timedelta(seconds=1), True),
        ("right", EXPIRES, False),  # the temporary password no longer opens
    ],
)
def test_check_login(
    portal: StubPortal, clock: list[datetime], password: str, moment: datetime, expected: bool
) -> None:
    [cred] = portal.create_accounts("ABO-2026-000001", [person("a@ville.fr")], EXPIRES, "k1")
    clock[0] = moment
    typed = cred.temporary_password if password == "right" else "pas le bon mot de passe"
    assert portal.check_login("a@ville.fr", typed or "") is expected
    assert portal.check_login("inconnu@ville.fr", typed or "") is False


# ------------------------------------------------------------------------- publications


def test_publish_twice_makes_version_two_and_keeps_the_history(
    portal: StubPortal, engine: Engine
) -> None:
    url, version = portal.publish("desta", "Question ?", "Réponse 1", "Q-2026-000001", "p1")
    assert (url, version) == ("http://portail.test/espaces/desta/questions/Q-2026-000001", 1)
    url2, version2 = portal.publish(
        "antai", "Question précisée ?", "Réponse 2", "Q-2026-000001", "p2"
    )
    assert (url2, version2) == ("http://portail.test/espaces/antai/questions/Q-2026-000001", 2)
    with reading(engine) as session:
        stmt = select(PortalPublication).order_by(col(PortalPublication.version))
        rows = session.exec(stmt).all()
    assert [(r.version, r.space, r.answer, r.is_current) for r in rows] == [
        (1, "desta", "Réponse 1", False),
        (2, "antai", "Réponse 2", True),
    ]


def test_publish_makes_one_version_per_key(portal: StubPortal, engine: Engine) -> None:
    first = portal.publish("desta", "Question ?", "Réponse 1", "Q-2026-000001", "p1")
    second = portal.publish("antai", "Question ?", "Réponse 2", "Q-2026-000001", "p2")
    # Late retries of both: the versions they made, nothing new.
    assert portal.publish("desta", "Question ?", "Réponse 1", "Q-2026-000001", "p1") == first
    assert portal.publish("antai", "Question ?", "Réponse 2", "Q-2026-000001", "p2") == second
    assert [first[1], second[1]] == [1, 2]
    assert first[0].endswith("/espaces/desta/questions/Q-2026-000001")
    with reading(engine) as session:
        assert len(session.exec(select(PortalPublication)).all()) == 2


def test_withdrawn_answer_leaves_search_and_a_new_publication_brings_it_back(
    portal: StubPortal,
) -> None:
    portal.publish("accueil", "Quelle réglementation ?", "Le décret.", "Q-2026-000001", "p1")
    portal.withdraw("Q-2026-000001", "w1")
    assert portal.search("réglementation") == []
    portal.withdraw("Q-2026-000001", "w2")  # twice: nothing more happens
    again = portal.publish(
        "accueil", "Quelle réglementation ?", "Le décret.", "Q-2026-000001", "p2"
    )
    assert again[1] == 2
    portal.withdraw("Q-2026-000001", "w1")  # a late retry never withdraws the new version
    assert [h.case_ref for h in portal.search("réglementation")] == ["Q-2026-000001"]


def test_publish_in_an_unknown_space_is_refused(portal: StubPortal) -> None:
    with pytest.raises(UnknownSpace):
        portal.publish("cerema", "Question ?", "Réponse", "Q-2026-000001", "p1")


# ------------------------------------------------------------------------------- search


@pytest.fixture
def published(portal: StubPortal) -> StubPortal:
    portal.publish(
        "accueil",
        "Quelle réglementation s’applique au stationnement payant ?",
        "La loi MAPTAM et ses décrets d’application.",
        "Q-2026-000001",
        "p1",
    )
    portal.publish(
        "desta",
        "Quel est le format des interfaces avec la CCSP ?",
        "Les flux sont décrits dans le contenu fonctionnel des interfaces.",
        "Q-2026-000002",
        "p2",
    )
    portal.publish(
        "antai",
        "Comment l’ANTAI émet-elle les avis de paiement des FPS ?",
        "Après la collecte des données, l’ANTAI édite et envoie les avis ; la "
        "réglementation fixe les délais.",
        "Q-2026-000003",
        "p3",
    )
    return portal


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("reglementation", {"Q-2026-000001", "Q-2026-000003"}),  # accents folded
        ("RÉGLEMENTATION", {"Q-2026-000001", "Q-2026-000003"}),
        ("réglementations", {"Q-2026-000001", "Q-2026-000003"}),  # plural
        ("interface", {"Q-2026-000002"}),
        ("CCSP", {"Q-2026-000002"}),
        ("avis", {"Q-2026-000003"}),
        ("le la les de", set()),  # stop words only
        ("", set()),
        ("\"* NEAR( ) : - ^ ' OR AND", set()),  # no search syntax reaches the engine
    ],
)
def test_search_folds_accents_and_case(
    published: StubPortal, query: str, expected: set[str]
) -> None:
    hits = published.search(query, limit=10)
    assert {h.case_ref for h in hits} == expected


def test_search_puts_answers_with_every_word_first(published: StubPortal) -> None:
    hits = published.search("réglementation ANTAI paiement", limit=3)
    assert [h.case_ref for h in hits][:2] == ["Q-2026-000003", "Q-2026-000001"]
    assert hits[0].url == "http://portail.test/espaces/antai/questions/Q-2026-000003"
    assert hits[0].score >= hits[1].score


def test_search_is_limited_to_the_given_spaces_and_count(published: StubPortal) -> None:
    assert [h.case_ref for h in published.search("reglementation", spaces=["accueil"])] == [
        "Q-2026-000001"
    ]
    assert published.search("reglementation", spaces=[]) == []
    assert len(published.search("reglementation interfaces", limit=1)) == 1


def test_search_finds_only_the_current_version(published: StubPortal) -> None:
    published.publish(
        "desta", "Quel est le format des échanges ?", "XML, selon le schéma.", "Q-2026-000002", "p4"
    )
    assert published.search("interfaces CCSP") == []
    assert [h.question for h in published.search("echanges")] == [
        "Quel est le format des échanges ?"
    ]


# -------------------------------------------------------------------------- subscribers


def _activate(session: Session, email: str) -> PortalAccount:
    account = session.exec(select(PortalAccount).where(PortalAccount.email == email)).one()
    account.must_change_password = False
    session.add(account)
    session.flush()
    return account


def test_subscribers_are_activated_accounts_with_access_and_that_frequency(
    portal: StubPortal, engine: Engine
) -> None:
    portal.create_accounts(
        "ABO-2026-000001",
        [
            person("a@ville.fr", "desta"),
            person("b@ville.fr"),
            person("c@ville.fr", "desta"),
            person("never@ville.fr", "desta"),
        ],
        EXPIRES,
        "k1",
    )
    with session_scope(engine) as session:
        a = _activate(session, "a@ville.fr")
        _activate(session, "b@ville.fr")
        c = _activate(session, "c@ville.fr")
        pref = PortalNotificationPreference(
            account_id=a.id or 0, space="desta", frequency="immediate"
        )
        session.add(pref)
        session.add(
            PortalNotificationPreference(account_id=c.id or 0, space="desta", frequency="none")
        )

    def emails(space: str, frequency: Frequency) -> list[str]:
        return [s.email for s in portal.subscribers(space, frequency)]

    assert emails("desta", "immediate") == ["a@ville.fr"]
    assert emails("desta", "daily") == []  # c chose none, b has no access
    assert emails("accueil", "daily") == ["a@ville.fr", "b@ville.fr", "c@ville.fr"]
    assert emails("antai", "daily") == []


def test_a_subscriber_is_known_since_their_choice_or_their_account(
    portal: StubPortal, engine: Engine
) -> None:
    portal.create_accounts("ABO-2026-000001", [person("a@ville.fr", "desta")], EXPIRES, "k1")
    with session_scope(engine) as session:
        a = _activate(session, "a@ville.fr")
        created_at = a.created_at
        chosen_at = a.created_at + timedelta(days=3)
        session.add(
            PortalNotificationPreference(
                account_id=a.id or 0, space="desta", frequency="immediate", updated_at=chosen_at
            )
        )
    [immediate] = portal.subscribers("desta", "immediate")
    assert immediate == Subscriber("a@ville.fr", "Claire", "Martin", chosen_at)
    [daily] = portal.subscribers("accueil", "daily")
    assert daily.since == created_at


# ---------------------------------------------------------------------------- migration


def test_migration_creates_the_search_objects_and_downgrades_cleanly(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite":
        path = url.removeprefix("sqlite:///")
        names = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
        assert {"portal_publication_fts", "portal_publication_fts_ai"} <= names
    else:
        indexes = {i["name"] for i in inspect(engine).get_indexes("portal_publication")}
        assert "ix_portal_publication_fts" in indexes
    engine.dispose()
    command.downgrade(alembic_config(url), "0001_core")
    engine.dispose()
    tables = set(inspect(engine).get_table_names())
    assert not {t for t in tables if t.startswith("portal_")}
    engine.dispose()
    upgrade(url)
    engine.dispose()
    assert "portal_publication" in inspect(engine).get_table_names()
