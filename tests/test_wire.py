"""Our outgoing mail written straight to bytes (`mailbot.mail.wire`) is the same mail, once
parsed by a client's MIME parser, as the one the `email` package serialises: every template
with the contexts the workflows send, hostile subjects and names, attachments of every kind;
and what does not fit the fixed shape goes through the `email` package."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import Header
from email.message import EmailMessage
from pathlib import Path

import pytest
from test_templates import ALL

from mailbot.config import Config, load_config
from mailbot.mail.compose import WIRE_POLICY, outgoing, to_email_message
from mailbot.mail.wire import _UTF8, render_raw, wire_bytes
from workflows.core import Attachment, SendMail

ROOT = Path(__file__).resolve().parent.parent
SECRET = b"0123456789abcdef0123"
NOW = datetime(2026, 12, 7, 13, 45, tzinfo=UTC)
CONFIG = load_config(ROOT / "config.toml")


def both(mail: SendMail, ref: str | None, config: Config = CONFIG) -> tuple[bytes | None, bytes]:
    out = outgoing(config, mail, ref, now=NOW, secret=SECRET)
    return wire_bytes(out), to_email_message(out).as_bytes(policy=WIRE_POLICY)


def parsed(raw: bytes) -> EmailMessage:
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def summary(raw: bytes) -> list[object]:
    """What a reader sees: the decoded headers, then each part's type, name and content."""
    msg = parsed(raw)
    assert not msg.defects
    seen: list[object] = [(k, str(v)) for k, v in msg.items() if k != "Content-Type"]
    for part in msg.walk():
        assert not part.defects, part.defects
        seen.append((part.get_content_type(), part.get_filename()))
        if not part.is_multipart():
            content = part.get_content()
            # text travels in MIME's canonical form (CRLF line breaks, RFC 2046 §4.1.1), which a
            # base64 part keeps once decoded and a quoted-printable one gives back as "\n"
            seen.append(content.replace("\r\n", "\n") if isinstance(content, str) else content)
    return seen


@pytest.mark.parametrize("item", ALL, ids=lambda item: item[1].template + ":" + item[1].key)
def test_every_template_reads_the_same_from_both_writers(item: tuple[str | None, SendMail]) -> None:
    ref, mail = item
    fast, slow = both(mail, ref)
    assert fast is not None, "our own mail fits the fixed shape"
    assert summary(fast) == summary(slow)
    assert all(len(line) <= 998 for line in fast.split(b"\r\n"))
    assert b"\n" not in fast.replace(b"\r\n", b"")


def question(subject: str, **changes: object) -> SendMail:
    base = SendMail(
        template="reviewer_auth_failed",
        to=("x@y.fr",),
        context={"sender": "x@y.fr", "reason": "missing_token", "subject": subject, "ref": "Q"},
        key="k",
        in_reply_to="<a@b.fr>",
        references=("<root@b.fr>",),
        auto=True,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


SUBJECTS = [
    "Stationnement : « FPS » et RAPO — délais ?",
    "Objet\r\nBcc: victime@exemple.fr",
    "=?utf-8?q?=0D=0ABcc:_x@y?= déjà",
    "É" * 400,
    "x" * 900,
    "日本語の件名 ✓",
]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_subjects_read_the_same_and_inject_nothing(subject: str) -> None:
    fast, slow = both(question(subject), "Q-2026-000001")
    assert fast is not None
    assert summary(fast) == summary(slow)
    head = fast.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in head and parsed(fast)["Bcc"] is None
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))


@pytest.mark.parametrize(
    "name", ["Espace collectivités — stationnement payant", 'Élise "la" Dupont', "Jean (DESTA)"]
)
def test_sender_names_read_the_same(name: str) -> None:
    instance = CONFIG.instance.model_copy(update={"name": name})
    config = CONFIG.model_copy(update={"instance": instance})
    fast, slow = both(question("s"), None, config)
    assert fast is not None and summary(fast) == summary(slow)
    assert parsed(fast)["From"].addresses[0].display_name == name


ATTACHMENTS = [
    Attachment(
        "annexe-valeurs.xlsx", "application/vnd.ms-excel", b"PK\x03\x04" + bytes(range(256)) * 9
    ),
    Attachment("relevé n°3 « mars ».pdf", "application/pdf", b"%PDF-1.7\n" * 50),
    Attachment('a"b\\c.txt', "text/plain", b"ligne\r\n" * 3),
    Attachment("vide.bin", "application/octet-stream", b""),
    Attachment("", "image/png", b"\x89PNG"),
]


def test_attachments_read_the_same() -> None:
    mail = question("Pièces", attachments=tuple(ATTACHMENTS))
    fast, slow = both(mail, "Q-2026-000001")
    assert fast is not None and summary(fast) == summary(slow)
    files = [p for p in parsed(fast).walk() if p.get_content_disposition() == "attachment"]
    assert [p.get_payload(decode=True) for p in files] == [a.data for a in ATTACHMENTS]


@pytest.mark.parametrize(
    "changes",
    [
        {"attachments": (Attachment("x.txt", "application/x weird", b"x"),)},
        {"to": ("josé@exemple.fr",)},
        {"in_reply_to": "<é@b.fr>"},
    ],
)
def test_what_does_not_fit_goes_through_the_email_package(changes: dict[str, object]) -> None:
    mail = question("s", **changes)
    fast, _ = both(mail, "Q-2026-000001")
    assert fast is None
    raw, message_id = render_raw(CONFIG, mail, "Q-2026-000001", now=NOW, secret=SECRET)
    msg = parsed(raw)
    assert msg["Message-ID"] == message_id and msg["Bcc"] is None


def test_render_raw_returns_the_message_id_written() -> None:
    raw, message_id = render_raw(CONFIG, question("s"), "Q-2026-000001", now=NOW, secret=SECRET)
    assert parsed(raw)["Message-ID"] == message_id
    assert message_id.startswith("<Q-2026-000001.")


def test_encoded_words_are_those_of_the_email_package() -> None:
    """The linear `header_encode_lines` cuts the same words as the standard, quadratic one:
    quoted-printable or base64 (whichever is shorter), every header name length, characters of
    one to four octets, words that cannot hold a single character."""
    rng = random.Random(2026)
    alphabet = "ab Z-[]?=_\téèàçœ«»…—’\u00a0😀漢字"
    for _ in range(1500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 160)))
        for name in ("Subject", "From", "X-" + "n" * rng.randint(1, 80)):
            expected = Header(text, "utf-8", header_name=name).encode(linesep="\r\n")
            assert Header(text, _UTF8, header_name=name).encode(linesep="\r\n") == expected
