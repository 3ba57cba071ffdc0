"""`mailbot portal admin add` and `mailbot portal document add`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from portal_stub.cli import portal_app
from portal_stub.models import PortalAccount, PortalDocument
from portal_stub.service import StubPortal
from portal_stub.testing import migrated_sqlite
from storage.db import make_engine

CONFIG = """
[instance]
domain = "mailbot.test"
generic_address = "decentralisation-stationnement@demo.test"
[portal]
base_url = "http://portail.test"
[reviewers.groups.abonnements]
members = ["r@demo.test"]
handles = ["subscription", "question:unclassified"]
[admins]
addresses = ["admin@demo.test"]
[mailbox]
host = "127.0.0.1"
port = 1143
tls = "plain"
user = "bot@demo.test"
password_env = "MAILBOT_IMAP_PASSWORD"
[smtp]
host = "127.0.0.1"
port = 2525
tls = "plain"
[database]
url = "{url}"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(url=migrated_sqlite(tmp_path / "portal.db")), encoding="utf-8")
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(portal_app, list(args))
    return result.exit_code, result.output


def test_admin_add_prints_a_working_temporary_password_once(
    config_file: Path, tmp_path: Path
) -> None:
    code, output = run("admin", "add", "Admin@Interieur.gouv.fr", "--config", str(config_file))
    assert code == 0, output
    password = re.search(r"Mot de passe provisoire \(affiché une seule fois\) : (\S+)", output)
    assert password
    engine = make_engine(f"sqlite:///{tmp_path / 'portal.db'}")
    with Session(engine) as session:
        account = session.exec(select(PortalAccount)).one()
        assert (account.email, account.is_admin, account.must_change_password) == (
            "admin@interieur.gouv.fr",
            True,
            True,
        )
    assert StubPortal(engine, "http://portail.test").check_login(account.email, password.group(1))
    code, again = run("admin", "add", "admin@interieur.gouv.fr", "--config", str(config_file))
    assert code == 0 and "Mot de passe provisoire" not in again and "existait" in again


def test_document_add_stores_the_file_in_its_space(config_file: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "feuille-de-route.pdf"
    pdf.write_bytes(b"%PDF-1.4 test")
    code, output = run(
        "document",
        "add",
        "desta",
        str(pdf),
        "--title",
        "Feuille de route",
        "--config",
        str(config_file),
    )
    assert code == 0, output
    engine = make_engine(f"sqlite:///{tmp_path / 'portal.db'}")
    with Session(engine) as session:
        doc = session.exec(select(PortalDocument)).one()
        assert (doc.space, doc.title, doc.filename, doc.content_type, doc.size, doc.data) == (
            "desta",
            "Feuille de route",
            "feuille-de-route.pdf",
            "application/pdf",
            13,
            b"%PDF-1.4 test",
        )


def test_document_add_refuses_an_unknown_space(config_file: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF")
    code, output = run(
        "document", "add", "cerema", str(pdf), "--title", "X", "--config", str(config_file)
    )
    assert code == 2 and "espace inconnu" in output


def test_commands_refuse_a_database_that_is_not_migrated(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(url=f"sqlite:///{tmp_path / 'empty.db'}"), encoding="utf-8")
    code, output = run("admin", "add", "a@b.fr", "--config", str(path))
    assert code == 2 and "mailbot db upgrade" in output
