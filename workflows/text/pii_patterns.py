"""Numbers and addresses that identify a person, found in free text and replaced by a French
mask: IBANs, payment card numbers, French social-security numbers (NIR), phone numbers, e-mail
addresses, vehicle registrations and postal addresses.

Each finder validates what it can (IBAN mod 97, Luhn, NIR key, phone number plans through
`phonenumbers`) so that the numbers a local authority writes on purpose stay: article and
decree numbers, dates, times, amounts, postal codes alone, SIREN/SIRET (public identifiers of
legal entities, kept — `docs/security.md`). `keep` is a predicate for contacts that stay
published on purpose (`[privacy] keep_contacts`): a phone number or an e-mail address it
accepts is left as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import phonenumbers

EMAIL_MASK = "[adresse électronique]"
PHONE_MASK = "[téléphone]"
IBAN_MASK = "[IBAN]"
CARD_MASK = "[numéro de carte bancaire]"
NIR_MASK = "[numéro de sécurité sociale]"
PLATE_MASK = "[immatriculation]"
ADDRESS_MASK = "[adresse postale]"

Keep = Callable[[str], bool]

_SP = "[ \u00a0\u202f]"

# ------------------------------------------------------------------------------ e-mail

EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_MAILTO = re.compile(r"mailto:\s*(?=[\w.+'-]+@)", re.IGNORECASE)
# « jean [point] dupont [at] ville [point] fr », « jean.dupont (at) ville.fr »
_OBFUSCATED_EMAIL = re.compile(
    r"(?<![\w.])[\w.-]+(?:\s*[\[(]\s*(?:point|dot)\s*[\])]\s*[\w-]+)*"
    r"\s*[\[(]\s*(?:at|arobase|@)\s*[\])]\s*"
    r"[\w-]+(?:\s*(?:[\[(]\s*(?:point|dot)\s*[\])]|\.)\s*[\w-]+)+",
    re.IGNORECASE,
)


def mask_emails(text: str, keep: Keep) -> str:
    text = _MAILTO.sub("", text)
    text = EMAIL_RE.sub(lambda m: m[0] if keep(m[0]) else EMAIL_MASK, text)
    return _OBFUSCATED_EMAIL.sub(EMAIL_MASK, text)


# ------------------------------------------------------------------------------ IBAN

# Lengths of the IBANs of the countries a French mailbox sees (SEPA, overseas, neighbours).
_IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22,
    "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MA": 28, "MC": 27, "MT": 31,
    "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
    "TN": 24, "TR": 26, "VA": 22, "DZ": 26, "SN": 28, "CI": 28,
}  # fmt: skip
_ISEP = "[ \u00a0\u202f-]"
_IBAN_RE = re.compile(
    rf"(?<![A-Za-z0-9])[A-Z]{{2}}{_ISEP}?\d{{2}}(?:{_ISEP}?[A-Z0-9]{{1,4}}){{2,8}}(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_IBAN_GROUP = re.compile(r"[A-Za-z0-9]+")
# Said to be an IBAN: taken even when its length or its check digits are wrong (a typo).
_IBAN_CONTEXT = re.compile(r"\b(?:IBAN|RIB|compte|virement)\b[^\n]{0,30}$", re.IGNORECASE)


def iban_checksum_ok(compact: str) -> bool:
    """ISO 13616 mod 97: the four first characters moved to the end, letters as 10–35."""
    moved = compact[4:] + compact[:4]
    digits = "".join(str(int(c, 36)) for c in moved)
    return int(digits) % 97 == 1


def _iban_span(match: re.Match[str], said: bool) -> int | None:
    """The end of the longest IBAN that starts the match (trailing words such as « BIC » are
    not part of it), or None. `said`: the text calls it an IBAN."""
    written = match[0]
    if written[:2].islower() and not written[2].isdigit():
        return None  # « de 12 … » is French, not a German account
    groups = list(_IBAN_GROUP.finditer(written))
    while groups and groups[-1][0].isalpha():
        groups.pop()  # « … 189 BIC », « … 034 reçu »
    expected = _IBAN_LENGTHS.get(written[:2].upper())
    for count in range(len(groups), 0, -1):
        end = groups[count - 1].end()
        compact = re.sub(r"[^A-Z0-9]", "", written[:end].upper())
        if len(compact) < 14:
            break
        if len(compact) == expected or iban_checksum_ok(compact):
            return match.start() + end
    if said and groups and expected is not None:
        return match.start() + groups[-1].end()
    return None


def mask_ibans(text: str) -> str:
    out: list[str] = []
    position = 0
    for match in _IBAN_RE.finditer(text):
        if match.start() < position:
            continue
        said = bool(_IBAN_CONTEXT.search(text[max(0, match.start() - 40) : match.start()]))
        end = _iban_span(match, said)
        if end is None:
            continue
        out += [text[position : match.start()], IBAN_MASK]
        position = end
    out.append(text[position:])
    return "".join(out)


# ------------------------------------------------------------------------------ cards

_CARD_RE = re.compile(r"(?<![\d,.])[3-6]\d{3}(?:[ \u00a0-]?\d){11,15}(?!\d|,\d)")


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match[0])
    grouped = bool(re.fullmatch(r"\d{4}(?:[ \u00a0-]\d{4}){3}", match[0]))
    if len(digits) in (15, 16, 19) and (luhn_ok(digits) or grouped):
        return CARD_MASK
    return match[0]


def mask_cards(text: str) -> str:
    return _CARD_RE.sub(_card, text)


# ------------------------------------------------------------------------------ NIR

_NSEP = r"[ .\u00a0\u202f-]?"
_NIR_RE = re.compile(
    rf"(?<![\w,])([1-478]){_NSEP}(\d{{2}}){_NSEP}(\d{{2}}){_NSEP}(2[AB]|\d{_NSEP}\d)"
    rf"((?:{_NSEP}\d){{6}})(?:{_NSEP}(\d{{2}}))?(?![\w])",
    re.IGNORECASE,
)
_NIR_CONTEXT = re.compile(
    r"(?:s[ée]curit[ée]\s+sociale|\bNIR\b|\bn°\s*SS\b|\bINSEE\b|\bNSS\b|assur[ée]\s+social)",
    re.IGNORECASE,
)

# SIREN/SIRET are kept: « SIRET 213 100 407 00012 » is not a NIR.
_SIRE_CONTEXT = re.compile(r"\bSIRE[NT]\b", re.IGNORECASE)
_SIRET_GROUPING = re.compile(r"\d{3} \d{3} \d{3} ?\d{5}")


def nir_key(number13: str) -> int:
    """The NIR key: 97 minus (the 13 characters mod 97), Corsica's 2A/2B read as 19/18."""
    value = number13.upper().replace("2A", "19").replace("2B", "18")
    return 97 - int(value) % 97


