"""mailbot.mail.authres: RFC 8601 Authentication-Results, trusted authserv-ids only."""

from __future__ import annotations

import pytest

from mailbot.mail.authres import AuthResults, parse_authentication_results, verdict
from mailbot.mail.parse import parse_message

TRUSTED = ["mx.interieur.gouv.fr"]


@pytest.mark.parametrize(
    ("value", "authserv_id", "results"),
    [
        (
            "mx.interieur.gouv.fr; dkim=pass header.d=x.fr; spf=fail smtp.mailfrom=x.fr; dmarc=pass",
            "mx.interieur.gouv.fr",
            [("dkim", "pass"), ("spf", "fail"), ("dmarc", "pass")],
        ),
        ("MX.Interieur.Gouv.FR 1; none", "mx.interieur.gouv.fr", []),
        (
            "mx.x (commentaire (imbriqué; avec ;)) ; dkim/1 = fail (bad sig) header.i=@x;\r\n dmarc=fail",
            "mx.x",
            [("dkim", "fail"), ("dmarc", "fail")],
        ),
        (
            'mx.x; auth=pass smtp.auth="a;b"; spf=neutral',
            "mx.x",
            [("auth", "pass"), ("spf", "neutral")],
        ),
        ("(" * 5000 + ")" * 5000 + "mx.x; dmarc=fail", "mx.x", [("dmarc", "fail")]),
    ],
)
def test_parse_authentication_results(
    value: str, authserv_id: str, results: list[tuple[str, str]]
) -> None:
    assert parse_authentication_results(value) == AuthResults(authserv_id, results)


def test_an_empty_header_is_not_a_result() -> None:
    assert parse_authentication_results("   ") is None


def test_two_dkim_signatures_pass_when_one_passes() -> None:
    header = parse_authentication_results("mx.x; dkim=fail; dkim=pass")
    assert header is not None and header.outcome("dkim") == "pass"


def _mail(*headers: str) -> object:
    lines = "".join(f"Authentication-Results: {h}\r\n" for h in headers)
    return parse_message(f"From: r@interieur.gouv.fr\r\n{lines}\r\ncorps".encode())


@pytest.mark.parametrize(
    ("headers", "trusted", "require_pass", "expected"),
    [
        ([], [], True, (True, None)),
        (["mx.interieur.gouv.fr; dmarc=fail"], [], False, (True, None)),
        (["mx.interieur.gouv.fr; dmarc=fail"], TRUSTED, False, (False, "auth_results_fail")),
        (["relais.pirate; dmarc=fail"], TRUSTED, False, (True, None)),
        (["relais.pirate; dmarc=pass"], TRUSTED, True, (False, "auth_results_not_pass")),
        (
            ["mx.interieur.gouv.fr; dkim=fail; spf=fail"],
            TRUSTED,
            False,
            (False, "auth_results_fail"),
        ),
        (["mx.interieur.gouv.fr; dkim=fail; spf=pass"], TRUSTED, False, (True, None)),
        (["mx.interieur.gouv.fr; dkim=fail; spf=fail; dmarc=pass"], TRUSTED, False, (True, None)),
        (
            ["mx.interieur.gouv.fr; dmarc=pass", "mx.interieur.gouv.fr; dmarc=fail"],
            TRUSTED,
            True,
            (False, "auth_results_fail"),
        ),
        (["mx.interieur.gouv.fr; dmarc=pass"], TRUSTED, True, (True, None)),
        (["mx.interieur.gouv.fr; dkim=pass; spf=fail"], TRUSTED, True, (True, None)),
        (
            ["mx.interieur.gouv.fr; dkim=pass; dmarc=none"],
            TRUSTED,
            True,
            (False, "auth_results_not_pass"),
        ),
        (["mx.interieur.gouv.fr; spf=pass"], TRUSTED, True, (False, "auth_results_not_pass")),
        ([], TRUSTED, True, (False, "auth_results_not_pass")),
        ([], TRUSTED, False, (True, None)),
    ],
)
def test_verdict(
    headers: list[str], trusted: list[str], require_pass: bool, expected: tuple[bool, str | None]
) -> None:
    assert verdict(_mail(*headers), trusted, require_pass) == expected  # type: ignore[arg-type]
