"""mailbot.mail.tokens: our Message-IDs, reviewer tokens (invariant 3), bounce sub-addresses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest

from mailbot.mail import tokens
from mailbot.mail.tokens import (
    OurMessageId,
    bounce_address,
    new_message_id,
    parse_bounce_token,
    parse_our_message_id,
    reviewer_message_id,
    reviewer_token,
    token_issued_to,
)

SECRET = b"secret-de-test-0123456789"
DOMAIN = "mailbot.test"
REVIEWER = "Relecteur.Abonnements@demo.test"
OTHERS = ["relecteur.desta@demo.test", "relecteur.antai@demo.test"]


def test_ordinary_message_id_carries_the_case_and_purpose() -> None:
    mid = new_message_id("MailBot.Test", "Q-2026-000123", "ack")
    assert re.fullmatch(r"<Q-2026-000123\.ack\.[a-z2-7]{16}@mailbot\.test>", mid)
    assert parse_our_message_id(mid, DOMAIN) == OurMessageId(
        "Q-2026-000123", "ack", mid.split(".")[2].split("@")[0], None
    )


def test_message_ids_are_unique() -> None:
    assert len({new_message_id(DOMAIN, "Q-2026-000123", "ack") for _ in range(200)}) == 200


@pytest.mark.parametrize(
    ("purpose", "expected"),
    [
        ("reviewer_auth_alert", "reviewer_auth_alert"),
        ("a.b@c", "a-b-c"),
        ("n", "mail-n"),
        ("", "mail"),
    ],
)
def test_purpose_is_made_safe_for_a_message_id(purpose: str, expected: str) -> None:
    parsed = parse_our_message_id(new_message_id(DOMAIN, None, purpose), DOMAIN)
    assert parsed is not None and parsed.purpose == expected and parsed.case_ref is None


def test_a_case_reference_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError):
        new_message_id(DOMAIN, "Q-26-1", "ack")


def test_reviewer_message_id_holds_a_token_for_that_reviewer_and_case() -> None:
    mid = reviewer_message_id(DOMAIN, "ABO-2026-000123", REVIEWER, SECRET)
    parsed = parse_our_message_id(mid, DOMAIN)
    assert parsed is not None and parsed.purpose == "n" and parsed.token is not None
    assert len(parsed.token) == 26
    assert parsed.token == reviewer_token(SECRET, "ABO-2026-000123", REVIEWER.lower(), parsed.nonce)
    owner = token_issued_to(
        SECRET, "ABO-2026-000123", parsed.nonce, parsed.token, [*OTHERS, REVIEWER]
    )
    assert owner == REVIEWER.lower()


def test_token_is_the_documented_hmac() -> None:
    digest = hmac.new(SECRET, b"Q-2026-000001\nr@x.fr\nabcdefgh", hashlib.sha256).digest()
    expected = base64.b32encode(digest).decode().rstrip("=").lower()[:26]
    assert reviewer_token(SECRET, "Q-2026-000001", "R@X.fr", "abcdefgh") == expected


@pytest.mark.parametrize(
    ("secret", "case_ref", "nonce_change", "candidates"),
    [
        (b"autre-secret-0123456789", "ABO-2026-000123", False, [REVIEWER]),
        (SECRET, "ABO-2026-000124", False, [REVIEWER]),
        (SECRET, "ABO-2026-000123", True, [REVIEWER]),
        (SECRET, "ABO-2026-000123", False, OTHERS),
        (SECRET, "ABO-2026-000123", False, []),
    ],
    ids=["other-secret", "other-case", "other-nonce", "other-reviewers", "nobody"],
)
def test_token_verifies_only_for_its_secret_case_nonce_and_reviewer(
    secret: bytes, case_ref: str, nonce_change: bool, candidates: list[str]
) -> None:
    parsed = parse_our_message_id(
        reviewer_message_id(DOMAIN, "ABO-2026-000123", REVIEWER, SECRET), DOMAIN
    )
    assert parsed is not None and parsed.token is not None
    nonce = parsed.nonce[::-1] if nonce_change else parsed.nonce
    assert token_issued_to(secret, case_ref, nonce, parsed.token, candidates) is None


@pytest.mark.parametrize(
    "mid",
    [
        "<Q-2026-000123.ack.abcdefghijklmnop@ailleurs.test>",
        "<Q-2026-000123.ack.abcdefghijklmnop>",
        "<Q-2026-123.ack.abcdefghijklmnop@mailbot.test>",
        "<Q-2026-000123.ack@mailbot.test>",
        "<Q-2026-000123.n.abcdefghijklmnop@mailbot.test>",
        "<Q-2026-000123.n.abcdefghijklmnop.short@mailbot.test>",
        "<Q-2026-000123.ack.abc01@mailbot.test>",
        "<X-2026-000123.ack.abcdefghijklmnop@mailbot.test>",
        "<CAF3x9Y+AbCd@mail.gmail.com>",
        "",
    ],
)
def test_other_message_ids_are_not_ours(mid: str) -> None:
    assert parse_our_message_id(mid, DOMAIN) is None


def test_our_message_id_is_recognised_without_angle_brackets_and_domain_case() -> None:
    assert (
        parse_our_message_id("Q-2026-000123.ack.abcdefghijklmnop@MAILBOT.TEST", DOMAIN) is not None
    )


def test_bounce_address_round_trips() -> None:
    address = bounce_address("Decentralisation-Stationnement@demo.test", "9F8E7D6C5B4A3210")
    assert address == "Decentralisation-Stationnement+b-9f8e7d6c5b4a3210@demo.test"
    generic = "decentralisation-stationnement@demo.test"
    assert parse_bounce_token(f"<{address}>", generic) == "9f8e7d6c5b4a3210"
    assert parse_bounce_token(tokens.bounce_address(generic, tokens.new_bounce_token()), generic)


@pytest.mark.parametrize(
    "address",
    [
        "decentralisation-stationnement@demo.test",
        "decentralisation-stationnement+b-@demo.test",
        "decentralisation-stationnement+b-abc@autre.test",
        "autre+b-abc@demo.test",
        "decentralisation-stationnement+x-abc@demo.test",
        "decentralisation-stationnement+b-a/b@demo.test",
    ],
)
def test_other_addresses_carry_no_bounce_token(address: str) -> None:
    assert parse_bounce_token(address, "decentralisation-stationnement@demo.test") is None


def test_bounce_token_must_be_letters_or_digits() -> None:
    with pytest.raises(ValueError):
        bounce_address("a@b.c", "x@y")
