"""`mailbot health` and `/healthz` against the real servers, each check failing in turn: the exit
codes of a monitoring plugin (0 ok, 1 degraded, 2 down, 3 unusable configuration), and
`instance.env_file` read by every command."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from harness import SECRET, Bot, compose, make_bot, to_toml
from mailservers import MailEnv
from sqlmodel import Session, select
from starlette.testclient import TestClient

from mailbot.config import load_config
from mailbot.desk.healthz import create_healthz_app
from mailbot.loop.lease import ACTIVE, STANDBY
from mailbot.wiring import portal_server_app
from storage.models import InboundMessage, InstanceLease, OutboxMail

pytestmark = pytest.mark.integration


def new_bot(env: MailEnv, **overrides: object) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-health-"))
    # A poll interval long enough that the subprocess's start-up never makes the poll "old".
    overrides.setdefault("mailbox.poll_interval_seconds", 60)
    return make_bot(env, f"sqlite:///{workdir}/mailbot.db", workdir, **overrides)


def health(bot: Bot, **extra_env: str) -> tuple[int, dict[str, Any]]:
    result = bot.cli("health", "--json", **extra_env)
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout)


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in report["checks"]}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def small_limits(bot: Bot) -> Any:
    return bot.config.limits.model_copy(update={"max_message_bytes": 4000})


def ask(env: MailEnv) -> None:
    alice = env.requesters[0]
    msg = compose(alice.address, env.bot.address, "Flux", "Bonjour, où est le schéma des flux ?")
    env.send(alice.address, [env.bot.address], msg.as_bytes())


def test_all_well_after_a_poll_exits_0(mail_env: MailEnv) -> None:
    bot = new_bot(mail_env)
    ask(mail_env)
    bot.run_once()
    code, report = health(bot)
    assert code == 0, report
    assert report["status"] == "ok"
    assert statuses(report) == {
        "database": "ok",
        "last_poll": "ok",
        "outbox": "ok",
        "quarantine": "ok",
        "instances": "ok",
        "imap": "ok",
        "smtp": "ok",
    }
    text = bot.cli("health")
    assert text.returncode == 0
    assert text.stdout.startswith("État de mailbot : OK")


def test_never_polled_is_degraded(mail_env: MailEnv) -> None:
    code, report = health(new_bot(mail_env))
    assert code == 1
    assert statuses(report)["last_poll"] == "degraded"


def test_old_poll_quarantine_and_old_outbox_each_degrade(mail_env: MailEnv) -> None:
    bot = new_bot(mail_env)
    bot.run_once()
    assert health(bot)[0] == 0
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    with Session(bot.engine) as s:
        poll = s.get(InstanceLease, "poll")
        assert poll is not None
        poll.heartbeat_at = long_ago
        s.add(poll)
        s.commit()
    code, report = health(bot)
    assert (code, statuses(report)["last_poll"]) == (1, "degraded")

    # A mail over the size limit is quarantined by the real path (and the poll is fresh).
    big = compose("x@y.test", mail_env.bot.address, "Gros", "Bonjour\n" + "x" * 5000)
    mail_env.send("x@y.test", [mail_env.bot.address], big.as_bytes())
    Bot(
        bot.env,
        bot.config.model_copy(update={"limits": small_limits(bot)}),
        bot.config_path,
        bot.engine,
        bot.workdir,
    ).run_once()
    code, report = health(bot)
    assert (code, statuses(report)["quarantine"]) == (1, "degraded")
    assert "1 courriel" in next(c for c in report["checks"] if c["name"] == "quarantine")["detail"]
    assert "x@y.test" not in json.dumps(report)  # no personal data in the report

    with Session(bot.engine) as s:
        for row in s.exec(select(InboundMessage)).all():
            row.fate = "processed"  # reviewed by an admin, say
            s.add(row)
        s.add(
            OutboxMail(
                idempotency_key="health-old",
                template="test",
                recipients=["someone@example.test"],
                envelope_from=mail_env.bot.address,
                bounce_token="health-old",
                message_id="<old@test>",
                raw=b"Subject: x\r\n\r\nx",
                created_at=long_ago,
            )
        )
        s.commit()
    code, report = health(bot)
    assert (code, statuses(report)["outbox"]) == (1, "degraded")


def test_standby_without_live_active_instance_is_degraded(mail_env: MailEnv) -> None:
    bot = new_bot(mail_env)
    bot.run_once()
    now = datetime.now(UTC)
    with Session(bot.engine) as s:
        active = s.get(InstanceLease, ACTIVE)
        assert active is not None
        active.expires_at = now - timedelta(minutes=5)
        s.add(active)
        s.add(
            InstanceLease(
                name=f"{STANDBY}other:1:ab",
                holder="other:1:ab",
                heartbeat_at=now,
                expires_at=now + timedelta(minutes=5),
            )
        )
        s.commit()
    code, report = health(bot)
    assert (code, statuses(report)["instances"]) == (1, "degraded")


def test_imap_down_is_down(mail_env: MailEnv) -> None:
    bot = new_bot(mail_env, **{"mailbox.port": closed_port()})
    code, report = health(bot)
    assert code == 2
    assert statuses(report)["imap"] == "down"
    assert statuses(report)["smtp"] == "ok"


def test_wrong_imap_password_is_down(mail_env: MailEnv) -> None:
    bot = new_bot(mail_env)
    code, report = health(bot, MAILBOT_TEST_IMAP_PASSWORD="not-the-password")
    assert (code, statuses(report)["imap"]) == (2, "down")


def test_smtp_down_is_down(mail_env: MailEnv) -> None:
    bot = new_bot(mail_env, **{"smtp.port": closed_port()})
    code, report = health(bot)
    assert (code, statuses(report)["smtp"]) == (2, "down")
    assert statuses(report)["imap"] == "ok"


def test_database_down_is_down(mail_env: MailEnv) -> None:
    bot = new_bot(
        mail_env, **{"database.url": f"postgresql+psycopg://x@127.0.0.1:{closed_port()}/x"}
    )
    code, report = health(bot)
    assert code == 2
    assert statuses(report)["database"] == "down"
    assert "imap" in statuses(report)  # the other checks still run


def test_missing_secret_is_unusable_and_names_the_variable(mail_env: MailEnv) -> None:
    bot = new_bot(mail_env)
    env = bot.subprocess_env()
    del env["MAILBOT_TEST_IMAP_PASSWORD"]
    run = subprocess.run(  # noqa: S603 - our own command, fixed arguments
        [sys.executable, "-m", "mailbot", "health", "--config", str(bot.config_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 3
    assert "MAILBOT_TEST_IMAP_PASSWORD" in run.stdout
    assert "env_file" in run.stdout


def test_env_file_is_read_and_the_environment_wins(
    mail_env: MailEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = new_bot(mail_env)
    data = load_config(bot.config_path).model_dump(exclude_none=True)
    data["instance"]["env_file"] = "secrets.env"
    bot.config_path.write_text(to_toml(data), encoding="utf-8")
    (bot.workdir / "secrets.env").write_text(
        "# mailbot's secrets\n"
        f"MAILBOT_TEST_SECRET={SECRET}\n"
        f'export MAILBOT_TEST_IMAP_PASSWORD="{mail_env.bot.password}"\n'
        "MAILBOT_FROM_FILE_ONLY=yes\n",
        encoding="utf-8",
    )
    monkeypatch.delenv("MAILBOT_TEST_SECRET")
    monkeypatch.delenv("MAILBOT_TEST_IMAP_PASSWORD")
    monkeypatch.setenv("MAILBOT_FROM_FILE_ONLY", "from-environment")
    config = load_config(bot.config_path)
    assert config.secret() == SECRET.encode()
    assert config.mailbox_password() == mail_env.bot.password
    assert os.environ["MAILBOT_FROM_FILE_ONLY"] == "from-environment"


def test_healthz_serves_the_same_report_without_login(
    mail_env: MailEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILBOT_PORTAL_SECRET", "portal-secret-for-the-health-test")
    bot = new_bot(mail_env)
    bot.run_once()
    client = TestClient(portal_server_app(bot.config, bot.engine))  # what `mailbot run` serves
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["status"] == "ok"
    assert statuses(body)["imap"] == "ok"
    assert mail_env.bot.address not in response.text

    down = new_bot(mail_env, **{"smtp.port": closed_port()})
    response = TestClient(create_healthz_app(down.config, down.engine)).get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "down"
