"""`mailbot demo` against the embedded default: the local mail system (pymap + aiosmtpd), the
daemon on SQLite, and the tour played through them as `make run` + `mailbot demo` do."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import pytest
from mailservers import free_port
from typer.testing import CliRunner

from mailbot.cli import app, build_ingest
from mailbot.config import load_config
from mailbot.dev.embedded import start_devmail
from mailbot.loop.daemon import Daemon
from storage.db import make_engine
from storage.migrate import upgrade

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent


def test_demo_plays_the_whole_story_through_the_embedded_mail_system(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = Path(tempfile.mkdtemp(prefix="mailbot-demo-"))
    imap_port, smtp_port = free_port(), free_port()
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = (
        text.replace('url = "sqlite:///var/mailbot.db"', f'url = "sqlite:///{work}/mailbot.db"')
        .replace('file = "var/log/workflow.log"', f'file = "{work}/workflow.log"')
        .replace('root = "var/devmail"', f'root = "{work}/devmail"')
        .replace("port = 1143", f"port = {imap_port}")
        .replace("imap_port = 1143", f"imap_port = {imap_port}")
        .replace("port = 2525", f"port = {smtp_port}")
        .replace("smtp_port = 2525", f"smtp_port = {smtp_port}")
    )
    config_path = work / "config.toml"
    config_path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("MAILBOT_SECRET", "demo-secret-for-the-test-0123456789")
    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", "demo")
    config = load_config(config_path)
    assert config.mailbox.port == imap_port and config.smtp.port == smtp_port
    upgrade(config.database.url)
    engine = make_engine(config.database.url)
    devmail = start_devmail(config)
    daemon = Daemon(config, engine, build_ingest(config, engine))
    thread = threading.Thread(target=daemon.run_forever, daemon=True)
    thread.start()
    try:
        result = CliRunner().invoke(app, ["demo", "--config", str(config_path), "--timeout", "60"])
    finally:
        daemon.stop()
        thread.join(timeout=60)
        devmail.stop()
        engine.dispose()
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Votre question a bien été reçue" in out
    assert "Votre demande d'abonnement au portail a bien été reçue" in out
    assert out.count("Votre accès au portail") == 2
    assert "Réponse à votre question" in out
    assert "mot de passe temporaire : " in out and "(see the invitation mail)" not in out
    log = (work / "workflow.log").read_text(encoding="utf-8")
    assert "kind=auto_reply" in log
    assert "bounce_matched" in log
    assert "answer_published" in log
    assert os.path.isdir(work / "devmail")