def _nir(match: re.Match[str], text: str) -> str:
    sex, _year, month, dept, rest, key = match.groups()
    body = re.sub(r"[^0-9AB]", "", f"{sex}{_year}{month}{dept}{rest}".upper())
    if len(body) != 13 or not (1 <= int(month) <= 12 or 20 <= int(month) <= 99):
        return match[0]
    before = text[max(0, match.start() - 60) : match.start()]
    if _SIRE_CONTEXT.search(before[-25:]) or _SIRET_GROUPING.fullmatch(match[0]):
        return match[0]
    context = bool(_NIR_CONTEXT.search(before))
    spaced = " " in match[0] or "." in match[0]
    if key is not None and (nir_key(body) == int(key) or context or spaced):
        return NIR_MASK
    if key is None and (context or spaced):
        return NIR_MASK
    return match[0]


def mask_nirs(text: str) -> str:
    return _NIR_RE.sub(lambda m: _nir(m, text), text)


# ------------------------------------------------------------------------------ phones

_PSEP = r"[ .\-\u00a0\u202f]?"
# What `phonenumbers` does not find: French numbers written with odd groupings, overseas and
# other international numbers whose plan it rejects (+269 639…), « (0)1 … ».
_PHONE_RE = re.compile(
    rf"(?<![\w+/,])(?:(?:\+|00|\(\+){_PSEP}\d{{2,3}}\)?{_PSEP}(?:\(0\){_PSEP})?\d(?:{_PSEP}\d){{5,11}}"
    rf"|(?:\(0\)|0){_PSEP}[1-9](?:{_PSEP}\d){{8}})(?![\d,]|/\d)"
)
# Extensions and short numbers given as a direct line: « poste 4512 », « Tél. : 4512 ».
_SHORT_RE = re.compile(
    r"(?:\b(?:poste|ext\.?|extension)\s*(?:n°\s*)?:?\s*(\d{2,6})"
    r"|\bt[ée]l(?:[ée]phone)?\.?\s*:?\s*(\d{4,6}))\b(?![ .\-]?\d)",
    re.IGNORECASE,
)


_DIALLED = ("+", "00", "0", "(0")


def _digits_key(number: str) -> str:
    """A phone number as national French digits when it is French, else its digits."""
    digits = re.sub(r"\D", "", number.replace("(0)", ""))
    if digits.startswith("0033"):
        digits = "0" + digits[4:]
    elif number.lstrip().startswith("+33"):
        digits = "0" + digits[2:]
    return digits


def phone_key(number: str) -> str:
    return _digits_key(number)


def mask_phones(text: str, keep: Keep) -> str:
    spans: list[tuple[int, int]] = []
    for found in phonenumbers.PhoneNumberMatcher(
        text, "FR", leniency=phonenumbers.Leniency.POSSIBLE
    ):
        # A number without a trunk or an international prefix is an article or a reference.
        if found.raw_string.startswith(_DIALLED) and not keep(found.raw_string):
            spans.append((found.start, found.end))
    for match in _PHONE_RE.finditer(text):
        if not keep(match[0]) and not any(s <= match.start() < e for s, e in spans):
            spans.append(match.span())
    for match in _SHORT_RE.finditer(text):
        group = 1 if match[1] else 2
        if not keep(match[group]) and not any(s <= match.start() < e for s, e in spans):
            spans.append(match.span(group))
    return _replace_spans(text, spans, PHONE_MASK)


