"""Reply-text extraction, fed by the project's own .eml fixtures (tests/fixtures/replies).

Each fixture is a whole mail as a client sends it; `expected.json` gives, per file, the new
text, the directives, the text left once directives are removed, and the reviewer command.
"""

from __future__ import annotations

import email
import json
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from workflows.text.directives import parse_directives
from workflows.text.reply_html import html_to_text
from workflows.text.reply_text import HARD_RULES, attribution_span, extract_new_text
from workflows.text.signature import SIGNATURE_RULES

FIXTURES = Path(__file__).parent / "fixtures" / "replies"
EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (FIXTURES / "expected.json").read_text(encoding="utf-8")
)


def decode_eml(path: Path) -> tuple[str, str | None]:
    """The first text/plain and text/html parts, decoded (RFC 2045 transfer encodings and
    charsets handled by the stdlib)."""
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    found: dict[str, str] = {}
    for part in message.walk():
        if part.get_content_maintype() == "text" and part.get_content_subtype() not in found:
            found[part.get_content_subtype()] = str(part.get_content())
    return found.get("plain", ""), found.get("html")


def test_the_corpus_covers_at_least_forty_replies() -> None:
    files = sorted(p.name for p in FIXTURES.glob("*.eml"))
    assert len(files) >= 40
    assert files == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_new_text(name: str) -> None:
    text, html = decode_eml(FIXTURES / name)
    assert extract_new_text(text, html) == EXPECTED[name]["new_text"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_directives_and_command(name: str) -> None:
    expected = EXPECTED[name]
    result = parse_directives(expected["new_text"], expected["case_kind"])
    assert result.directives == expected["directives"]
    assert result.text == expected.get("text", expected["new_text"])
    command = expected.get("command")
    if command is None:
        assert result.command is None
    else:
        assert result.command is not None
        people = tuple(command["people"]) if command["people"] is not None else None
        assert (result.command.verb, result.command.people, result.command.text) == (
            command["verb"],
            people,
            command["text"],
        )


# --------------------------------------------------------------------------- shapes, one line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Oui.\n\nLe 3 mars 2025 à 10:02, Service <s@x.fr> a écrit :\n> Q", "Oui."),
        ("Oui.\n\nLe lun. 3 mars 2025 à 10:02, Service <s@x.fr> a\nécrit :\n> Q", "Oui."),
        ("Oui.\nOn Mon, Mar 3, 2025 at 10:02 AM Service <s@x.fr> wrote:\n> Q", "Oui."),
        ("Oui.\n\nLe 03/03/2025 à 10:02, Service a écrit :\n\nQ non citée", "Oui."),
        ("Oui.\n-----Original Message-----\nQ", "Oui."),
        ("Oui.\n\n----- Mail original -----\nDe: s@x.fr\nObjet: Q", "Oui."),
        ("Oui.\n\n**De :** Service\n**Envoyé :** lundi\n**À :** Marie\n**Objet :** Q", "Oui."),
        ("Oui.\n\nFrom: Service\nSent: Monday\nTo: Marie\nSubject: Q", "Oui."),
        ("Oui.\n\n________________________________\nQ", "Oui."),
        ("Oui.\n\n-------- Message transféré --------\nQ", "Oui."),
        ("Oui.\n\nDébut du message réexpédié :\n\nQ", "Oui."),
        ("Oui.\n\nCordialement,\nMarie DURAND\nBureau\n01 49 27 49 27", "Oui."),
        ("Oui.\n\nBien cordialement\nMarie", "Oui."),
        ("Oui.\n\nRegards,\nPaul", "Oui."),
        ("Oui.\n\nEnvoyé de mon iPhone", "Oui."),
        ("Oui.\n\nSent from my iPhone", "Oui."),
        ("Oui.\n\nEnvoyé depuis Outlook pour Android", "Oui."),
        ("Oui.\n\n-- \nMarie", "Oui."),
        ("Oui.\n\nMerci,\nMarie DURAND", "Oui."),
    ],
)
def test_each_reply_shape_is_cut(text: str, expected: str) -> None:
    assert extract_new_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Le chef de service a écrit : voir la note jointe.",  # prose: no date
        "On peut contester le FPS.\nOn blah-blah-blah",
        "Sent from my desk, which is easier than my phone.\n\nMore text follows here.",
        "De : la collectivité\nÀ : l'ANTAI",  # two labels, no date nor subject
        "Premier point :\n- la délibération\n- le contrat",
        "Voici la procédure.\n\nMerci de votre patience, la réponse suit.\nElle est longue.",
        "Écrire à ccsp@antai.gouv.fr avant le 31 mars 2025 à 12:00 :\n- nom\n- adresse",
    ],
)
def test_prose_that_looks_like_a_marker_is_kept(text: str) -> None:
    assert extract_new_text(text) == text


