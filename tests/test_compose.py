"""Outgoing mails: threading headers written as clients expect them, our markers, and values
taken from incoming mail that can never inject a header."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from mailbot.config import load_config
from mailbot.mail import tokens
from mailbot.mail.compose import build_message, mailbox
from mailbot.mail.wire import render_raw
from workflows.core import SendMail

ROOT = Path(__file__).resolve().parent.parent
SECRET = b"0123456789abcdef0123"
LONG_ID = "<Q-2026-000001.n.xynmtkpffx7yjxcl.3dhhfmzalozqinj462mmaducfk@mailbot.dev.demo.test>"


@pytest.fixture
def config():  # type: ignore[no-untyped-def]
    return load_config(ROOT / "config.toml")


def wire(config, mail: SendMail, ref: str | None = "Q-2026-000001"):  # type: ignore[no-untyped-def]
    raw, _ = render_raw(config, mail, ref, secret=SECRET)  # what the outbox stores and sends
    return raw, message_from_bytes(raw, policy=policy.default)


def auth_failed(**context: str) -> SendMail:
    base = {"sender": "x@y.fr", "reason": "missing_token", "subject": "s", "ref": "Q-2026-000001"}
    return SendMail(
        template="reviewer_auth_failed",
        to=("x@y.fr",),
        context={**base, **context},
        key="k",
        in_reply_to=LONG_ID,
        references=(LONG_ID,),
        auto=True,
    )


def test_long_message_ids_stay_raw_in_threading_headers(config) -> None:  # type: ignore[no-untyped-def]
    raw, msg = wire(config, auth_failed())
    assert f"In-Reply-To: {LONG_ID}".encode() in raw
    head = raw.split(b"\r\n\r\n", 1)[0]
    threading = [
        line for line in head.split(b"\r\n") if line.startswith((b"In-Reply-To", b"References"))
    ]
    assert threading and all(b"=?" not in line for line in threading)
    assert msg["In-Reply-To"] == LONG_ID
    assert msg["References"] == LONG_ID
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")


def test_markers_of_our_mail(config) -> None:  # type: ignore[no-untyped-def]
    _, msg = wire(config, auth_failed())
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Mailbot-Instance"] == config.instance.domain
    assert msg["Subject"].startswith("[Q-2026-000001] ")
    assert msg["Message-ID"].startswith("<Q-2026-000001.")
    assert msg["Message-ID"].endswith(f"@{config.instance.domain}>")
    assert msg["Reply-To"] == config.instance.generic_address


def test_reviewer_notification_message_id_carries_a_verifiable_token(config) -> None:  # type: ignore[no-untyped-def]
    reviewer = "relecteur.desta@demo.test"
    mail = SendMail(
        template="reviewer_auth_alert",
        to=(reviewer,),
        key="n",
        reviewer=reviewer,
        context={"sender": "a@b.fr", "reason": "bad_token", "subject": "s", "ref": "Q-2026-000001"},
    )
    _, msg = wire(config, mail)
    parsed = tokens.parse_our_message_id(msg["Message-ID"], config.instance.domain)
    assert parsed is not None and parsed.case_ref == "Q-2026-000001" and parsed.token
    owner = tokens.token_issued_to(
        SECRET, parsed.case_ref, parsed.nonce, parsed.token, [reviewer, "other@demo.test"]
    )
    assert owner == reviewer


@pytest.mark.parametrize(
    "hostile",
    ["Objet\r\nBcc: victime@exemple.fr", "Objet\nBcc: victime@exemple.fr", "Objet\x00\rBcc: x@y"],
)
def test_subject_from_a_mail_cannot_inject_a_header(config, hostile: str) -> None:  # type: ignore[no-untyped-def]
    raw, msg = wire(config, auth_failed(subject=hostile))
    assert msg["Bcc"] is None
    assert b"\r\nBcc:" not in raw.split(b"\r\n\r\n", 1)[0]


HOSTILE_NAMES = [
    "<b>Jean</b> \u202eDupont",
    "<script>alert(1)</script>",
    'Jean "le" Dupont',
    "Jean\r\nBcc: victime@exemple.fr",
    "=?utf-8?q?=0D=0ABcc:_victime@exemple.fr?=",
    "É" * 500,
    "\u202e\u200b",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_display_name_never_breaks_a_mail(config, name: str) -> None:  # type: ignore[no-untyped-def]
    instance = config.instance.model_copy(update={"name": name})
    raw, msg = wire(config.model_copy(update={"instance": instance}), auth_failed())
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert msg["Bcc"] is None and b"\r\nBcc:" not in head
    assert msg["From"].addresses[0].addr_spec == config.instance.generic_address
    shown = msg["From"].addresses[0].display_name
    assert "<" not in shown and "\u202e" not in shown and "=?" not in shown and len(shown) <= 120
    assert mailbox("jean@exemple.fr", name).endswith(("jean@exemple.fr", "<jean@exemple.fr>"))


def test_unusable_names_give_the_bare_address() -> None:
    assert mailbox("jean@exemple.fr", "<b></b>\u202e") == "jean@exemple.fr"
    assert mailbox("jean@exemple.fr", "=?utf-8?b?QmNjOg==?=") == "jean@exemple.fr"
    assert mailbox("jean@exemple.fr", "<b>Jean</b>") == "Jean <jean@exemple.fr>"


def test_an_address_the_header_model_refuses_does_not_raise(config) -> None:  # type: ignore[no-untyped-def]
    mail = replace(auth_failed(), to=("b", "x@y.fr"))
    _, msg = wire(config, mail)
    assert "x@y.fr" in str(msg["To"])


def test_the_date_header_is_in_paris_time(config) -> None:  # type: ignore[no-untyped-def]
    winter = build_message(config, auth_failed(), "Q-2026-000001", now=datetime(2026, 12, 7, 0, 30, tzinfo=UTC), secret=SECRET)  # fmt: skip
    assert winter["Date"] == "Mon, 07 Dec 2026 01:30:00 +0100"
    summer = build_message(config, auth_failed(), None, now=datetime(2026, 7, 14, 22, 0, tzinfo=UTC), secret=SECRET)  # fmt: skip
    assert summer["Date"] == "Wed, 15 Jul 2026 00:00:00 +0200"
