"""mailbot.mail.parse: real client shapes, broken MIME and hostile input (table-driven over
`tests/fixtures/mail/*.eml` and `expected.json`), plus generated hostile messages."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mailbot.mail import mimetext
from mailbot.mail.mimetext import decode_bytes, unflow
from mailbot.mail.parse import (
    ParsedMail,
    ParseLimits,
    clean_header_value,
    find_case_ref,
    parse_message,
)

FIXTURES = Path(__file__).parent / "fixtures" / "mail"
EXPECTED: dict[str, Any] = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))


def parse_fixture(name: str, limits: ParseLimits | None = None) -> ParsedMail:
    return parse_message((FIXTURES / name).read_bytes(), limits)


# Keys whose expected value is a list of parts, each checked on its own.
_PART_CHECKS: dict[str, Callable[[ParsedMail, str], bool]] = {
    "text_contains": lambda mail, part: part in mail.text,
    "text_not_contains": lambda mail, part: part not in mail.text,
    "html_contains": lambda mail, part: mail.html is not None and part in mail.html,
    "defects_contain": lambda mail, part: any(part in d for d in mail.defects),
}


def _check(mail: ParsedMail, key: str, value: Any) -> None:
    if key in _PART_CHECKS:
        for part in value:
            assert _PART_CHECKS[key](mail, part), (key, part, mail.defects)
    elif key == "from":
        assert mail.from_addr == value
    elif key == "attachments":
        _check_attachments(mail, value)
    elif key == "date":
        assert (mail.date.isoformat() if mail.date else None) == value
    elif key == "delivery_status":
        assert {k: mail.delivery_status.get(k) for k in value} == value
    elif key == "in_reply_to_startswith":
        assert mail.in_reply_to is not None and mail.in_reply_to.startswith(value)
    elif key == "references_count":
        assert len(mail.references) == value
    else:
        assert getattr(mail, key) == value, key


def _check_attachments(mail: ParsedMail, value: list[list[Any]]) -> None:
    got = [[a.filename, a.content_type, a.size] for a in mail.attachments]
    assert len(got) == len(value)
    for attachment, (name, ctype, size) in zip(got, value, strict=True):
        assert attachment[:2] == [name, ctype]
        assert size is None or attachment[2] == size


PARSE_CASES = [
    (name, key, value) for name, exp in EXPECTED["parse"].items() for key, value in exp.items()
]


@pytest.mark.parametrize(
    ("name", "key", "value"), PARSE_CASES, ids=[f"{n}:{k}" for n, k, _ in PARSE_CASES]
)
def test_fixture_parses_as_expected(name: str, key: str, value: Any) -> None:
    _check(parse_fixture(name), key, value)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.eml")))
def test_every_fixture_parses_into_clean_header_values(name: str) -> None:
    mail = parse_fixture(name)
    for value in [
        mail.subject,
        mail.from_name or "",
        *mail.to,
        *(a.filename or "" for a in mail.attachments),
    ]:
        assert not any(c in value for c in "\r\n\x00"), value
    assert mail.date is None or mail.date.tzinfo is not None


# --------------------------------------------------------------------------- hostile input


def test_a_one_megabyte_header_is_cut_before_any_work() -> None:
    raw = (
        b"From: a@exemple.fr\r\nSubject: " + b"x" * 1_000_000 + b"\r\nTo: " + b"y@z.fr, " * 100_000
    )
    mail = parse_message(raw + b"\r\n\r\ncorps")
    assert len(mail.subject) == 8192
    assert all(len(v) <= 8192 for _, v in mail.headers.items())
    assert any("over 8192 characters" in d for d in mail.defects)
    assert mail.text == "corps"


def test_thousands_of_content_type_parameters_do_not_stop_the_body() -> None:
    params = b"; ".join(b"p%d=v" % i for i in range(10_000))
    mail = parse_message(
        b"From: a@exemple.fr\r\nContent-Type: text/plain; " + params + b"\r\n\r\ncorps"
    )
    assert mail.text == "corps"


def test_parts_past_the_limit_are_ignored_with_a_defect() -> None:
    parts = b"".join(b"--zz\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(50))
    raw = b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n" + parts + b"--zz--\r\n"
    mail = parse_message(raw, replace(ParseLimits.from_config(), max_parts=10))
    assert "part 8" in mail.text and "part 9" not in mail.text
    assert any("more than 10 parts" in d for d in mail.defects)


def test_nesting_past_the_depth_limit_is_ignored_with_a_defect() -> None:
    levels = b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1)
        for i in range(60)
    )
    raw = (
        b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n" + levels + b"--b60\r\n\r\nprofond\r\n"
    )
    mail = parse_message(raw)
    assert mail.text == ""
    assert any("nested deeper than 20" in d for d in mail.defects)


def test_an_attachment_over_the_limit_keeps_its_size_but_not_its_data() -> None:
    msg = EmailMessage()
    msg["From"] = "a@exemple.fr"
    msg.set_content("voir pièce jointe")
    msg.add_attachment(
        b"x" * 5000, maintype="application", subtype="octet-stream", filename="gros.bin"
    )
    mail = parse_message(
        msg.as_bytes(), replace(ParseLimits.from_config(), max_attachment_bytes=1000)
    )
    (attachment,) = mail.attachments
    assert (attachment.filename, attachment.size, attachment.data) == ("gros.bin", 5000, b"")
    assert any("over the limit" in d for d in mail.defects)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff" * 1000,
        bytes(range(256)) * 10,
        b"From: <<<>>>\r\n\r\n",
        b"Content-Type: multipart/mixed\r\n",
    ],
    ids=["empty", "binary", "all-bytes", "broken-from", "headers-only"],
)
def test_garbage_never_raises(raw: bytes) -> None:
    mail = parse_message(raw)
    assert isinstance(mail.text, str) and mail.from_addr is None


def test_a_filename_with_a_path_and_encoded_newlines_keeps_only_a_clean_name() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/csv\r\n"
        b"Content-Disposition: attachment; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd%0D%0ABcc%3A%20x\r\n"
        b"\r\ndata\r\n--b--\r\n"
    )
    (attachment,) = parse_message(raw).attachments
    assert attachment.filename == "passwd Bcc: x"


def test_unquoted_boundary_with_equals_sign_is_read_leniently() -> None:
    raw = (
        b"Content-Type: multipart/alternative; boundary=----=_NextPart_000_0093\r\n\r\n"
        b"------=_NextPart_000_0093\r\nContent-Type: text/plain\r\n\r\nBonjour\r\n"
        b"------=_NextPart_000_0093--\r\n"
    )
    assert parse_message(raw).text.strip() == "Bonjour"


def test_forward_with_empty_body_reads_the_forwarded_text() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\n\r\n"
        b"--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: dedans\r\n\r\nla vraie question\r\n--o--\r\n"
    )
    mail = parse_message(raw)
    assert mail.text.strip() == "la vraie question"
    assert [a.filename for a in mail.attachments] == ["dedans.eml"]


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Bonjour\r\nBcc: x@y.z", "Bonjour Bcc: x@y.z"),
        ("a\x00b\tc\x7fd\u2028e", "a b c d e"),
        ("  plusieurs    espaces  ", "plusieurs espaces"),
        ("\udce9t\u00e9", "\ufffdt\u00e9"),
        ("x" * 2000, "x" * 998),
    ],
)
def test_clean_header_value_removes_controls_and_caps(value: str, expected: str) -> None:
    assert clean_header_value(value) == expected


@pytest.mark.parametrize(
    ("subject", "in_reply_to", "references", "domain", "expected"),
    [
        ("RE: [Q-2026-000123] Votre question", None, [], None, "Q-2026-000123"),
        ("Re: [abo-2026-000007] demande", None, [], None, "ABO-2026-000007"),
        ("Q-2026-000123 sans crochets", None, [], None, None),
        (
            "[Q-2026-000001] x",
            "<ABO-2026-000002.ack.abcdefgh@m.test>",
            [],
            "m.test",
            "ABO-2026-000002",
        ),
        (
            None,
            None,
            ["<Q-2026-000001.ack.abcdefgh@m.test>", "<Q-2026-000009.ans.abcdefgh@m.test>"],
            "m.test",
            "Q-2026-000009",
        ),
        (None, "<Q-2026-000001.ack.abcdefgh@ailleurs.test>", [], "m.test", None),
        (None, "<Q-2026-000001.ack.abcdefgh@ailleurs.test>", [], None, "Q-2026-000001"),
    ],
)
def test_find_case_ref_prefers_in_reply_to_then_newest_reference_then_subject(
    subject: str | None,
    in_reply_to: str | None,
    references: list[str],
    domain: str | None,
    expected: str | None,
) -> None:
    assert find_case_ref(subject, in_reply_to, references, domain) == expected


@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        ("été".encode(), "utf-8", "été"),
        ("été".encode("cp1252"), "utf-8", "été"),
        ("été".encode("latin-1"), "x-inconnu", "été"),
        ("été".encode(), "iso-8859-1", "été"),
        ("€".encode("cp1252"), None, "€"),
        ("日本".encode("shift_jis"), "shift_jis", "日本"),
    ],
)
def test_decode_bytes_survives_lying_and_unknown_charsets(
    data: bytes, charset: str | None, expected: str
) -> None:
    assert decode_bytes(data, charset)[0] == expected


def test_unflow_joins_soft_breaks_but_keeps_the_signature_separator() -> None:
    text = "Une longue \nphrase.\n> cité \n> suite\n-- \nSignature"
    assert unflow(text) == "Une longue phrase.\n> cité suite\n-- \nSignature"


# --------------------------------------------------------------------------- hostile text


@pytest.mark.parametrize(
    ("hostile", "clean"),
    [
        ("<b>Jean</b> \u202eDupont", "Jean Dupont"),
        ("<script>alert(1)</script>Jean", "alert(1) Jean"),
        ("<scr<b>ipt>x</script>", "x"),
        ("<img src=x onerror=alert(1)>Bob", "Bob"),
        ("Jean<br/>Dupont", "Jean Dupont"),
        ("<!-- commentaire -->Mairie", "Mairie"),
        ("<b></b><i> </i>", ""),
        ("\u202a\u202b\u202c\u202d\u202eA\u2066\u2067\u2068\u2069", "A"),
        ("Z\u200bé\u200c\u200d\u200e\u200fro\u2060\u2061\u2062\u2063\u2064\ufeff", "Zéro"),
        ("Objet\r\nBcc: x@y.fr", "Objet Bcc: x@y.fr"),
        ("a\x00b\x07c\x85d\x9fe", "abcde"),
        ("  Jean \t  Dupont  ", "Jean Dupont"),
        ("Jean <jean@exemple.fr>", "Jean <jean@exemple.fr>"),
        ("tarif < 5 € et > 2 €", "tarif < 5 € et > 2 €"),
        ("x" * 500, "x" * 200),
        ("\ud800Jean", "\ufffdJean"),
    ],
)
def test_display_text_loses_markup_and_invisible_characters(hostile: str, clean: str) -> None:
    assert mimetext.clean_display_text(hostile) == clean


def test_a_hostile_from_name_and_subject_are_cleaned_at_parse() -> None:
    raw = (
        b"From: <b>Jean</b> =?utf-8?q?=E2=80=AEDupont?= <jean@exemple.fr>\r\n"
        b"Subject: =?utf-8?q?Avis_=E2=80=AE_de_paiement_<script>x</script>?=\r\n\r\ncorps"
    )
    mail = parse_message(raw)
    assert (mail.from_name, mail.from_addr) == ("Jean Dupont", "jean@exemple.fr")
    assert mail.subject == "Avis de paiement x"


def test_a_display_name_of_markup_only_is_no_name() -> None:
    mail = parse_message(b'From: "<b></b>\xe2\x80\xae" <jean@exemple.fr>\r\n\r\ncorps')
    assert (mail.from_name, mail.from_addr) == (None, "jean@exemple.fr")


def test_address_lists_read_again_give_the_same_names_and_defects() -> None:
    """Address values are read once and remembered: a second mail with the same garbled
    header still carries its defect, and a value too long to remember is read as well."""
    garbled = b"To: bob@exemple.fr, .@\r\n"  # the stdlib's grammar raises TypeError
    raw = b"From: Jean <jean@exemple.fr>\r\n" + garbled + b"Subject: s\r\n\r\ncorps"
    first, second = parse_message(raw), parse_message(raw)
    assert first.to == second.to and first.defects == second.defects
    assert any(d.startswith("to:") for d in second.defects)
    crowd = ", ".join(f"Agent {n} <agent{n}@exemple.fr>" for n in range(40)).encode()
    long_to = parse_message(b"From: jean@exemple.fr\r\nTo: " + crowd + b"\r\n\r\ncorps")
    assert len(crowd) > 400 and long_to.to == [f"agent{n}@exemple.fr" for n in range(40)]
