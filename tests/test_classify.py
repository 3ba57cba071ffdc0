"""mailbot.mail.classify: every rule, in ARCHITECTURE.md's order, over the `.eml` fixtures
(`expected.json`), plus subscriptions with real spreadsheets made here with openpyxl."""

from __future__ import annotations

import io
import json
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from mailbot.config import Config, parse_config
from mailbot.mail.classify import RULES, Classification, ClassifyContext, classify
from mailbot.mail.parse import parse_message

FIXTURES = Path(__file__).parent / "fixtures" / "mail"
EXPECTED: dict[str, Any] = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
SECRET = b"fixture-secret-0123456789"  # the tokens of the fixtures were made with it
DOMAIN = "mailbot.test"
GENERIC = "decentralisation-stationnement@demo.test"


def make_config(
    any_member: bool = True, trusted: list[str] | None = None, require_pass: bool = False
) -> Config:
    return parse_config(
        {
            "instance": {"domain": DOMAIN, "generic_address": GENERIC},
            "portal": {"base_url": "https://portail.test"},
            "reviewers": {
                "any_member_may_decide": any_member,
                "groups": {
                    "abonnements": {
                        "members": [
                            "relecteur.abonnements@demo.test",
                            "second.abonnements@demo.test",
                        ],
                        "handles": ["subscription"],
                    },
                    "desta": {
                        "members": ["relecteur.desta@demo.test"],
                        "handles": ["question:desta"],
                    },
                    "accueil": {
                        "members": ["relecteur.accueil@demo.test"],
                        "handles": ["question:accueil", "question:unclassified"],
                    },
                },
            },
            "admins": {"addresses": ["admin@demo.test"]},
            "authentication_results": {
                "trusted_authserv_ids": trusted or [],
                "require_pass": require_pass,
            },
            "mailbox": {
                "host": "127.0.0.1",
                "port": 1143,
                "tls": "plain",
                "user": "u",
                "password_env": "P",
            },
            "smtp": {"host": "127.0.0.1", "port": 2525, "tls": "plain"},
            "database": {"url": "sqlite:///unused.db"},
        }
    )


def _classify_case(case: dict[str, Any]) -> Classification:
    config = (
        None
        if "config" in case and case["config"] is None
        else make_config(**(case.get("config") or {}))
    )
    known = case.get("known_cases")
    ctx = ClassifyContext(
        config=config,
        secret=None if case.get("secret") is False else SECRET,
        case_is_open=(lambda ref: ref in known) if known is not None else None,
    )
    return classify(parse_message((FIXTURES / case["file"]).read_bytes()), ctx)


CASES = EXPECTED["classify"]


@pytest.mark.parametrize("case", CASES, ids=[f"{c['file']}-{i}" for i, c in enumerate(CASES)])
def test_fixture_is_classified_as_expected(case: dict[str, Any]) -> None:
    result = _classify_case(case)
    assert result.kind == case["kind"]
    if "rule" in case:
        assert result.rules[0] == case["rule"]
    for name in case.get("rules_include", []):
        assert name in result.rules
    if "case_ref" in case:
        assert result.case_ref == case["case_ref"]
    if "authenticated" in case:
        assert result.authenticated is case["authenticated"]
    if "auth_failure" in case:
        assert result.auth_failure == case["auth_failure"]
    if "owner" in case:
        assert result.reviewer_token_owner == case["owner"]
    if result.kind != "reviewer_command":
        assert result.authenticated is None and result.auth_failure is None


def test_rule_names_are_unique_snake_case_and_in_architecture_order() -> None:
    names = [r.name for r in RULES]
    assert len(set(names)) == len(names)
    assert all(n.replace("_", "").isalpha() and n.islower() for n in names)
    order = ["own_mail", "bounce", "auto_reply", "reviewer_command", "follow_up", "subscription",
             "subscription_intent", "question"]  # fmt: skip
    kinds = [r.kind for r in RULES]
    assert kinds == sorted(kinds, key=order.index)
    assert RULES[-1].name == "default_question"


