"""Cell values of the subscription annex: text, SIREN, INSEE code, phone, e-mail, yes/no (pure).

Each normaliser returns the normalised value and, when the cell is wrong, a French detail that
reads after the quoted cell: « 12345678 » + "n'est pas un numéro SIREN valide (…)".
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from functools import lru_cache

CellValue = str | int | float | bool | dt.datetime | dt.date | dt.time | dt.timedelta | None

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SEPARATORS = re.compile(r"[\s.\-_/]+")  # spaces (NBSP and narrow NBSP too), dots, dashes
_SCIENTIFIC = re.compile(r"^\d+(?:[.,]\d+)?[eE]\+?\d+$")


def is_number(value: CellValue) -> bool:
    """True for a numeric cell: an office suite may have eaten its leading zeros."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def cell_text(value: CellValue) -> str:
    """The cell as trimmed text; control characters (CR/LF…) become spaces (mail headers)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "VRAI" if value else "FAUX"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return _CONTROL.sub(" ", str(value)).strip()


def normalise_label(text: str) -> str:
    """Lower-case, accents and punctuation removed, hints in parentheses dropped. The header
    search asks this of the same few cells hundreds of times per annex: short labels are
    remembered (a bounded cache, so a hostile sheet's long cells are not kept)."""
    if len(text) <= _CACHED_LABEL_CHARS:
        return _normalise_label_cached(text)
    return _normalise_label(text)


_CACHED_LABEL_CHARS = 200


@lru_cache(maxsize=2048)
def _normalise_label_cached(text: str) -> str:
    return _normalise_label(text)


def _normalise_label(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.replace("œ", "oe").replace("Œ", "OE"))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", text)
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


# --- SIREN ------------------------------------------------------------------------------------


def luhn_ok(digits: str) -> bool:
    """The Luhn check that the SIREN's last digit (its key) satisfies (INSEE)."""
    if not digits.isdigit():
        return False
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


_SIREN_DIGITS = "n'est pas un numéro SIREN valide (9 chiffres attendus)"


def normalise_siren(value: CellValue) -> tuple[str | None, str | None, str | None]:
    """(siren, error detail, note). A numeric cell gets its leading zeros back; a SIRET gives
    its first 9 digits (the SIREN), with a note."""
    text = cell_text(value)
    if _SCIENTIFIC.match(text.replace(" ", "")):
        return None, _SCIENTIFIC_DETAIL, None
    compact = _SEPARATORS.sub("", text)
    if is_number(value) and compact.isdigit() and len(compact) < 9:
        compact = compact.zfill(9)
    if len(compact) == 14 and compact.isdigit() and luhn_ok(compact[:9]):
        return compact[:9], None, f"le SIREN {compact[:9]} a été déduit du SIRET « {text} »"
    if not re.fullmatch(r"\d{9}", compact):
        return None, _SIREN_DIGITS, None
    if not luhn_ok(compact):
        return None, "n'est pas un numéro SIREN valide (sa clé de contrôle est fausse)", None
    return compact, None, None


_SCIENTIFIC_DETAIL = (
    "a été converti par le tableur en nombre en notation scientifique, ce qui a perdu des "
    "chiffres : merci de saisir le numéro en texte"
)


# --- INSEE code -------------------------------------------------------------------------------

_OVERSEAS_INSEE = re.compile(r"97[1-8]\d{2}|98[4678]\d{2}")


def normalise_insee(value: CellValue) -> tuple[str | None, str | None]:
    """A commune's INSEE code (COG): NNNNN, 2ANNN/2BNNN (Corsica) or 97NNN (overseas)."""
    text = cell_text(value)
    compact = _SEPARATORS.sub("", text).upper()
    if compact.isdigit() and len(compact) == 4:  # departments 01–09 lost their leading zero
        compact = "0" + compact
    if re.fullmatch(r"2[AB]\d{3}", compact) and not compact.endswith("000"):
        return compact, None
    if re.fullmatch(r"\d{5}", compact):
        department = int(compact[:2])
        if department == 20:
            return None, "n'est pas un code INSEE valide : en Corse, il commence par 2A ou 2B"
        if department in (97, 98):
            if _OVERSEAS_INSEE.fullmatch(compact):
                return compact, None
        elif 1 <= department <= 95 and not compact.endswith("000"):
            return compact, None
    return None, (
        "n'est pas un code INSEE de commune valide (5 caractères, par exemple 75056, 2A004 ou "
        "97411 ; à ne pas confondre avec le code postal)"
    )


# --- Phone ------------------------------------------------------------------------------------

# Overseas departments dial inside the French numbering plan (0262…) but have their own
# country codes (ARCEP numbering plan; ITU E.164): the prefix decides the region.
_OVERSEAS_PREFIXES = {
    "0262": "RE",
    "0263": "RE",
    "0692": "RE",
    "0693": "RE",
    "0269": "YT",
    "0639": "YT",
    "0590": "GP",
    "0690": "GP",
    "0691": "GP",
    "0594": "GF",
    "0694": "GF",
    "0596": "MQ",
    "0696": "MQ",
    "0697": "MQ",
}
_COUNTRY_CODES = ("33", "262", "590", "594", "596")
_PHONE_INVALID = "n'est pas un numéro de téléphone valide"


def _phone_candidate(text: str, numeric: bool) -> str:
    compact = re.sub(r"\(0\)", "", text)
    compact = re.sub(r"[\s.\-/()]+", "", compact)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if re.fullmatch(r"[1-9]\d{8}", compact):  # a 10-digit national number that lost its 0
        return "0" + compact
    if numeric and re.fullmatch(r"\d{11,12}", compact) and compact.startswith(_COUNTRY_CODES):
        return "+" + compact  # "+33 6…" typed into a number cell loses its "+"
    return compact


def _parse_phone(candidate: str) -> str | None:
    # Imported here: reading a mail's annex needs it, classifying the mail does not (start-up
    # of `mailbot inspect`); the sandboxed worker imports it before its first job.
    import phonenumbers  # noqa: PLC0415

    region = _OVERSEAS_PREFIXES.get(candidate[:4]) if candidate.startswith("0") else None
    try:
        number = phonenumbers.parse(candidate, region or "FR")
    except phonenumbers.NumberParseException:
        return None
    # The prefix alone decides an overseas number's country code; the library's ranges for
    # these small plans lag behind new allocations, so a number of the right length will do.
    plausible = phonenumbers.is_possible_number if region else phonenumbers.is_valid_number
    if not plausible(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_phone(value: CellValue) -> tuple[str | None, str | None]:
    """E.164, French and overseas numbers; when a cell holds two numbers, the first one."""
    text = cell_text(value)
    if len(text) > 60:
        return None, _PHONE_INVALID
    found = _parse_phone(_phone_candidate(text, is_number(value)))
    if found:
        return found, None
    parts = [p for p in re.split(r"\s*(?:;|,| / |\bou\b|\bet\b)\s*", text) if p.strip()]
    if len(parts) > 1:
        first = _parse_phone(_phone_candidate(parts[0], False))
        if first:
            return first, None
    return None, _PHONE_INVALID


# --- E-mail -----------------------------------------------------------------------------------


def normalise_email(text: str, allow_test_domains: bool = False) -> tuple[str | None, str | None]:
    """The address, lower-case (it is the portal identifier); syntax only, no DNS.
    `allow_test_domains`: accept special-use domains such as `.test` (demo and tests)."""
    bracketed = re.fullmatch(r"[^<>]*<([^<>]+)>\s*", text)  # "Jean Dupont <jean@…>"
    address = bracketed.group(1).strip() if bracketed else text
    address = re.sub(r"^mailto:", "", address, flags=re.IGNORECASE)
    if address.count("@") > 1:
        return (
            None,
            "contient plusieurs adresses : une seule adresse par ligne (une ligne par personne)",
        )
    if "@" not in address:
        return None, "n'est pas une adresse électronique valide (il manque le signe @)"
    # Imported here, as phonenumbers above.
    from email_validator import EmailNotValidError, validate_email  # noqa: PLC0415

    try:
        result = validate_email(
            address,
            check_deliverability=False,
            allow_smtputf8=False,
            test_environment=allow_test_domains,
        )
    except EmailNotValidError:
        local = address.split("@", 1)[0]
        if not local.isascii():
            return None, (
                "n'est pas une adresse électronique valide (caractères accentués avant le @)"
            )
        return None, "n'est pas une adresse électronique valide"
    return result.normalized.lower(), None


# --- Yes / no and requester type --------------------------------------------------------------

_YES = {"oui", "o", "x", "1", "yes", "y", "vrai", "true", "ok", "demande", "souhaite"}
_NO = {"non", "n", "0", "no", "faux", "false", "", "sans objet", "so"}
_TICKS = {"✓", "✔", "☑", "☒", "✗", "✘", "×"}


def parse_yes_no(value: CellValue) -> bool | None:
    """True / False from Oui, X, 1, yes… / Non, empty…; None when not understood."""
    if isinstance(value, bool):
        return value
    text = cell_text(value)
    if text in _TICKS:
        return True
    if text in {"-", "–", "—"}:
        return False
    norm = normalise_label(text)
    if text and not norm:  # "?", "…": punctuation says nothing
        return None
    if norm in _YES:
        return True
    if norm in _NO:
        return False
    return None


_LOCAL_AUTHORITY_WORDS = {
    "commune",
    "ville",
    "mairie",
    "epci",
    "metropole",
    "communaute",
    "departement",
    "region",
    "syndicat",
    "agglomeration",
    "c",
    "ct",
}
_CONTRACTOR_WORDS = {"editeur", "societe", "entreprise", "delegataire", "titulaire", "p"}


def parse_requester_type(text: str) -> str | None:
    """ "collectivite" or "prestataire" from what a person would type, else None."""
    norm = normalise_label(text)
    first = norm.split(" ", 1)[0]
    if norm.startswith("collectiv") or first in _LOCAL_AUTHORITY_WORDS:
        return "collectivite"
    if norm.startswith("prestat") or first in _CONTRACTOR_WORDS:
        return "prestataire"
    return None
