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
        (
            ["mx.interieur.gouv.fr; dmarc=pass header.from=interieur.gouv.fr"],
            TRUSTED,
            True,
            (True, None),
        ),
        (
            ["mx.interieur.gouv.fr; dkim=pass header.d=interieur.gouv.fr; spf=fail"],
            TRUSTED,
            True,
            (True, None),
        ),
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


# --------------------------------------------------------------------------- alignment


def _from(address: str, *headers: str) -> object:
    lines = "".join(f"Authentication-Results: {h}\r\n" for h in headers)
    return parse_message(f"From: R <{address}>\r\n{lines}\r\ncorps".encode())


@pytest.mark.parametrize(
    ("address", "header", "expected"),
    [
        # DMARC: header.from must be the From domain (or a parent of it).
        ("r@interieur.gouv.fr", "dmarc=pass header.from=interieur.gouv.fr", True),
        ("r@dgcl.interieur.gouv.fr", "dmarc=pass header.from=interieur.gouv.fr", True),
        ("r@INTERIEUR.gouv.fr", 'dmarc=pass header.from="Interieur.Gouv.FR"', True),
        ("r@interieur.gouv.fr", "dmarc=pass header.from=attacker.test", False),
        ("r@interieur.gouv.fr", "dmarc=pass header.from=gouv.fr.attacker.test", False),
        ("r@interieur.gouv.fr", "dmarc=pass header.from=evilinterieur.gouv.fr", False),
        ("r@interieur.gouv.fr", "dmarc=pass header.from=fr", False),
        ("r@interieur.gouv.fr", "dmarc=pass", False),
        # A DMARC result decides alone: an aligned DKIM pass does not rescue a foreign one.
        (
            "r@interieur.gouv.fr",
            "dkim=pass header.d=interieur.gouv.fr; dmarc=pass header.from=x.test",
            False,
        ),
        # DKIM (no DMARC result): header.d, or the domain of header.i.
        ("r@interieur.gouv.fr", "dkim=pass header.d=interieur.gouv.fr", True),
        ("r@interieur.gouv.fr", "dkim=pass header.i=@interieur.gouv.fr", True),
        ("r@interieur.gouv.fr", "dkim=pass header.d=attacker.test", False),
        (
            "r@interieur.gouv.fr",
            "dkim=pass header.d=attacker.test; dkim=fail header.d=interieur.gouv.fr",
            False,
        ),
        (
            "r@interieur.gouv.fr",
            "dkim=fail header.d=attacker.test; dkim=pass header.d=interieur.gouv.fr",
            True,
        ),
        ("r@interieur.gouv.fr", "dkim=pass", False),
    ],
)
def test_a_pass_counts_only_for_the_from_domain(address: str, header: str, expected: bool) -> None:
    mail = _from(address, f"mx.interieur.gouv.fr; {header}")
    ok, reason = verdict(mail, TRUSTED, True)  # type: ignore[arg-type]
    assert (ok, reason) == ((True, None) if expected else (False, "auth_results_not_pass"))
    # Without require_pass, a foreign pass is no result: nothing is refused on its account.
    assert verdict(mail, TRUSTED, False) == (True, None)  # type: ignore[arg-type]


def test_a_foreign_pass_from_a_trusted_server_is_the_measured_attack() -> None:
    mail = _from(
        "relecteur.abonnements@demo.test",
        "mx.interieur.gouv.fr; dmarc=pass header.from=attacker.test",
    )
    assert verdict(mail, TRUSTED, True) == (False, "auth_results_not_pass")  # type: ignore[arg-type]


def test_a_fail_counts_whatever_domain_it_names() -> None:
    mail = _from("r@interieur.gouv.fr", "mx.interieur.gouv.fr; dmarc=fail header.from=x.test")
    assert verdict(mail, TRUSTED, False) == (False, "auth_results_fail")  # type: ignore[arg-type]


def test_no_sender_means_no_aligned_pass() -> None:
    raw = (
        b"From: a@interieur.gouv.fr, b@interieur.gouv.fr\r\n"
        b"Authentication-Results: mx.interieur.gouv.fr; dmarc=pass header.from=interieur.gouv.fr"
        b"\r\n\r\ncorps"
    )
    assert verdict(parse_message(raw), TRUSTED, True) == (False, "auth_results_not_pass")  # type: ignore[arg-type]


def test_properties_are_read_per_result() -> None:
    header = parse_authentication_results(
        "mx.x; dkim=pass (ok) header.d=A.fr header.s=s1; dmarc=fail header.from=b.fr"
    )
    assert header is not None
    assert header.properties == [{"header.d": "a.fr", "header.s": "s1"}, {"header.from": "b.fr"}]
