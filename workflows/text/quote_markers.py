"""Per-language tables of the lines mail clients write above a quoted or forwarded mail.

FR, EN, DE, ES, IT, PT, NL, PL, SV, DA, NO, FI, RU, HU and CS, as Outlook (desktop, web, mobile),
Gmail, Apple Mail, Thunderbird and the French webmails (Orange, Free, SFR, La Poste, Zimbra)
write them. The tables are data; the compiled patterns at the bottom are what reply_text.py
reads. Everything is matched case-insensitively, on lines with non-breaking spaces already
turned into spaces.
"""

# Cyrillic words are deliberate: their letters look like Latin ones to RUF001.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from functools import cache

from mailparser_reply import EmailReplyParser

# Words of "… wrote:" attributions ("Am … schrieb …:", "W dniu … pisze:", "… kirjoitti:").
ATTRIBUTION_VERBS: dict[str, tuple[str, ...]] = {
    "fr": ("a écrit", "a ecrit", "écrit"),
    "en": ("wrote", "writes"),
    "de": ("schrieb", "hat geschrieben", "geschrieben"),
    "es": ("escribió", "escribio"),
    "it": ("ha scritto", "scrisse"),
    "pt": ("escreveu",),
    "nl": ("schreef", "het volgende geschreven", "geschreven"),
    "pl": ("pisze", "napisał", "napisała", "napisał(a)", "napisana przez", "napisał/a"),
    "sv": ("skrev",),
    "da": ("skrev",),
    "no": ("skrev",),
    "fi": ("kirjoitti",),
    "ru": ("написал", "написала", "написал(а)", "пишет", "писал", "писала"),
    "hu": ("írta", "irta"),
    "cs": ("napsal", "napsala", "napsal(a)"),
}

# Words that open an "On <date> … wrote:" attribution ("Am", "El", "Il giorno", "W dniu" …).
ATTRIBUTION_OPENERS: dict[str, tuple[str, ...]] = {
    "fr": ("le",), "en": ("on", "at"), "de": ("am",), "es": ("el",), "it": ("il giorno",),
    "pt": ("em", "às"), "nl": ("op",), "pl": ("w dniu", "dnia"), "sv": ("den",),
    "da": ("den",), "no": ("den",), "cs": ("dne",),
}  # fmt: skip

# Separators above the quoted mail: "-----Original Message-----" and its translations.
ORIGINAL_MESSAGE: dict[str, tuple[str, ...]] = {
    "fr": ("message d'origine", "message d’origine", "mail original", "message original",
           "courriel original", "e-mail original"),
    "en": ("original message", "original e-mail", "original email", "reply message"),
    "de": ("ursprüngliche nachricht", "original nachricht", "originalnachricht",
           "ursprüngliche e-mail"),
    "es": ("mensaje original", "correo original"),
    "it": ("messaggio originale",),
    "pt": ("mensagem original",),
    "nl": ("oorspronkelijk bericht", "origineel bericht"),
    "pl": ("oryginalna wiadomość", "wiadomość oryginalna"),
    "sv": ("ursprungligt meddelande", "originalmeddelande"),
    "da": ("oprindelig meddelelse", "original meddelelse"),
    "no": ("opprinnelig melding", "original melding"),
    "fi": ("alkuperäinen viesti",),
    "ru": ("исходное сообщение", "original message"),
    "hu": ("eredeti üzenet", "eredeti levél"),
    "cs": ("původní zpráva", "původní e-mail"),
}  # fmt: skip

# Dashed separators of a forwarded mail ("---------- Forwarded message ---------").
FORWARDED_MESSAGE: dict[str, tuple[str, ...]] = {
    "fr": ("message transféré", "message transfere", "mail transféré", "courriel transféré",
           "e-mail transféré", "message réexpédié"),
    "en": ("forwarded message", "forwarded e-mail", "forwarded email"),
    "de": ("weitergeleitete nachricht", "weitergeleitete e-mail"),
    "es": ("mensaje reenviado", "mensaje redirigido"),
    "it": ("messaggio inoltrato", "messaggio inoltrato originale"),
    "pt": ("mensagem encaminhada", "mensagem reencaminhada"),
    "nl": ("doorgestuurd bericht", "doorgestuurde e-mail"),
    "pl": ("wiadomość przekazana dalej", "przekazana wiadomość", "wiadomość przekazana"),
    "sv": ("vidarebefordrat meddelande", "vidarebefordrat brev"),
    "da": ("videresendt meddelelse", "videresendt besked", "videresendt e-mail"),
    "no": ("videresendt melding", "videresendt e-post"),
    "fi": ("välitetty viesti", "edelleenlähetetty viesti"),
    "ru": ("пересылаемое сообщение", "пересланное сообщение", "переадресованное сообщение"),
    "hu": ("továbbított üzenet", "továbbított levél"),
    "cs": ("přeposlaná zpráva", "přeposlaný e-mail"),
}  # fmt: skip

