"""Personal data removed from a question before publication."""

from __future__ import annotations

import pytest

from workflows.text.pii_patterns import iban_checksum_ok, luhn_ok, nir_key
from workflows.text.privacy import (
    EMAIL_MASK,
    IBAN_MASK,
    NAME_MASK,
    PHONE_MASK,
    Identity,
    scrub,
    strip_courtesy,
)

QUESTION = """Bonjour Madame, Monsieur,

Je suis Jean Dupont, chargé du stationnement. Quand la spécification de l'interface FPS
sera-t-elle publiée ? Vous pouvez me joindre au 06 12 34 56 78 ou à jean.dupont@ville.fr.

Cordialement,

Jean DUPONT
Service stationnement — Mairie d'Exemple
12 rue de la Paix, 31000 Toulouse
Tél. : 05 61 00 00 00
"""


def test_scrub_removes_greeting_signature_contacts_and_name() -> None:
    text = scrub(QUESTION, "Jean Dupont", "jean.dupont@ville.fr")
    assert text == (
        f"Je suis {NAME_MASK}, chargé du stationnement. Quand la spécification de l'interface FPS\n"
        f"sera-t-elle publiée ? Vous pouvez me joindre au {PHONE_MASK} ou à {EMAIL_MASK}."
    )


@pytest.mark.parametrize(
    "phone",
    [
        "06 12 34 56 78",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "0612345678",
        "+33 6 12 34 56 78",
        "+33 (0)6 12 34 56 78",
        "0033 6 12 34 56 78",
        "+262 262 12 34 56",  # La Réunion
        "0590 12 34 56",  # Guadeloupe, written as a national number
        "+596 696 12 34 56",  # Martinique
    ],
)
def test_scrub_masks_french_and_overseas_phone_numbers(phone: str) -> None:
    assert scrub(f"Appelez le {phone} svp.", None, None) == f"Appelez le {PHONE_MASK} svp."


@pytest.mark.parametrize(
    "kept",
    [
        "SIREN 213100407",
        "article L2333-87 du CGCT",
        "le 01/02/2026",
        "code INSEE 97411",
        "12 345 euros",
    ],
)
def test_scrub_keeps_numbers_that_are_not_phones(kept: str) -> None:
    assert scrub(f"Voir {kept}.", None, None) == f"Voir {kept}."


@pytest.mark.parametrize(
    ("written", "sender_name"),
    [
        ("Jean Dupont", "Jean Dupont"),
        ("DUPONT Jean", "Jean Dupont"),
        ("M. Dupont", "Dupont, Jean"),
        ("Hélène Lefèvre", "Helene Lefevre"),  # accents differ
    ],
)
def test_scrub_masks_the_asker_name_however_written(written: str, sender_name: str) -> None:
    assert NAME_MASK in scrub(f"Question posée par {written} ce jour.", sender_name, None)
    assert written.split()[-1] not in scrub(f"Question de {written}.", sender_name, None)


def test_name_taken_from_a_firstname_lastname_address() -> None:
    assert scrub("Ici Paul Martin.", None, "paul.martin@ville.fr") == f"Ici {NAME_MASK}."


def test_service_mailbox_gives_no_name() -> None:
    assert scrub("La mairie demande.", None, "contact.mairie@ville.fr") == "La mairie demande."


def test_name_inside_a_hyphenated_place_is_kept() -> None:
    assert "Saint-Pierre" in scrub("Commune de Saint-Pierre.", "Pierre Durand", None)


def test_long_text_after_a_closing_word_is_not_taken_for_a_signature() -> None:
    body = "Bonjour,\nEn vous remerciant de la précision suivante :\n" + "\n".join(
        f"point {i} à éclaircir" for i in range(12)
    )
    assert "point 11" in scrub(body, None, None)


def test_contacts_kept_when_asked() -> None:
    answer = "Bonjour Monsieur Dupont,\nÉcrivez à support@antai.gouv.fr.\nCordialement\nLe bureau"
    assert scrub(answer, "Jean Dupont", None, contacts=False) == "Écrivez à support@antai.gouv.fr."


