"""Reply text in the 15 languages of issue 11: the per-language tables of quote_markers.py and
footers.py, each entry driven through extract_new_text, prose that must stay, and the
fixtures' coverage (the fixtures themselves are asserted in test_reply_text.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workflows.text.footers import CLOSINGS
from workflows.text.quote_markers import (
    ATTRIBUTION_VERBS,
    FORWARD_INTROS,
    FORWARDED_MESSAGE,
    HEADER_LABELS,
    ORIGINAL_MESSAGE,
)
from workflows.text.reply_text import extract_new_text

LANGUAGES = (
    "fr",
    "en",
    "de",
    "es",
    "it",
    "pt",
    "nl",
    "pl",
    "sv",
    "da",
    "no",
    "fi",
    "ru",
    "hu",
    "cs",
)
FIXTURES = Path(__file__).parent / "fixtures" / "replies"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
REPLY = "Réponse écrite."
QUOTED = "> Bonjour,\n> Nous avons bien reçu votre question.\n>\n> Le service"


def test_every_table_covers_the_fifteen_languages() -> None:
    for table in (ATTRIBUTION_VERBS, ORIGINAL_MESSAGE, FORWARDED_MESSAGE, FORWARD_INTROS):
        assert set(table) == set(LANGUAGES)
    assert set(HEADER_LABELS) == set(LANGUAGES)
    assert set(CLOSINGS) == set(LANGUAGES) - {"fr", "en"}  # those two are in signature.py


def test_each_language_has_its_client_fixtures() -> None:
    by_lang: dict[str, set[str]] = {}
    for name, entry in EXPECTED.items():
        if "lang" in entry:
            assert name.removesuffix(".eml").endswith("_" + entry["lang"]), name
            by_lang.setdefault(entry["lang"], set()).add(name.split("_")[0])
    assert set(by_lang) == set(LANGUAGES)
    assert all(len(clients) >= 2 for lang, clients in by_lang.items() if lang != "en")
    assert {"orange", "free", "sfr", "laposte", "zimbra"} <= by_lang["fr"]
    assert sum(len(entry.get("lang", "")) > 0 for entry in EXPECTED.values()) >= 40


@pytest.mark.parametrize(
    "separator",
    [f"-----{p}-----" for ps in ORIGINAL_MESSAGE.values() for p in ps]
    + [f"*-------- {p.title()} --------*" for ps in ORIGINAL_MESSAGE.values() for p in ps],
)
def test_original_message_separators_cut(separator: str) -> None:
    text = f"{REPLY}\n\n{separator}\nDe : Service\nLe texte d'origine."
    assert extract_new_text(text) == REPLY


@pytest.mark.parametrize(
    "separator",
    [f"---------- {p} ---------" for ps in FORWARDED_MESSAGE.values() for p in ps]
    + [f"{p.capitalize()}:" for ps in FORWARD_INTROS.values() for p in ps],
)
def test_forward_separators_keep_the_note(separator: str) -> None:
    text = f"Note pour le service.\n\n{separator}\n\nLe message transféré."
    assert extract_new_text(text) == "Note pour le service."


@pytest.mark.parametrize("lang", sorted(HEADER_LABELS))
def test_outlook_header_block_in_each_language(lang: str) -> None:
    labels = HEADER_LABELS[lang]
    block = "\n".join(
        f"{labels[role][0].capitalize()}: {value}"
        for role, value in (
            ("from", "Service <s@x.fr>"),
            ("date", "3.3.2025 10:02"),
            ("to", "Marie <m@x.fr>"),
            ("subject", "[Q-2026-000123] Accusé"),
        )
    )
    assert extract_new_text(f"{REPLY}\n\n{block}\n\nLe texte d'origine.") == REPLY


@pytest.mark.parametrize(
    "attribution",
    [
        "Am 03.03.2025 um 10:02 schrieb Max Mustermann:",
        "El 3/3/25 a las 10:02, Juan García escribió:",
        "Il 03/03/25 10:02, Mario Rossi ha scritto:",
        "Às 10:02 de 03/03/2025, João Silva escreveu:",
        "Op 03-03-2025 om 10:02 schreef Jan de Vries:",
        "W dniu 3.03.2025 o 10:02, Jan Kowalski pisze:",
        "Den 2025-03-03 kl. 10:02, skrev Sven Svensson:",
        "Den 03.03.2025 kl. 10.02 skrev Jens Jensen:",
        "Matti Meikäläinen kirjoitti 3.3.2025 klo 10.02:",
        "3 марта 2025 г., в 10:02, Иван Петров <ivan@x.ru> написал:",  # noqa: RUF001
        "2025. 03. 03. 10:02 keltezéssel, Kovács Péter írta:",
        "Dne 03. 03. 25 v 10:02 Jan Novák napsal(a):",
        "Le 3 mars 2025 à 10:02, Jean Dupont <jean@x.fr> a écrit :",
        "El jueves, 21 de noviembre de 2013, Juan escribió:",
        "суббота, 14 марта 2015 г. пользователь Иван написал:",  # noqa: RUF001
        "2016-03-03 17:21 GMT+01:00 Jean Dupont",
        "Max Mustermann <max@x.de> schrieb am Fr., 28. Apr. 2017 um 11:53 Uhr:",
        "----- Reply message -----",
        "On Mon, Mar 3, 2025 at 10:02 AM John <john@x.org> wrote:",
    ],
)
def test_attributions_in_each_language(attribution: str) -> None:
    assert extract_new_text(f"{REPLY}\n\n{attribution}\n{QUOTED}") == REPLY
    # Not followed by `>` lines, it still cuts: the quote below it is unmarked.
    assert extract_new_text(f"{REPLY}\n\n{attribution}\n\nLe texte cité.") == REPLY


def test_two_line_gmail_attribution_is_dropped_between_inline_answers() -> None:
    text = (
        "2016-03-03 17:21 GMT+01:00 Service <s@x.fr>\nwrote:\n> Quelle commune ?\nVernon.\n"
        "> Depuis quand ?\nDepuis 2018."
    )
    assert extract_new_text(text) == "Vernon.\n\nDepuis 2018."


@pytest.mark.parametrize(
    "footer",
    [
        "Gesendet von Outlook für Android",
        "Von meinem iPhone gesendet",
        "Enviado desde mi iPhone",
        "Inviato da iPhone",
        "Enviado do meu iPhone",
        "Verstuurd vanaf mijn iPhone",
        "Wysłane z iPhone'a",
        "Skickat från min iPhone",
        "Sendt fra min iPhone",
        "Lähetetty iPhonesta",
        "Отправлено с iPhone",  # noqa: RUF001
        "Az iPhone-omról küldve",
        "Odesláno z iPhonu",
        "Envoyé de mon iPhone",
        "Téléchargez Outlook pour Android",
    ],
)
def test_mobile_footers_in_each_language(footer: str) -> None:
    assert extract_new_text(f"{REPLY}\n\n{footer}") == REPLY


@pytest.mark.parametrize("closing", [ps[0] for ps in CLOSINGS.values()])
def test_closings_in_each_language(closing: str) -> None:
    text = f"{REPLY}\n\n{closing.capitalize()},\nAnna Nowak\n01 23 45 67 89"
    assert extract_new_text(text) == REPLY


@pytest.mark.parametrize(
    "text",
    [
        "Am Montag schrieb ich Ihnen bereits: bitte die Unterlagen senden.\nDanke.",
        "Gesendet von Outlook für Android wurde nur die erste Seite.\nBitte prüfen.\nDanke.\nMax",
        "Saludos a todo el equipo por el trabajo realizado en la plaza.\nHasta pronto.",
        "Il sindaco ha scritto una lettera.\nLa invio domani.",
        "Pozdrawiam was wszystkich i proszę o odpowiedź w sprawie uchwały nr 12.",
        "Le 3 mars 2025, le maire a écrit au préfet pour contester.\nLa suite est en cours.",
        "En 2019, le ministre a écrit :\n« Le FPS remplace l'amende. »",
        "Am 3. März habe ich geschrieben, dass es geht.\nDanke.",
        "Le conseil a voté la délibération.\nDate : 3 mars 2025\nPour : 12\nContre : 3",
        "Le courrier doit être écrit avant le 31 mars 2025 à 12:00 :\n- le nom\n- l'adresse",
    ],
)
def test_prose_in_other_languages_is_kept(text: str) -> None:
    assert extract_new_text(text) == text


def test_one_word_inline_answers_are_not_taken_for_names() -> None:
    text = (
        "Le 3 mars 2025 à 10:02, S <s@x.fr> a écrit :\n> Quelle commune ?\nVernon.\n"
        "> Est-ce payant ?\nOui.\n> Depuis quand ?\n"
    )
    assert extract_new_text(text) == "Vernon.\n\nOui."
    # A signature under the last answer still goes.
    assert (
        extract_new_text(text + "\nDepuis 2018.\n\n-- \nMarie") == "Vernon.\n\nOui.\n\nDepuis 2018."
    )
    assert extract_new_text(text + "\nDepuis 2018.\n\nCordialement,\nMarie") == (
        "Vernon.\n\nOui.\n\nDepuis 2018."
    )


def test_a_reply_that_is_only_a_sign_off_is_not_emptied() -> None:
    assert extract_new_text("Merci,\nMarie DURAND") == "Merci,\nMarie DURAND"
    assert extract_new_text("Mit freundlichen Grüßen\nMax") == "Mit freundlichen Grüßen\nMax"


@pytest.mark.parametrize(
    "text",
    [
        "Envoyé de mon iPhone",
        "Gesendet von Outlook für Android",
        "-- \nMarie DURAND\n01 02 03 04 05",
    ],
)
def test_a_reply_that_is_only_a_footer_or_a_signature_stays_empty(text: str) -> None:
    quote = "\n\nLe 3 mars 2025 à 10:02, S <s@x.fr> a écrit :\n> Question ?"
    assert extract_new_text(text + quote) == ""


def test_a_reply_that_is_only_a_quote_stays_empty() -> None:
    assert extract_new_text(f"Le 3 mars 2025 à 10:02, S <s@x.fr> a écrit :\n{QUOTED}") == ""


def test_original_message_over_quoted_lines_keeps_the_answers_between_them() -> None:
    text = "-----Original Message-----\n> Quelle commune ?\nVernon.\n> Depuis quand ?\nDepuis 2018."
    assert extract_new_text(text) == "Vernon.\n\nDepuis 2018."


def test_outlook_prefix_mode_keeps_the_answers_between_quotes() -> None:
    text = (
        "Voir mes réponses ci-dessous.\n\n-----Message d'origine-----\nDe : Service\n"
        "Envoyé : lundi 3 mars 2025 10:02\nÀ : Marie\nObjet : Q-2026-000123\n\n"
        "> Quelle commune ?\nVernon.\n> Depuis quand ?\nDepuis 2018.\n"
    )
    assert extract_new_text(text) == "Voir mes réponses ci-dessous.\n\nVernon.\n\nDepuis 2018."
    unmarked = text.replace("> ", "")
    assert extract_new_text(unmarked) == "Voir mes réponses ci-dessous."


def test_an_attribution_glued_to_the_text_is_split_off() -> None:
    text = "Réponse.\nSuite--- Le 3 mars 2025 à 10:02, S <s@x.fr> a écrit :\n> Question ?"
    assert extract_new_text(text) == "Réponse.\nSuite"
    assert (
        extract_new_text("Voir --- le 3 mars, au plus tard.") == "Voir --- le 3 mars, au plus tard."
    )


def test_from_and_date_on_one_line_is_a_header_block() -> None:
    text = f"{REPLY}\nFrom: bob@example.com Date: Thu, 24 Mar 2016 08:07:12 -0700\nQuoted"
    assert extract_new_text(text) == REPLY


def test_orange_message_du_with_a_colon_cuts() -> None:
    text = f"{REPLY}\n\nMessage du : 03/03/2025 10:02\nDe : Service\nA : Marie\nObjet : Q\n\nQ"
    assert extract_new_text(text) == REPLY
