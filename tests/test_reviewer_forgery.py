"""Forged reviewer replies (docs/security.md): the From mailbox read strictly, and encoded or
folded In-Reply-To/References decoded before their Message-IDs are matched."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbot.mail.classify import ClassifyContext, classify
from mailbot.mail.parse import find_case_ref, parse_message
from mailbot.mail.sender import strict_mailbox
from tests.test_classify import SECRET, make_config

FIXTURES = Path(__file__).parent / "fixtures" / "mail"
VALID = (FIXTURES / "reviewer_valid.eml").read_bytes()
REVIEWER = "relecteur.abonnements@demo.test"
NOTIFICATION = "<ABO-2026-000123.n.k7q2m4x6w3p5r7t6.4u7ilr4xoapgxh64metpcx35qp@mailbot.test>"


def _with_from(value: bytes, extra: bytes = b"") -> bytes:
    return VALID.replace(b"From: Relecteur <" + REVIEWER.encode() + b">", b"From: " + value + extra)


def _classify(raw: bytes) -> tuple[bool, str | None]:
    result = classify(parse_message(raw), ClassifyContext(config=make_config(), secret=SECRET))
    assert result.kind == "reviewer_command"
    return result.authenticated, result.auth_failure


# --------------------------------------------------------------------------- From, strictly


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ("Relecteur <r@demo.test>", "r@demo.test"),
        ("r@demo.test", "r@demo.test"),
        ("R@Demo.Test (Relecteur)", "r@demo.test"),
        ('"Dupont, Jean" <j@demo.test>', "j@demo.test"),
        ('"<r@demo.test>" <evil@attacker.test>', "evil@attacker.test"),
        ("=?utf-8?q?Ana=C3=AFs?= <a@demo.test>", "a@demo.test"),
        ("MAILER-DAEMON@mx.exemple.fr (Mail Delivery System)", "mailer-daemon@mx.exemple.fr"),
        ("<r@demo.test>", "r@demo.test"),
        # Markup in an unquoted display name is text (issue 10: it used to crash the ack).
        ("<b>Jean</b> Dupont <j@demo.test>", "j@demo.test"),
        ('<span class="x">Jean</span> <j@demo.test>', "j@demo.test"),
        # The measured attack: the angle-addr decides, never the display name.
        ("relecteur.abonnements@demo.test <evil@attacker.test>", "evil@attacker.test"),
        ("relecteur.abonnements@demo.test<evil@attacker.test>", "evil@attacker.test"),
        ("(relecteur.abonnements@demo.test) evil@attacker.test", "evil@attacker.test"),
        ("evil@attacker.test (<relecteur.abonnements@demo.test>)", "evil@attacker.test"),
        (
            "=?utf-8?q?relecteur_=3Crelecteur=2Eabonnements=40demo=2Etest=3E?= <evil@attacker.test>",
            "evil@attacker.test",
        ),
        # No single valid mailbox: no sender at all.
        ('"x" <relecteur.abonnements@demo.test> <evil@attacker.test>', None),
        ("<evil@attacker.test> relecteur.abonnements@demo.test", None),
        ("relecteur.abonnements@demo.test, evil@attacker.test", None),
        ("Relecteurs: relecteur.abonnements@demo.test;", None),
        ("relecteur.abonnements@demo.test evil@attacker.test", None),
        ("Big Bug bb@bug.com", None),
        ("<=?utf-8?q?relecteur=2Eabonnements=40demo=2Etest?=>", None),
        ("=?utf-8?q?=3Crelecteur=2Eabonnements=40demo=2Etest=3E?=", None),
        ('"unterminated <relecteur.abonnements@demo.test>', None),
        ("<relecteur.abonnements@demo.test", None),
        ("<<<>>>", None),
        ("<b>x</b> <relecteur.abonnements@demo.test> <evil@attacker.test>", None),
        ("<b relecteur.abonnements@demo.test> <evil@attacker.test>", None),
        ("", None),
    ],
)
def test_the_from_mailbox_is_read_strictly(value: str, address: str | None) -> None:
    mailbox = strict_mailbox(value)
    assert (mailbox.address if mailbox else None) == address
    mail = parse_message(f"From: {value}\r\nSubject: x\r\n\r\ncorps".encode())
    assert mail.from_addr == address


def test_the_display_name_is_kept_and_decoded_unless_it_shows_another_address() -> None:
    mail = parse_message(b"From: relecteur.abonnements@demo.test <evil@attacker.test>\r\n\r\nx")
    assert (mail.from_name, mail.from_addr) == (None, "evil@attacker.test")
    assert any("display name looks like an address" in d for d in mail.defects)
    assert any("shows another address: dropped" in d for d in mail.defects)
    mail = parse_message(b'From: "Mairie (mairie@demo.test)" <Mairie@demo.test>\r\n\r\nx')
    assert (mail.from_name, mail.from_addr) == ("Mairie (mairie@demo.test)", "mairie@demo.test")
    mail = parse_message(b'From: "Dupont, Jean" <J@Demo.test>\r\n\r\nx')
    assert (mail.from_name, mail.from_addr) == ("Dupont, Jean", "j@demo.test")


def test_two_from_fields_give_no_sender() -> None:
    raw = b"From: r@demo.test\r\nFrom: evil@attacker.test\r\n\r\nx"
    assert parse_message(raw).from_addr is None


@pytest.mark.parametrize(
    ("from_value", "extra", "reason"),
    [
        (b"relecteur.abonnements@demo.test <evil@attacker.test>", b"", "wrong_sender"),
        (b"(relecteur.abonnements@demo.test) evil@attacker.test", b"", "wrong_sender"),
        (b'"x" <relecteur.abonnements@demo.test> <evil@attacker.test>', b"", "wrong_sender"),
        (b"relecteur.abonnements@demo.test, evil@attacker.test", b"", "wrong_sender"),
        (
            b"=?utf-8?q?=3Crelecteur=2Eabonnements=40demo=2Etest=3E?= <evil@attacker.test>",
            b"",
            "wrong_sender",
        ),
        (b"<evil@attacker.test>", b"\nSender: " + REVIEWER.encode(), "wrong_sender"),
        (
            b"Relecteur <" + REVIEWER.encode() + b">",
            b"\nFrom: evil@attacker.test",
            "wrong_sender",
        ),
    ],
    ids=[
        "display-name",
        "comment",
        "two-angle-addrs",
        "two-mailboxes",
        "encoded-word",
        "sender",
        "two-from-fields",
    ],
)
def test_forged_from_is_never_the_reviewer(from_value: bytes, extra: bytes, reason: str) -> None:
    assert _classify(_with_from(from_value, extra)) == (False, reason)


def test_the_genuine_reply_still_authenticates() -> None:
    assert _classify(VALID) == (True, None)
    assert _classify(_with_from(b"relecteur.abonnements@demo.test")) == (True, None)


# --------------------------------------------------------------------------- In-Reply-To


def _q(text: str) -> str:
    """`text` as one RFC 2047 Q encoded-word, every special character encoded."""
    body = "".join(c if c.isalnum() else f"={ord(c):02X}" for c in text)
    return f"=?utf-8?q?{body}?="


def _with_threading(in_reply_to: str, references: str | None = None) -> bytes:
    lines = VALID.decode().splitlines(keepends=True)
    out = []
    for line in lines:
        if line.startswith("In-Reply-To:"):
            line = f"In-Reply-To: {in_reply_to}\n"
        elif line.startswith("References:"):
            line = f"References: {references}\n" if references is not None else ""
        out.append(line)
    return "".join(out).encode()


@pytest.mark.parametrize(
    "in_reply_to",
    [
        _q(NOTIFICATION),
        _q(NOTIFICATION[:30]) + "\n " + _q(NOTIFICATION[30:]),
        "\n " + NOTIFICATION,
        "\n " + _q(NOTIFICATION) + "\n (commentaire)",
    ],
    ids=["encoded", "encoded-and-folded", "folded", "encoded-folded-comment"],
)
def test_an_encoded_or_folded_in_reply_to_is_decoded(in_reply_to: str) -> None:
    raw = _with_threading(in_reply_to, references=None)
    mail = parse_message(raw)
    assert mail.in_reply_to == NOTIFICATION
    assert find_case_ref(mail.subject, mail.in_reply_to, mail.references) == "ABO-2026-000123"
    assert _classify(raw) == (True, None)


def test_encoded_references_are_decoded() -> None:
    refs = "<a@b.test>\n " + _q(NOTIFICATION)
    raw = _with_threading("<a@b.test>", references=refs)
    assert parse_message(raw).references == ["<a@b.test>", NOTIFICATION]
    assert _classify(raw) == (True, None)


def test_an_encoded_in_reply_to_from_a_forger_is_not_authenticated() -> None:
    raw = _with_threading(_q(NOTIFICATION), references=None)
    raw = raw.replace(b"From: Relecteur <" + REVIEWER.encode() + b">", b"From: evil@attacker.test")
    assert _classify(raw) == (False, "wrong_sender")
    forged = NOTIFICATION.replace("4u7ilr4x", "aaaaaaaa")
    assert _classify(_with_threading(_q(forged), references=None)) == (False, "bad_token")