def test_strip_courtesy_keeps_contacts_and_names() -> None:
    assert strip_courtesy("Madame, Monsieur,\nJean Dupont, 06 12 34 56 78\nBien à vous\nJD") == (
        "Jean Dupont, 06 12 34 56 78"
    )


@pytest.mark.parametrize("contacts", [True, False])
def test_published_text_has_no_bidi_or_invisible_characters(contacts: bool) -> None:
    text = (
        "Bonjour,\n\nLe tarif \u202eest-il\u202c applicable\u200b ? \u2066Merci\u2069 de "
        "Du\u200bpont.\ufeff\n\nCordialement,\nJean Dupont"
    )
    published = scrub(text, "Jean Dupont", "jean@exemple.fr", contacts=contacts)
    assert published == f"Le tarif est-il applicable ? Merci de {NAME_MASK}."
    assert strip_courtesy("\u202eBonjour,\nLa question\u2067.") == "La question."


def test_checksums_of_the_validated_identifiers() -> None:
    assert iban_checksum_ok("FR7630006000011234567890189")
    assert not iban_checksum_ok("FR7630006000011234567890188")
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert nir_key("1850578006084") == 91  # « 1 85 05 78 006 084 91 »
    assert nir_key("290122A123456") == nir_key("2901219123456")  # Corsica: 2A reads 19


def test_older_callers_without_contacts_still_lose_bank_numbers_and_identities() -> None:
    answer = (
        "Écrivez à support@antai.gouv.fr ou à marie.garnier@interieur.gouv.fr, "
        "IBAN FR76 3000 6000 0112 3456 7890 189."
    )
    reviewer = Identity("Marie Garnier", "marie.garnier@interieur.gouv.fr")
    assert scrub(answer, None, None, contacts=False, identities=[reviewer]) == (
        f"Écrivez à support@antai.gouv.fr ou à {EMAIL_MASK}, IBAN {IBAN_MASK}."
    )


def test_a_kept_mailbox_is_not_half_masked_by_a_name() -> None:
    text = "Écrivez à durand.services@ville.fr ou à jean.durand@gmail.com."
    published = scrub(text, "Jean Durand", None, keep_contacts=["durand.services@ville.fr"])
    assert published == f"Écrivez à durand.services@ville.fr ou à {EMAIL_MASK}."


@pytest.mark.parametrize(
    ("kept", "text"),
    [
        ("3939", "Tél. : 3939, Allô Service Public."),
        ("01 40 07 60 60", "Le standard : +33 1 40 07 60 60."),
        ("01 40 07 60 60", "Le standard : 01.40.07.60.60."),
        ("11 rue des Saussaies, 75008 Paris", "Le bureau, 11 rue des Saussaies, 75008 Paris."),
        ("Stationnement@Interieur.gouv.fr", "Écrire à stationnement@interieur.gouv.fr."),
    ],
)
def test_kept_contacts_stay_however_written(kept: str, text: str) -> None:
    assert scrub(text, None, None, keep_contacts=[kept]) == text
    assert scrub(text, None, None) != text


@pytest.mark.parametrize(
    ("text", "published"),
    [
        ("Bonjour,\nLe décret est-il en ligne ?\nMerci", "Le décret est-il en ligne ?"),
        (
            "Quel format de fichier ?\nMerci beaucoup !\nJean Martin\nMairie",
            "Quel format de fichier ?",
        ),
        # a « Merci » followed by more of the question stays
        ("Merci\nQuel format ? Et quelle taille de fichier est-elle admise ?", None),
        ("Le tarif est-il applicable ? Merci de me répondre.", None),
    ],
)
def test_a_bare_thanks_closing_the_question_is_not_published(
    text: str, published: str | None
) -> None:
    assert scrub(text, None, "x@y.fr") == (published or text)
