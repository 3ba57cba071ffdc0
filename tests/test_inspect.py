"""mailbot.inspect: the JSON objects of CONTRACTS.md (`mailbot inspect FILE… --json`)."""

from __future__ import annotations

import io
import json
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from mailbot.inspect import inspect_files

FIXTURES = Path(__file__).parent / "fixtures" / "mail"
SECRET = "fixture-secret-0123456789"
KINDS = {"question", "subscription", "subscription_intent", "reviewer_command", "follow_up",
         "auto_reply", "bounce", "own_mail"}  # fmt: skip
KEYS = ["file", "kind", "rules", "subject", "from", "from_name", "message_id", "in_reply_to",
        "references", "case_ref", "text", "new_text", "directives", "attachments", "annex"]  # fmt: skip
CONFIG = """
[instance]
domain = "mailbot.test"
generic_address = "decentralisation-stationnement@demo.test"
secret_env = "MAILBOT_TEST_INSPECT_SECRET"
[portal]
base_url = "https://portail.test"
[reviewers]
any_member_may_decide = true
[reviewers.groups.abonnements]
members = ["relecteur.abonnements@demo.test", "second.abonnements@demo.test"]
handles = ["subscription"]
[reviewers.groups.desta]
members = ["relecteur.desta@demo.test"]
handles = ["question:desta"]
[reviewers.groups.accueil]
members = ["relecteur.accueil@demo.test"]
handles = ["question:accueil", "question:unclassified"]
[admins]
addresses = ["admin@demo.test"]
[limits]
annex_max_rows = 50
[mailbox]
host = "127.0.0.1"
port = 1143
tls = "plain"
user = "u"
password_env = "P"
[smtp]
host = "127.0.0.1"
port = 2525
tls = "plain"
[database]
url = "sqlite:///unused.db"
"""


@pytest.fixture
def config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "mailbot.toml"
    path.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("MAILBOT_TEST_INSPECT_SECRET", SECRET)
    monkeypatch.chdir(tmp_path)
    return str(path)


def _check_contract_shape(result: dict[str, Any]) -> None:
    expected_keys = (
        KEYS[:10]
        + (["authenticated", "auth_failure"] if result["kind"] == "reviewer_command" else [])
        + KEYS[10:]
    )
    assert list(result) == expected_keys
    assert result["kind"] in KINDS
    assert (
        isinstance(result["rules"], list)
        and result["rules"]
        and all(isinstance(r, str) for r in result["rules"])
    )
    assert isinstance(result["subject"], str)
    for key in ("from", "from_name", "message_id", "in_reply_to", "case_ref"):
        assert result[key] is None or isinstance(result[key], str)
    assert result["from"] is None or result["from"] == result["from"].lower()
    for key in ("message_id", "in_reply_to"):
        assert result[key] is None or (result[key].startswith("<") and result[key].endswith(">"))
    assert all(r.startswith("<") and r.endswith(">") for r in result["references"])
    assert isinstance(result["text"], str) and isinstance(result["new_text"], str)
    assert isinstance(result["directives"], list)
    for attachment in result["attachments"]:
        assert set(attachment) == {"filename", "content_type", "size"}
        assert isinstance(attachment["size"], int)
    assert result["annex"] is None or isinstance(result["annex"], dict)
    if result["kind"] == "reviewer_command":
        assert isinstance(result["authenticated"], bool)
        assert (result["auth_failure"] is None) == result["authenticated"]
    json.dumps(result)


def test_every_fixture_gives_one_object_of_the_contract_shape_in_order(config_path: str) -> None:
    paths = sorted(str(p) for p in FIXTURES.glob("*.eml"))
    results, code = inspect_files(paths, config_path)
    assert code == 0
    assert [r["file"] for r in results] == paths
    for result in results:
        _check_contract_shape(result)


def test_an_unreadable_file_gives_an_error_line_and_exit_code_2(
    config_path: str, tmp_path: Path
) -> None:
    good = str(FIXTURES / "question_plain.eml")
    missing = str(tmp_path / "absent.eml")
    results, code = inspect_files([good, missing, str(tmp_path)], config_path)
    assert code == 2
    assert results[0]["kind"] == "question"
    assert set(results[1]) == {"file", "error"} and results[1]["file"] == missing
    assert set(results[2]) == {"file", "error"}