def test_outlook_image_placeholders_are_dropped() -> None:
    text = "Réponse.\n\n[cid:image001.png@01DB8C2E.5D4F3A10]\n\nDe : S\nEnvoyé : lundi\nObjet : Q"
    assert extract_new_text(text) == "Réponse."


def test_internal_paragraphs_are_kept_and_blank_runs_collapsed() -> None:
    assert extract_new_text("\n\nUn.\n\n\n\nDeux.\n  - trois\n\n") == "Un.\n\nDeux.\n  - trois"


def test_protective_directive_below_the_signature_survives() -> None:
    text = "Réponse.\n\nCordialement,\nMarie\n\nNE PAS PUBLIER\n"
    assert extract_new_text(text) == "Réponse.\n\nNE PAS PUBLIER"


def test_a_command_alone_is_never_taken_for_a_signature() -> None:
    assert extract_new_text("Bonjour,\n\nAPPROUVER") == "Bonjour,\n\nAPPROUVER"
    assert extract_new_text("Bonjour,\n\nValidé") == "Bonjour,\n\nValidé"


def test_quoted_url_tail_wrapped_without_marker_is_dropped() -> None:
    text = (
        "Blah\n\nOn Mon, Sep 24, 2012 at 3:46 PM, bob wrote:\n\n> see (http://x.org/a\n_n=3)\n>\n"
    )
    assert extract_new_text(text) == "Blah"


def test_html_is_used_when_the_text_part_is_empty_or_a_placeholder() -> None:
    html = "<div>Réponse.</div><blockquote>Question citée</blockquote>"
    assert extract_new_text("", html) == "Réponse."
    assert extract_new_text("Ce message est au format HTML.", html) == "Réponse."
    assert extract_new_text("Texte.", html) == "Texte."


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>Un</p><p>Deux</p>", "Un\n\nDeux"),
        ("<div>Un</div><div><br></div><div>Deux</div>", "Un\n\nDeux"),
        ('<p class="MsoNormal">Un</p><p class="MsoNormal">Deux</p>', "Un\nDeux"),
        (
            '<p class="MsoNormal">Un</p><p class="MsoNormal">&nbsp;</p><p class=MsoNormal>2',
            "Un\n\n2",
        ),
        ("Un<br>Deux &amp; trois&nbsp;!", "Un\nDeux & trois !"),
        ("<head><style>p{}</style><title>t</title></head><body>Corps</body>", "Corps"),
        ("<pre>a\n  b</pre>", "a\n  b"),
        ("<ul><li>un</li><li>deux</li></ul>", "un\ndeux"),
    ],
)
def test_html_to_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


def test_html_quote_containers_are_removed_only_when_asked() -> None:
    html = 'R<div class="gmail_quote">Le … a écrit :<blockquote>Q</blockquote></div>'
    assert html_to_text(html, strip_quotes=True) == "R"
    assert "Q" in html_to_text(html)


def test_outlook_reply_header_stops_the_html() -> None:
    html = '<div>R</div><div id="divRplyFwdMsg"><b>De :</b> S</div><div>Q</div>'
    assert html_to_text(html, strip_quotes=True) == "R"


def test_attribution_wrapped_over_three_lines_is_one_span() -> None:
    lines = ["Le lun. 3 mars 2025 à 10:02, Service <", "s@x.fr>", "a écrit :", "> Q"]
    assert attribution_span(lines, 0) == 3
    assert attribution_span(["Réponse", "On 3/3/25, S <s@x.fr> wrote:"], 0) == 0


def test_rules_are_named() -> None:
    names = [name for name, _ in HARD_RULES + SIGNATURE_RULES]
    assert len(names) == len(set(names)) and all(names)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "hostile",
    [
        "Le " + "a" * 200_000,
        ("Le 1 " * 60 + "\n") * 3_000,
        "On 3 " + "x " * 100_000 + "wrote:",
        "\n".join(["x", ""] * 100_000),
        "> " * 100_000,
        ("De : x\n" * 2 + "\n") * 10_000,
    ],
)
def test_hostile_bodies_finish(hostile: str) -> None:
    assert isinstance(extract_new_text(hostile, "<div>" * 50_000), str)


@pytest.mark.parametrize(
    "name", sorted(n for n in EXPECTED if not decode_eml(FIXTURES / n)[0].strip())
)
def test_html_only_fixture_also_works_when_text_was_made_from_the_html(name: str) -> None:
    """The shell may hand the HTML turned into text (quote marks lost) as `text`."""
    _, html = decode_eml(FIXTURES / name)
    assert html is not None
    assert extract_new_text(html_to_text(html), html) == EXPECTED[name]["new_text"]