# Apple Mail's line above a forwarded mail, a colon at its end ("Begin forwarded message:").
FORWARD_INTROS: dict[str, tuple[str, ...]] = {
    "fr": ("début du message réexpédié", "début du message transféré"),
    "en": ("begin forwarded message",),
    "de": ("anfang der weitergeleiteten nachricht", "beginn der weitergeleiteten nachricht"),
    "es": ("inicio del mensaje reenviado", "comienzo del mensaje reenviado"),
    "it": ("inizio messaggio inoltrato", "inizio del messaggio inoltrato"),
    "pt": ("início da mensagem reencaminhada", "início da mensagem encaminhada"),
    "nl": ("begin doorgestuurd bericht", "begin van doorgestuurd bericht"),
    "pl": ("początek przekazywanej wiadomości", "początek przekazanej wiadomości"),
    "sv": ("vidarebefordrat brev", "början på vidarebefordrat meddelande"),
    "da": ("videresendt besked", "start på videresendt besked"),
    "no": ("videresendt melding", "begynnelse på videresendt melding"),
    "fi": ("välitetty viesti alkaa", "edelleenlähetetty viesti alkaa"),
    "ru": ("начало переадресованного сообщения", "начало пересылаемого сообщения"),
    "hu": ("továbbított levél kezdete", "továbbított üzenet kezdete"),
    "cs": ("začátek přeposlané zprávy",),
}  # fmt: skip

# Labels of the header block Outlook, OWA, Zimbra and the webmails write above a quote, by role.
HEADER_LABELS: dict[str, dict[str, tuple[str, ...]]] = {
    "fr": {"from": ("de", "expéditeur"), "date": ("envoyé", "envoye", "date", "envoyé le"),
           "to": ("à", "a", "destinataire"), "subject": ("objet", "sujet"),
           "other": ("cc", "cci", "copie à", "copie a", "répondre à", "repondre a",
                     "pièces jointes", "pièce jointe", "importance")},
    "en": {"from": ("from",), "date": ("sent", "date"), "to": ("to",),
           "subject": ("subject",), "other": ("cc", "bcc", "reply-to", "attachments")},
    "de": {"from": ("von",), "date": ("gesendet", "datum"), "to": ("an",),
           "subject": ("betreff",), "other": ("kopie", "antwort an", "anlagen")},
    "es": {"from": ("de",), "date": ("enviado", "enviado el", "fecha"), "to": ("para",),
           "subject": ("asunto",), "other": ("cc", "cco", "responder a")},
    "it": {"from": ("da",), "date": ("inviato", "data"), "to": ("a",),
           "subject": ("oggetto",), "other": ("cc", "ccn", "rispondi a")},
    "pt": {"from": ("de",), "date": ("enviado", "enviada em", "enviado em", "data"),
           "to": ("para",), "subject": ("assunto",), "other": ("cc", "cco", "responder a")},
    "nl": {"from": ("van",), "date": ("verzonden", "datum"), "to": ("aan",),
           "subject": ("onderwerp",), "other": ("cc", "antwoord aan")},
    "pl": {"from": ("od",), "date": ("wysłano", "wysłane", "data"), "to": ("do",),
           "subject": ("temat",), "other": ("dw", "udw", "kopia")},
    "sv": {"from": ("från",), "date": ("skickat", "datum"), "to": ("till",),
           "subject": ("ämne",), "other": ("kopia", "kopia till")},
    "da": {"from": ("fra",), "date": ("sendt", "dato"), "to": ("til",),
           "subject": ("emne",), "other": ("cc", "kopi")},
    "no": {"from": ("fra",), "date": ("sendt", "dato"), "to": ("til",),
           "subject": ("emne",), "other": ("kopi", "kopi til")},
    "fi": {"from": ("lähettäjä",), "date": ("lähetetty", "päivämäärä", "päiväys"),
           "to": ("vastaanottaja",), "subject": ("aihe",), "other": ("kopio",)},
    "ru": {"from": ("от", "отправитель"), "date": ("отправлено", "дата"),
           "to": ("кому",), "subject": ("тема",), "other": ("копия",)},
    "hu": {"from": ("feladó",), "date": ("elküldve", "dátum", "küldve"), "to": ("címzett",),
           "subject": ("tárgy",), "other": ("másolatot kap", "másolat")},
    "cs": {"from": ("od",), "date": ("odesláno", "datum"), "to": ("komu",),
           "subject": ("předmět",), "other": ("kopie",)},
}  # fmt: skip

# --------------------------------------------------------------------------- compiled