def test_the_catch_all_is_named_only_when_it_decides() -> None:
    result = _classify_case({"file": "auto_submitted.eml"})
    assert "default_question" not in result.rules


# --------------------------------------------------------------------------- subscriptions


def _xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Type de demandeur", "Organisation", "SIREN", "Nom", "Prénom", "Courriel"])
    sheet.append(
        ["Collectivité", "Ville de Sète", "213403017", "Mercier", "Élodie", "e.mercier@sete.fr"]
    )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _mail_with(
    attachment: bytes, filename: str, maintype: str, subtype: str, subject: str
) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Élodie Mercier <e.mercier@sete.fr>"
    msg["To"] = GENERIC
    msg["Subject"] = subject
    msg.set_content("Bonjour,\nVeuillez trouver ci-joint notre tableau.\n")
    msg.add_attachment(attachment, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


@pytest.mark.parametrize(
    ("filename", "maintype", "subtype"),
    [
        (
            "annexe demande d’abonnement.xlsx",
            "application",
            "vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("scan.pdf", "application", "pdf"),
    ],
    ids=["xlsx", "xlsx-named-pdf"],
)
def test_a_spreadsheet_attached_is_a_subscription_whatever_its_name(
    filename: str, maintype: str, subtype: str
) -> None:
    raw = _mail_with(_xlsx(), filename, maintype, subtype, "Documents")
    result = classify(parse_message(raw), ClassifyContext(config=make_config(), secret=SECRET))
    assert (result.kind, result.rules[0]) == ("subscription", "annex_spreadsheet")
    assert result.annex_attachment is not None and result.annex_attachment.filename == filename


def test_a_pdf_named_xlsx_is_not_a_subscription() -> None:
    raw = _mail_with(
        b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n", "annexe.xlsx", "application", "octet-stream", "Annexe"
    )
    result = classify(parse_message(raw), ClassifyContext(config=make_config(), secret=SECRET))
    assert result.kind == "question" and result.annex_attachment is None


def test_a_corrected_table_in_the_thread_is_a_follow_up_carrying_the_annex() -> None:
    raw = _mail_with(
        _xlsx(), "corrigé.xlsx", "application", "octet-stream", "RE: [ABO-2026-000123] Complément"
    )
    result = classify(parse_message(raw), ClassifyContext(config=make_config(), secret=SECRET))
    assert (result.kind, result.case_ref) == ("follow_up", "ABO-2026-000123")
    assert "annex_spreadsheet" in result.rules and result.annex_attachment is not None


# --------------------------------------------------------------------------- intent


@pytest.mark.parametrize(
    ("subject", "body", "kind"),
    [
        ("Demande d'abonnement", "Bonjour.", "subscription_intent"),
        ("Accès", "Comment obtenir un accès au portail pour notre agent ?", "subscription_intent"),
        (
            "Question",
            "Pourriez-vous créer un compte pour notre prestataire ?",
            "subscription_intent",
        ),
        (
            "Identifiants",
            "Merci de m'envoyer un identifiant et un mot de passe.",
            "subscription_intent",
        ),
        ("Connexion", "J'ai oublié mon mot de passe du portail.", "question"),
        ("FPS", "Le compte rendu de la réunion parle du FPS majoré.", "question"),
        ("Budget", "Faut-il créer un compte administratif distinct pour les FPS ?", "question"),
        ("Réunion", "Pouvez-vous créer le compte rendu de la réunion ?", "question"),
        (
            "Inscription sur les listes",
            "Quelle est la procédure d'inscription des véhicules ?",
            "question",
        ),
    ],
)
def test_access_requests_are_recognised_conservatively(subject: str, body: str, kind: str) -> None:
    msg = EmailMessage()
    msg["From"] = "agent@mairie.fr"
    msg["Subject"] = subject
    msg.set_content(body)
    result = classify(
        parse_message(msg.as_bytes()), ClassifyContext(config=make_config(), secret=SECRET)
    )
    assert result.kind == kind


def test_case_is_open_callback_decides_which_references_count() -> None:
    raw = (FIXTURES / "follow_up_reference.eml").read_bytes()
    unknown = ClassifyContext(config=make_config(), secret=SECRET, case_is_open=lambda _ref: False)
    assert classify(parse_message(raw), unknown).kind == "question"


def test_envelope_recipient_given_by_the_shell_marks_a_bounce() -> None:
    raw = (FIXTURES / "question_plain.eml").read_bytes()
    ctx = ClassifyContext(
        config=make_config(),
        secret=SECRET,
        envelope_to="<decentralisation-stationnement+b-abc123@demo.test>",
    )
    assert classify(parse_message(raw), ctx).rules[0] == "bounce_envelope_token"


def test_a_vacation_reply_to_our_bounce_address_is_an_auto_reply() -> None:
    raw = (FIXTURES / "ooo_subject_and_body.eml").read_bytes()
    ctx = ClassifyContext(
        config=make_config(),
        secret=SECRET,
        envelope_to="decentralisation-stationnement+b-abc123@demo.test",
    )
    assert classify(parse_message(raw), ctx).kind == "auto_reply"


def test_a_token_moved_into_another_cases_message_id_does_not_verify() -> None:
    raw = (
        (FIXTURES / "reviewer_valid.eml")
        .read_bytes()
        .replace(b"ABO-2026-000123", b"ABO-2026-000124")
    )
    result = classify(parse_message(raw), ClassifyContext(config=make_config(), secret=SECRET))
    assert (result.kind, result.case_ref) == ("reviewer_command", "ABO-2026-000124")
    assert (result.authenticated, result.auth_failure) == (False, "bad_token")


def test_a_reply_quoting_a_reminder_and_the_notification_uses_the_one_that_verifies() -> None:
    raw = (FIXTURES / "reviewer_valid.eml").read_bytes()
    forged = b"<ABO-2026-000123.n.abcdefghijklmnop.aaaaaaaaaaaaaaaaaaaaaaaaaa@mailbot.test>"
    raw = raw.replace(b"In-Reply-To: <", b"In-Reply-To: " + forged + b"\nX-Old-In-Reply-To: <", 1)
    raw = raw.replace(b"References: <", b"References: " + forged + b" <", 1)
    result = classify(parse_message(raw), ClassifyContext(config=make_config(), secret=SECRET))
    assert result.authenticated is True


# --------------------------------------------------------------------------- own address


def _from_mail(headers: dict[str, str], subject: str = "Demande d'accès au portail") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Une personne <personne@example.org>"
    for name, value in headers.items():
        del msg[name]
        msg[name] = value
    msg["To"] = GENERIC
    msg["Subject"] = subject
    msg["Message-ID"] = "<own-1@example.org>"
    msg.set_content("Bonjour,\n\nJe souhaite un accès pour un agent.\n")
    return msg.as_bytes()


@pytest.mark.parametrize(
    "headers",
    [
        {"From": f"Boîte générique <{GENERIC}>"},
        {"From": "decentralisation-stationnement+transfert@demo.test"},
        {"Sender": GENERIC},
        {"From": "Decentralisation-Stationnement@DEMO.test"},
        {"Sender": "DECENTRALISATION-STATIONNEMENT+x@demo.TEST"},
    ],
    ids=["from", "from-plus", "sender", "from-case", "sender-plus-case"],
)
def test_mail_from_the_generic_address_is_own_mail(headers: dict[str, str]) -> None:
    result = classify(
        parse_message(_from_mail(headers)), ClassifyContext(config=make_config(), secret=SECRET)
    )
    assert (result.kind, result.rules[0]) == ("own_mail", "own_generic_address")


@pytest.mark.parametrize(
    "address",
    [
        "decentralisation-stationnement@autre.test",
        "decentralisation-stationnement2@demo.test",
        "x+decentralisation-stationnement@demo.test",
    ],
)
def test_lookalike_addresses_are_not_own_mail(address: str) -> None:
    raw = _from_mail({"From": address, "Sender": address})
    result = classify(parse_message(raw), ClassifyContext(config=make_config(), secret=SECRET))
    assert result.kind == "subscription_intent"
    assert "own_generic_address" not in result.rules
