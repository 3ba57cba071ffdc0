"""The `email` header model, as mailbot uses it: one class per kind of header (the stdlib builds
a new class for every header it parses or sets), and a parsed-header cache that stays small
however many distinct headers arrive (a multipart's boundary is new in every mail)."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage

from mailbot.mail import mimeparts
from mailbot.mail.compose import WIRE_POLICY
from mailbot.mail.mimeparts import HEADERS, PLAIN_POLICY, ParseLimits
from mailbot.mail.parse import parse_message


def test_one_class_per_kind_of_header() -> None:
    to, cc = HEADERS("To", "a@ville-exemple.fr"), HEADERS("Cc", "Jean <j@ville-exemple.fr>")
    assert type(to) is type(cc)
    assert type(HEADERS("X-Mailer", "Outlook")) is type(HEADERS("X-Inconnu", "valeur"))
    assert type(HEADERS("Subject", "Bonjour")) is not type(to)
    # the stdlib's own factory builds a new class each time: what this module avoids
    assert type(policy.default.header_factory("To", "a@b.fr")) is not type(
        policy.default.header_factory("To", "a@b.fr")
    )
    assert [a.addr_spec for a in cc.addresses] == ["j@ville-exemple.fr"]


def test_headers_read_and_written_as_with_the_default_policy() -> None:
    msg = EmailMessage(policy=PLAIN_POLICY)
    msg["From"] = "Espace collectivités <decentralisation-stationnement@interieur.gouv.fr>"
    msg["Subject"] = "Votre question [Q-2026-000123] a bien été reçue"
    msg.set_content("Bonjour,\n")
    same = EmailMessage(policy=policy.default)
    for name in ("From", "Subject"):
        same[name] = msg[name]
    same.set_content("Bonjour,\n")
    assert (
        msg.as_bytes(policy=WIRE_POLICY).split(b"\r\n")[:2]
        == same.as_bytes(policy=policy.SMTP.clone(max_line_length=998)).split(b"\r\n")[:2]
    )


def test_the_parsed_header_cache_stays_bounded() -> None:
    mimeparts._parsed_header.cache_clear()
    limits = ParseLimits.from_config()
    for i in range(400):
        raw = (
            "From: a@ville-exemple.fr\r\nSubject: Question\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n'
            f"--b{i}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour {i}\r\n--b{i}--\r\n"
        ).encode()
        assert parse_message(raw, limits).text.strip() == f"Bonjour {i}"
    info = mimeparts._parsed_header.cache_info()
    assert info.currsize <= 128 and info.hits > info.misses  # the repeats within a mail still hit