def _alternation(phrases: set[str]) -> str:
    """Longest first, spaces matching any run of blanks, apostrophes either way."""
    escaped = (
        re.escape(p).replace(r"\ ", r"\s+").replace("'", "['’]").replace("’", "['’]")
        for p in sorted(phrases, key=len, reverse=True)
    )
    return "|".join(escaped)


def _union(table: dict[str, tuple[str, ...]]) -> set[str]:
    return {phrase for phrases in table.values() for phrase in phrases}


LABEL_ROLES: dict[str, str] = {
    word: role
    for roles in HEADER_LABELS.values()
    for role, words in roles.items()
    for word in words
}

_VERBS = _alternation(_union(ATTRIBUTION_VERBS))

ORIGINAL_MESSAGE_LINE = re.compile(
    rf"^\s*[*_]{{0,2}}\s*-{{2,}}\s*(?:{_alternation(_union(ORIGINAL_MESSAGE))})\s*-{{2,}}"
    r"\s*[*_]{0,2}\s*$",
    re.IGNORECASE,
)
FORWARDED_LINE = re.compile(
    rf"^\s*[*_]{{0,2}}\s*(?:-{{2,}}\s*(?:{_alternation(_union(FORWARDED_MESSAGE))})\s*-{{2,}}"
    rf"|(?:{_alternation(_union(FORWARD_INTROS))})\s*:)\s*[*_]{{0,2}}\s*$",
    re.IGNORECASE,
)
# "El jueves, 21 de noviembre de 2013, Juan escribió:", "Dne 3. 3. 2025 Jan Novák napsal(a)":
# an opener of ATTRIBUTION_OPENERS, a digit, and the verb at the end (no time needed).
_OPENERS = _alternation(_union(ATTRIBUTION_OPENERS))
OPENER_ATTRIBUTION = re.compile(
    rf"^[\s>-]*(?:{_OPENERS})\s(?=.{{0,300}}\d).{{0,300}}?(?<!\w)(?:{_VERBS})\s*:?\s*-*$",
    re.IGNORECASE,
)
# Verbs of the languages other than French and English.
_FOREIGN_VERBS = _alternation(
    {
        verb
        for lang, verbs in ATTRIBUTION_VERBS.items()
        if lang not in ("fr", "en")
        for verb in verbs
    }
)
# "Am 03.03.2025 um 10:02 schrieb Max <m@x.de>:", "W dniu … pisze:", "… kirjoitti 3.3.2025
# klo 10.02:", "Péter <p@x.hu> ezt írta (időpont: 2025. márc. 3., H, 10:02):": a date or time,
# one of the verbs as a word, and a colon at the end; plus a time or an address, which prose
# that merely mentions a date and someone writing rarely has. French and English attributions
# have their own stricter rules in reply_text.py: « Le courrier doit être écrit avant le 31
# mars 2025 à 12:00 : » is prose.
ANY_LANGUAGE_ATTRIBUTION = re.compile(
    r"^(?=.{0,300}\d)(?=.{0,300}(?:\d{1,2}[:.h]\d{2}(?!\d)|@))"
    rf"-*\s*.{{0,300}}?(?<!\w)(?:{_FOREIGN_VERBS})(?!\w).{{0,160}}:\s*-*$",
    re.IGNORECASE,
)
# "суббота, 14 марта 2015 … написал:" (Russian): a year, then a verb right before the final
# colon. Not for French and English verbs: « En 2019, le ministre a écrit : » is prose.
YEAR_VERB_ATTRIBUTION = re.compile(
    rf"^(?=.{{0,300}}(?:19|20)\d{{2}}).{{0,300}}?(?<!\w)(?:{_FOREIGN_VERBS})\s*:\s*$",
    re.IGNORECASE,
)
# Old Gmail: "2016-03-03 17:21 GMT+01:00 Some One" (the address and "wrote:" may follow).
ISO_DATE_ATTRIBUTION = re.compile(
    r"^\s*(?:19|20)\d{2}-\d{2}-\d{2} \d{1,2}:\d{2} GMT[+-]\d{2}:?\d{2} [^\s:][^:]{0,120}:?\s*$"
)

# Only a verb and a colon: the second line of a two-line Gmail attribution ("… <x@y>" then
# "wrote:" or "a écrit :").
VERB_ONLY_LINE = re.compile(rf"^\s*(?:{_VERBS})\s*:\s*$", re.IGNORECASE)


# mail-parser-reply's reply headers, in these languages (`reply_text.library_header_lines`).
LIBRARY_LANGUAGES = ("fr", "en")


@cache
def library_header_regex() -> re.Pattern[str]:
    """The library's reply-header pattern for our languages, built once (the library builds
    it, and reads an empty message, for every parser it makes)."""
    pattern: re.Pattern[str] = (
        EmailReplyParser(languages=list(LIBRARY_LANGUAGES)).read("").HEADER_REGEX
    )
    return pattern
