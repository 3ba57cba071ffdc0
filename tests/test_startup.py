"""Start-up costs (issue 13): the schema check reads the head without Alembic, and the
one-shot commands and the daemon do not load what they do not use. Each test runs a fresh
interpreter and looks at `sys.modules`, so it fails when a heavy import comes back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
import typer
from pgutil import postgres_database
from typer.testing import CliRunner

from mailbot import commands
from mailbot.cli import app
from mailbot.commands import LAZY
from mailbot.mail import compose
from portal_stub.security import DEFAULT_HASHER, _dummy_hash, verify_password
from storage.db import make_engine
from storage.migrate import alembic_head, upgrade
from storage.schema import SchemaOutdated, check_schema, current_revision, scanned_head

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/m.db"
    else:
        with postgres_database() as url:
            yield url


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running `code`."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_the_scanned_head_is_alembics_head() -> None:
    assert scanned_head() == alembic_head()


def test_a_branch_or_an_unreadable_script_leaves_the_head_to_alembic(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text('revision = "a"\ndown_revision = None\n', encoding="utf-8")
    (tmp_path / "b.py").write_text('revision = "b"\ndown_revision = "a"\n', encoding="utf-8")
    assert scanned_head(tmp_path) == "b"
    (tmp_path / "c.py").write_text('revision = "c"\ndown_revision = "a"\n', encoding="utf-8")
    assert scanned_head(tmp_path) is None  # two heads
    (tmp_path / "m.py").write_text('revision = "m"\ndown_revision = ("b", "c")\n', "utf-8")
    assert scanned_head(tmp_path) == "m"  # a merge
    (tmp_path / "x.py").write_text('revision = "x"\ndown_revision = PREVIOUS\n', "utf-8")
    assert scanned_head(tmp_path) is None


def test_the_check_follows_the_database_revision(db_url: str) -> None:
    engine = make_engine(db_url)
    assert current_revision(engine) is None
    with pytest.raises(SchemaOutdated, match="none \\(empty database\\)"):
        check_schema(engine)
    upgrade(db_url, "0001_core")
    assert current_revision(engine) == "0001_core"
    with pytest.raises(SchemaOutdated, match="at revision 0001_core"):
        check_schema(engine)
    upgrade(db_url)
    assert current_revision(engine) == alembic_head()
    check_schema(engine)
    engine.dispose()


def test_the_schema_check_does_not_load_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    upgrade(url)
    loaded = _modules_after(
        "from storage.db import make_engine\n"
        "from storage.schema import check_schema\n"
        f"check_schema(make_engine({url!r}))"
    )
    assert "storage.schema" in loaded
    assert not {m for m in loaded if m.split(".")[0] in ("alembic", "mako")}


def _sqlite_config(tmp_path: Path) -> Path:
    db = tmp_path / "m.db"
    config = (
        (ROOT / "config.toml")
        .read_text(encoding="utf-8")
        .replace('url = "sqlite:///var/mailbot.db"', f'url = "sqlite:///{db}"')
    )
    (tmp_path / "config.toml").write_text(config, encoding="utf-8")
    upgrade(f"sqlite:///{db}")
    return tmp_path / "config.toml"


HEAVY = ("alembic", "mako", "psycopg", "openpyxl", "sqlalchemy.dialects.postgresql")


def _heavy(loaded: set[str]) -> set[str]:
    return {m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY)}


def test_status_on_sqlite_loads_neither_alembic_nor_psycopg_nor_sqlalchemy(tmp_path: Path) -> None:
    config = _sqlite_config(tmp_path)
    loaded = _modules_after(
        "from typer.testing import CliRunner\n"
        "from mailbot.cli import app\n"
        f"result = CliRunner().invoke(app, ['status', '--json', '-c', {str(config)!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'outbox_backlog' in result.output\n"
    )
    assert "mailbot.loop.status_report" in loaded
    assert _heavy(loaded) == set()
    # a SQLite file is read with the standard library's sqlite3: no SQLAlchemy at all
    assert {"sqlmodel", "storage.models", "sqlalchemy"}.isdisjoint(loaded)


def test_the_daemon_starts_without_what_only_some_mail_needs(tmp_path: Path) -> None:
    """Everything `mailbot run` imports before its first fetch, on SQLite: no Alembic, no
    psycopg nor SQLAlchemy's PostgreSQL dialect, no openpyxl (only the workers read
    spreadsheets; the daemon writes one when a blank annex or a copy is attached), and no
    argon2 hash computed at import."""
    config = _sqlite_config(tmp_path)
    loaded = _modules_after(
        "import argon2\n"
        "hashed = []\n"
        "original = argon2.PasswordHasher.hash\n"
        "argon2.PasswordHasher.hash = lambda self, *a, **k: hashed.append(1) or original(self, *a, **k)\n"
        "from mailbot.cli import _engine, build_ingest\n"
        "from mailbot.config import load_config\n"
        "from mailbot.loop.daemon import Daemon\n"
        "from mailbot.loop.lease import single_instance_lock\n"
        "import os\n"
        "os.environ.setdefault('MAILBOT_SECRET', 'a secret of the test, long enough')\n"
        f"config = load_config({str(config)!r})\n"
        "engine = _engine(config)\n"
        "lock = single_instance_lock(config.database.url)\n"
        "daemon = Daemon(config, engine, build_ingest(config, engine))\n"
        "assert hashed == [], hashed\n"
    )
    assert {"mailbot.loop.daemon", "mailbot.wiring", "portal_stub.security"} <= loaded
    assert _heavy(loaded) == set()


def test_an_unknown_identifier_is_still_checked_against_a_hash() -> None:
    assert not verify_password(DEFAULT_HASHER, None, "n'importe quoi")
    assert _dummy_hash().startswith("$argon2id$")
    assert not verify_password(DEFAULT_HASHER, DEFAULT_HASHER.hash("autre"), "n'importe quoi")


def test_a_template_is_compiled_once_and_not_looked_at_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Per-mail cost (issue 13): the next mail of a template reads no file, not even its
    modification time."""
    names = ["quarantine_alert/subject.txt", "quarantine_alert/body.txt"]
    first = [compose.environment().get_template(n) for n in names]
    assert compose.has_html("quarantine_alert")

    def no_disk(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a template file was looked at again")

    monkeypatch.setattr(os.path, "getmtime", no_disk)
    monkeypatch.setattr(os, "stat", no_disk)
    assert [compose.environment().get_template(n) for n in names] == first
    assert compose.has_html("quarantine_alert")


def test_inspect_loads_no_database_layer_and_no_other_command_group() -> None:
    mail = ROOT / "tests" / "fixtures" / "mail" / "apple_mail_intent.eml"
    loaded = _modules_after(
        "from typer.testing import CliRunner\n"
        "from mailbot.cli import app\n"
        f"result = CliRunner().invoke(app, ['inspect', {str(mail)!r}, '--json'])\n"
        "assert result.exit_code == 0, result.output\n"
    )
    assert "mailbot.inspect" in loaded
    assert _heavy(loaded) == set()
    assert {"sqlalchemy", "sqlmodel", "mailbot.jobs_cli", "jinja2"}.isdisjoint(loaded)
    # A mail without an annex: neither the readers nor the rules' validators are loaded.
    assert {"mailbot.annex.reader", "phonenumbers", "email_validator"}.isdisjoint(loaded)
    assert {"workflows.text.triage", "snowballstemmer"}.isdisjoint(loaded)  # nothing triaged


def test_inspect_of_a_mail_with_an_annex_still_reads_and_validates_it(tmp_path: Path) -> None:
    """The annex reader is imported when a mail has an annex: the people are read and their
    addresses and phone numbers normalised (the validators are imported when first used)."""
    msg = EmailMessage()
    msg["From"] = "demandeur@mairie.fr"
    msg["Subject"] = "Demande d'abonnement"
    msg.set_content("Ci-joint l'annexe.")
    annex_bytes = (ROOT / "tests" / "fixtures" / "annex" / "libreoffice.xlsx").read_bytes()
    msg.add_attachment(annex_bytes, maintype="application", subtype="octet-stream",
                       filename="annexe.xlsx")  # fmt: skip
    mail = tmp_path / "abonnement.eml"
    mail.write_bytes(msg.as_bytes())
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "mailbot", "inspect", str(mail), "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    annex = json.loads(out.stdout)["annex"]
    assert annex["error"] is None and annex["errors"] == []
    assert annex["rows"][0]["email"] == "jean.dupont@exempleville.fr"
    assert annex["rows"][0]["phone"] == "+33199001234"  # E.164, by phonenumbers


def test_help_lists_the_lazy_commands_without_importing_them() -> None:
    loaded = _modules_after(
        "from typer.testing import CliRunner\n"
        "from mailbot.cli import app\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'Efface les données personnelles' in result.output, result.output\n"
        "assert 'Database, IMAP, SMTP, last poll' in result.output, result.output\n"
    )
    assert "mailbot.commands" in loaded
    assert _heavy(loaded) == set()
    assert {
        "sqlalchemy",
        "starlette",
        "portal_stub",
        "pydantic",
        "mailbot.desk.cli_reports",
        "mailbot.cli_admin",
        "mailbot.annex.cli",
        "mailbot.dev.demo",
        "mailbot.jobs_cli",
    }.isdisjoint(loaded)


@pytest.mark.parametrize("rich", ["1", "0"])
def test_help_reads_as_when_every_command_is_imported(
    rich: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing is the one typer writes from the imported commands (rich or plain)."""
    monkeypatch.setattr(typer.core, "HAS_RICH", rich == "1")
    listed = CliRunner().invoke(app, ["--help"])
    assert listed.exit_code == 0, listed.output
    monkeypatch.setattr(commands, "_listed", commands._load)  # the imported commands
    loaded = CliRunner().invoke(app, ["--help"])
    assert listed.output == loaded.output
    for name in LAZY:
        assert f"{name} " in listed.output


def test_health_loads_neither_sqlalchemy_nor_delivery(tmp_path: Path) -> None:
    """`mailbot health` reads a SQLite file's figures with `sqlite3` and greets the relay with
    the SMTP client alone: no SQLAlchemy, no outbox, no mail composition (Jinja2)."""
    config = _sqlite_config(tmp_path)
    loaded = _modules_after(
        "import os\n"
        "os.environ.update(MAILBOT_SECRET='a secret of the test, long enough',\n"
        "                  MAILBOT_IMAP_PASSWORD='x')\n"
        "from typer.testing import CliRunner\n"
        "from mailbot.cli import app\n"
        f"result = CliRunner().invoke(app, ['health', '-c', {str(config)!r}])\n"
        "assert 'base de données     sqlite, schéma à jour' in result.output, result.output\n"
        "assert 'quarantaine         vide' in result.output, result.output\n"
        "assert 'instances           aucune instance' in result.output, result.output\n"
    )
    assert {"mailbot.loop.health", "aiosmtplib", "imapclient"} <= loaded
    assert _heavy(loaded) == set()
    assert {
        "sqlmodel",
        "storage.models",
        "sqlalchemy",
        "jinja2",
        "mailbot.loop.delivery",
        "mailbot.mail.compose",
    }.isdisjoint(loaded)


def test_each_command_is_listed_with_its_help_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A docstring's line breaks do not break the listing's lines (typer's rich listing keeps
    them): on a wide terminal, a command's first paragraph reads on one line."""
    monkeypatch.setattr(typer.core, "HAS_RICH", True)
    listed = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "220"})
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    health = next(line for line in lines if line.startswith("│ health "))
    assert "1 degraded, 2 down, 3 configuration or environment unusable." in health
    export = next(line for line in lines if line.startswith("│ export "))
    assert "publiées d’une période dans un classeur xlsx" in export
    group = CliRunner().invoke(app, ["annex", "--help"], env={"COLUMNS": "220"})  # a group's own
    parse = next(line for line in group.output.splitlines() if line.startswith("│ parse "))
    assert "1 : erreurs de lignes ; 2 : tableau inutilisable." in parse