def test_reviewer_reply_shows_authentication_and_directives(config_path: str) -> None:
    (result,), _ = inspect_files([str(FIXTURES / "reviewer_question_directives.eml")], config_path)
    assert result["kind"] == "reviewer_command"
    assert (result["authenticated"], result["auth_failure"]) == (True, None)
    assert result["case_ref"] == "Q-2026-000045"
    assert result["directives"] == ["ESPACE: ANTAI", "NE PAS PUBLIER"]
    assert "La contestation d'un FPS se fait par un RAPO." in result["new_text"]
    assert "ESPACE" not in result["new_text"] and "NE PAS PUBLIER" not in result["new_text"]


def test_subscription_command_is_a_directive(config_path: str) -> None:
    (result,), _ = inspect_files([str(FIXTURES / "reviewer_valid.eml")], config_path)
    assert result["directives"] == ["APPROUVER"]
    assert "a écrit" not in result["new_text"]


@pytest.mark.parametrize(
    ("first_line", "directives"),
    [
        ("J'approuve uniquement le n° 1, merci.", ["APPROUVER: 1"]),
        ("Refusé, pas une collectivité.", ["REFUSER: pas une collectivité."]),
        ("Ok mais il manque la délibération", []),
    ],
)
def test_reviewer_phrasings_are_reported_in_canonical_form(
    config_path: str, tmp_path: Path, first_line: str, directives: list[str]
) -> None:
    raw = (FIXTURES / "reviewer_valid.eml").read_text(encoding="utf-8")
    path = tmp_path / "phrasing.eml"
    path.write_text(raw.replace("\nAPPROUVER\n", f"\n{first_line}\n", 1), encoding="utf-8")
    (result,), _ = inspect_files([str(path)], config_path)
    assert result["directives"] == directives


def test_without_a_secret_reviewer_replies_are_not_authenticated(
    config_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAILBOT_TEST_INSPECT_SECRET")
    (result,), _ = inspect_files([str(FIXTURES / "reviewer_valid.eml")], config_path)
    assert (result["authenticated"], result["auth_failure"]) == (False, "no_secret")


@pytest.mark.usefixtures("config_path")  # the secret in the environment, the folder as cwd
def test_config_toml_of_the_current_folder_is_read_when_no_option(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    (result,), _ = inspect_files([str(FIXTURES / "bounce_envelope_token.eml")], None)
    assert result["kind"] == "bounce"


def test_without_any_configuration_threading_still_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    results, code = inspect_files(
        [str(FIXTURES / "follow_up_reference.eml"), str(FIXTURES / "reviewer_valid.eml")], None
    )
    assert code == 0
    assert (results[0]["kind"], results[0]["case_ref"]) == ("follow_up", "Q-2026-000045")
    assert (results[1]["kind"], results[1]["auth_failure"]) == ("reviewer_command", "no_secret")


def test_other_kinds_have_no_authentication_keys_and_empty_directives(config_path: str) -> None:
    (result,), _ = inspect_files([str(FIXTURES / "outlook_fr_question.eml")], config_path)
    assert "authenticated" not in result and "auth_failure" not in result
    assert result["directives"] == [] and result["annex"] is None
    assert result["from_name"] == "Mercier Élodie"


def test_subscription_shows_the_parsed_annex(config_path: str, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["Nom"])
    buffer = io.BytesIO()
    book.save(buffer)
    msg = EmailMessage()
    msg["From"] = "demandeur@mairie.fr"
    msg["Subject"] = "Annexe"
    msg.set_content("Ci-joint.")
    msg.add_attachment(
        buffer.getvalue(), maintype="application", subtype="pdf", filename="annexe.pdf"
    )
    path = tmp_path / "abonnement.eml"
    path.write_bytes(msg.as_bytes())
    (result,), code = inspect_files([str(path)], config_path)
    assert code == 0 and result["kind"] == "subscription"
    assert result["annex"]["format"] == "xlsx"
    assert result["attachments"] == [
        {
            "filename": "annexe.pdf",
            "content_type": "application/pdf",
            "size": len(buffer.getvalue()),
        }
    ]


def test_mail_from_the_generic_address_is_reported_as_own_mail(
    config_path: str, tmp_path: Path
) -> None:
    msg = EmailMessage()
    msg["From"] = "Decentralisation-Stationnement+telephone@demo.test"
    msg["Subject"] = "TR: demande d'accès reçue par téléphone"
    msg.set_content("Bonjour, une commune demande un accès.")
    path = tmp_path / "generique.eml"
    path.write_bytes(msg.as_bytes())
    (result,), code = inspect_files([str(path)], config_path)
    assert code == 0 and result["kind"] == "own_mail"
    assert result["rules"][0] == "own_generic_address"