def _replace_spans(text: str, spans: list[tuple[int, int]], mask: str) -> str:
    out: list[str] = []
    position = 0
    for start, end in sorted(spans):
        if start < position:
            continue
        out += [text[position:start], mask]
        position = end
    out.append(text[position:])
    return "".join(out)


# ------------------------------------------------------------------------------ plates

# SIV (since 2009: AB-123-CD) and FNI (before: 1234 AB 75) registrations.
_PLATE_RE = re.compile(
    r"(?<![\w-])(?:[A-HJ-NP-TV-Z]{2}[ -]?\d{3}[ -]?[A-HJ-NP-TV-Z]{2}"
    r"|\d{1,4}[ -]?[A-Z]{1,3}[ -]?(?:\d{2}|2[AB]|97\d))(?![\w-])"
)
_PLATE_CONTEXT = re.compile(r"immatricul|plaque|v[ée]hicule", re.IGNORECASE)


def mask_plates(text: str) -> str:
    def plate(match: re.Match[str]) -> str:
        if match[0][0].isalpha() and "-" in match[0]:
            return PLATE_MASK
        before = text[max(0, match.start() - 40) : match.start()]
        return PLATE_MASK if _PLATE_CONTEXT.search(before) else match[0]

    return _PLATE_RE.sub(plate, text)


# ------------------------------------------------------------------------------ postal

_STREET = (
    r"(?:rue|avenue|av\.|bd|boulevard|bld|place|pl\.|all[ée]e|chemin|ch\.|impasse|imp\.|route|"
    r"rte|quai|cours|square|sq\.|r[ée]sidence|lotissement|lot\.|cit[ée]|passage|faubourg|"
    r"fbg|sentier|voie|rond-point|hameau|lieu-dit|mont[ée]e|esplanade|parvis|promenade|"
    r"villa|clos|domaine|chauss[ée]e|venelle|ruelle|traverse|bis\s+rue)"
)
_POSTCODE_CITY = (
    r"(?:,|\s[-–]\s)?[ \u00a0]*(?:\n[ \t]*)?(?:(?:BP|CS|TSA)\s*\d+[ \u00a0]*(?:[,-–][ \u00a0]*)?)?"
    r"\d{2}[ \u00a0]?\d{3}[ \u00a0]+[A-ZÉÈÊÎÔ][\w'’\-]*(?:[ \u00a0-]+[A-ZÉÈÊÎÔa-zé][\w'’\-]*){0,3}?"
    r"(?:[ \u00a0]+(?i:cedex)(?:[ \u00a0]*\d{1,2})?)?(?=[\s,.;)]|$)"
)
_PARTICLE = (
    r"(?:de[ \u00a0]+la|de[ \u00a0]+l['’]|du|des|de|d['’]|la|le|les|l['’]|aux|au|sur|sous|en|et)"
)
_CAP_WORD = r"(?:[A-Z]\.|[A-ZÉÈÊÀÂÎÔ0-9][\w'’-]*)"
_STREET_NAME = (
    rf"(?:{_PARTICLE}[ \u00a0]*)?{_CAP_WORD}"
    rf"(?:[ \u00a0]+(?:{_PARTICLE}[ \u00a0]*)?{_CAP_WORD}){{0,4}}"
)
_NUMBER = r"(?<![\w,.])\d{1,4}(?:[ \u00a0]?(?:bis|ter|quater|[A-D])\b)?,?[ \u00a0]+"
_ADDRESS_RE = re.compile(
    rf"{_NUMBER}(?:{_STREET}\b[ \u00a0]+{_STREET_NAME}(?P<city>{_POSTCODE_CITY})?"
    rf"|(?i:{_STREET})\b[ \u00a0]+[^\n,;()]{{1,50}}?{_POSTCODE_CITY})"
)
# Without a post code, a street address is a person's when the text says so.
_HOME = re.compile(
    r"(?:domicil|demeur|habit|r[ée]sid|adresse|domicile|n[ée]e?\s+au|sis\b|vit\b|loge)",
    re.IGNORECASE,
)
# A postbox with its post code: « BP 12, 31000 Toulouse Cedex ».
_POSTBOX_RE = re.compile(rf"\b(?:BP|CS|TSA)[ \u00a0]*\d+{_POSTCODE_CITY}")


def _address(match: re.Match[str], text: str) -> str:
    if match.group("city") is None and not re.search(r"\d{5}", match[0]):
        before = text[max(0, match.start() - 50) : match.start()]
        if not _HOME.search(before):
            return match[0]
    return ADDRESS_MASK


def mask_addresses(text: str) -> str:
    text = _ADDRESS_RE.sub(lambda m: _address(m, text), text)
    text = _POSTBOX_RE.sub(ADDRESS_MASK, text)
    # A post code and city line right after a masked street line is part of the address.
    return re.sub(
        rf"{re.escape(ADDRESS_MASK)}[ \t]*\n[ \t]*\d{{5}}[ \u00a0]+[A-ZÉÈ][^\n]{{0,40}}",
        ADDRESS_MASK,
        text,
    )
