"""Running mailbot against the test servers: a configuration pointing at Dovecot, the SMTP
relay and a database (SQLite file or a fresh PostgreSQL database), and helpers to drive the
daemon in-process or as a real `mailbot` subprocess."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from pathlib import Path
from typing import Any

from mailservers import MailEnv
from openpyxl import load_workbook
from pgutil import postgres_database  # noqa: F401  (re-exported for the tests)
from sqlalchemy import Engine

from mailbot.annex.template import build_template
from mailbot.config import Config, parse_config
from mailbot.loop.daemon import Daemon
from mailbot.loop.ingest import Ingest
from mailbot.wiring import build_ingest
from storage.db import make_engine
from storage.migrate import upgrade

SECRET = "test-secret-0123456789abcdef"
INSTANCE_DOMAIN = "mailbot.example.test"


def shipped_config() -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    return tomllib.loads((root / "config.toml").read_text(encoding="utf-8"))


def config_data(env: MailEnv, db_url: str, workdir: Path, **overrides: Any) -> dict[str, Any]:
    groups = {
        name: {
            "members": [acct.address],
            "handles": {
                "abonnements": ["subscription"],
                "desta": ["question:desta"],
                "antai": ["question:antai"],
                "accueil": ["question:accueil", "question:unclassified"],
            }[name],
        }
        for name, acct in env.reviewers.items()
    }
    data: dict[str, Any] = {
        "instance": {
            "domain": INSTANCE_DOMAIN,
            "generic_address": env.bot.address,
            "secret_env": "MAILBOT_TEST_SECRET",
        },
        "portal": {"base_url": "http://127.0.0.1:8999"},
        "reviewers": {"groups": groups, "any_member_may_decide": True},
        "admins": {"addresses": [env.admin.address]},
        "mailbox": {
            "host": "127.0.0.1",
            "port": env.dovecot.imap_port,
            "tls": "plain",
            "user": env.bot.address,
            "password_env": "MAILBOT_TEST_IMAP_PASSWORD",
            "idle_renew_seconds": 60,
            "poll_interval_seconds": 1,
            "reconnect_max_seconds": 2,
        },
        "smtp": {
            "host": "127.0.0.1",
            "port": env.smtp.port,
            "tls": "plain",
            "retry_base_seconds": 1,
            "max_attempts": 3,
        },
        "database": {"url": db_url},
        "log": {"file": str(workdir / "workflow.log")},
        "devmail": {"enabled": False},
        "limits": {"annex_allow_test_domains": True},
        # the shipped triage rules, so routing in tests is what users get; answers go out at
        # once unless a test is about the hold (tests/test_hold_e2e.py sets a delay)
        "questions": {**shipped_config()["questions"], "publish_delay_minutes": 0},
    }
    for dotted, value in overrides.items():
        node = data
        *path, last = dotted.split(".")
        for key in path:
            node = node.setdefault(key, {})
        node[last] = value
    return data


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(value)


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """Enough TOML for a configuration: nested tables of scalars and lists (arrays of tables
    written inline)."""
    lines: list[str] = []
    tables = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            items = ", ".join(
                "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in item.items()) + "}"
                for item in value
            )
            lines.append(f"{key} = [{items}]")
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    out = ""
    if prefix and lines:
        out += f"[{prefix}]\n"
    out += "".join(line + "\n" for line in lines)
    for key, value in tables:
        out += to_toml(value, f"{prefix}.{key}" if prefix else key)
    return out


@dataclass
class Bot:
    """mailbot configured against the test servers."""

    env: MailEnv
    config: Config
    config_path: Path
    engine: Engine
    workdir: Path
    ingest: Ingest = field(init=False)
    daemon: Daemon = field(init=False)

    def __post_init__(self) -> None:
        self.ingest = build_ingest(self.config, self.engine, SECRET.encode())
        self.daemon = Daemon(self.config, self.engine, self.ingest)

    def run_once(self) -> dict[str, int]:
        return self.daemon.run_once()

    def log_lines(self) -> list[str]:
        path = Path(self.config.log.file)
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []

    def subprocess_env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(MAILBOT_TEST_SECRET=SECRET, MAILBOT_TEST_IMAP_PASSWORD=self.env.bot.password)
        env.update(extra)  # a test may override either
        return env

    def cli(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        """Run the real `mailbot` command with this configuration."""
        cmd = [sys.executable, "-m", "mailbot", *args, "--config", str(self.config_path)]
        return subprocess.run(  # noqa: S603 - our own command, fixed arguments
            cmd,
            env=self.subprocess_env(**extra_env),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.workdir,
        )


def submit(env: MailEnv, msg: EmailMessage) -> None:
    """Send `msg` to the bot through the SMTP relay, its From address as envelope sender (as a
    mail client submits it)."""

    env.send(parseaddr(str(msg["From"]))[1], [env.bot.address], msg.as_bytes())


def make_bot(env: MailEnv, db_url: str, workdir: Path, **overrides: Any) -> Bot:
    os.environ["MAILBOT_TEST_SECRET"] = SECRET
    os.environ["MAILBOT_TEST_IMAP_PASSWORD"] = env.bot.password
    data = config_data(env, db_url, workdir, **overrides)
    config = parse_config(data)
    path = workdir / "config.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    upgrade(db_url)
    return Bot(env, config, path, make_engine(db_url), workdir)


def compose(
    sender: str,
    to: str,
    subject: str,
    body: str,
    *,
    sender_name: str | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
    domain: str = "example.test",
) -> EmailMessage:
    # CRLF line ends, as a mail client submits them (RFC 5321 §2.3.8); headers are not folded
    # below RFC 5322's 998 characters, so long Message-IDs stay as clients write them.
    msg = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
    msg["From"] = f"{sender_name} <{sender}>" if sender_name else sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=domain)
    msg["Date"] = "Sat, 28 Nov 2026 10:00:00 +0100"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    for filename, ctype, data in attachments or []:
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def parse(raw: bytes) -> EmailMessage:
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def body_text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""  # type: ignore[no-any-return]


def reply_to(
    original: EmailMessage,
    sender: str,
    body: str,
    *,
    style: str = "outlook",
    to: str | None = None,
    keep_threading: bool = True,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A reply quoting `original` the way Outlook (FR) or Gmail (FR) writes it."""
    quoted_text = body_text(original)
    subject = str(original["Subject"] or "")
    if style == "outlook":
        text = (
            f"{body}\n\n________________________________\n"
            f"De : {original['From']}\nEnvoyé : samedi 28 novembre 2026 10:05\n"
            f"À : {sender}\nObjet : {subject}\n\n{quoted_text}\n"
        )
        subject = f"RE: {subject}"
    else:
        quoted = "\n".join("> " + line for line in quoted_text.splitlines())
        text = f"{body}\n\nLe sam. 28 nov. 2026 à 10:05, {original['From']} a écrit :\n{quoted}\n"
        subject = f"Re: {subject}"
    mid = str(original["Message-ID"])
    refs = str(original.get("References", "") or "").split()
    return compose(
        sender,
        to or str(original["Reply-To"] or original["From"]),
        subject,
        text,
        in_reply_to=mid if keep_threading else None,
        references=[*refs, mid] if keep_threading else None,
        headers=headers,
    )


def annex_xlsx(people: list[dict[str, str]]) -> bytes:
    """A filled annex as a requester would send it (the official template, rows added)."""

    wb = load_workbook(io.BytesIO(build_template()))
    ws = wb["Demande"]
    header_row = next(r for r in range(1, 30) if ws.cell(r, 1).value == "Type de demandeur")
    labels = [ws.cell(header_row, c).value for c in range(1, 13)]
    for i, person in enumerate(people, start=1):
        for c, label in enumerate(labels, start=1):
            ws.cell(header_row + i, c, person.get(str(label), ""))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def person(env: MailEnv, name: str, **overrides: str) -> dict[str, str]:
    row = {
        "Type de demandeur": "Collectivité",
        "Nom de la collectivité ou du prestataire": "Ville de Testville",
        "Collectivité représentée": "",
        "SIREN": "217500016",
        "Code INSEE": "75056",
        "Nom": name.capitalize(),
        "Prénom": "Camille",
        "Fonction": "Chargée du stationnement",
        "Courriel": f"{name}-{env.number}@{env.domain}",
        "Téléphone": "01 23 45 67 89",
        "Espace DESTA": "Oui",
        "Espace ANTAI": "Non",
    }
    row.update(overrides)
    return row
