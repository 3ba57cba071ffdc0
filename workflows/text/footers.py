"""Mobile footers and closing formulas in the languages of quote_markers.py, and the one pass
that cuts a reply's signature with these rules and those of signature.py.

signature.py knows the French and English ones; this module adds the same two cues for DE, ES,
IT, PT, NL, PL, SV, DA, NO, FI, RU, HU and CS ("Gesendet von Outlook für Android", "Enviado
desde mi iPhone", "Lähetetty iPhonesta", "Med venlig hilsen" …), read only near the end of the
new text so that a sentence that happens to start the same way is kept.
"""

# Cyrillic words are deliberate: their letters look like Latin ones to RUF001.
# ruff: noqa: RUF001

from __future__ import annotations

import re

from workflows.text.directives import is_directive_line, is_protective_line
from workflows.text.signature import SIGNATURE_RULES

# Whole lines; "{app}" stands for a device or app name of at most a few words.
MOBILE_FOOTERS: dict[str, tuple[str, ...]] = {
    "fr": (r"t[ée]l[ée]chargez\s+outlook\s+pour\s+{app}",),
    "de": (r"(?:gesendet|versendet|verschickt)\s+(?:von|vom|mit|aus|über)\s+{app}",
           r"von\s+meinem\s+{app}\s+gesendet", r"outlook\s+für\s+(?:android|ios)\s+herunterladen"),
    "es": (r"enviado\s+(?:desde|con|de|a\s+trav[ée]s\s+de)\s+{app}",
           r"obtener\s+outlook\s+para\s+(?:android|ios)"),
    "it": (r"inviato\s+(?:da|dal|dalla|dallo|con|tramite)\s+{app}",
           r"scarica\s+outlook\s+per\s+(?:android|ios)", r"ottieni\s+outlook\s+per\s+(?:android|ios)"),
    "pt": (r"enviad[oa]\s+(?:do|da|de|pelo|pela|via|a\s+partir\s+do)\s+{app}",
           r"obter\s+o\s+outlook\s+para\s+(?:android|ios)"),
    "nl": (r"(?:verzonden|verstuurd)\s+(?:vanaf|van|met|via|vanuit)\s+{app}",
           r"outlook\s+voor\s+(?:android|ios)\s+downloaden"),
    "pl": (r"wys[łl]an[eoay]\s+(?:z|ze|przez|przy\s+pomocy|za\s+pomoc[aą])\s+{app}",
           r"pobierz\s+outlook\s+dla\s+(?:android|ios)"),
    "sv": (r"skickat\s+(?:från|fr[aå]n|med|via)\s+{app}", r"h[äa]mta\s+outlook\s+f[öo]r\s+{app}"),
    "da": (r"sendt\s+(?:fra|med|via)\s+{app}", r"hent\s+outlook\s+til\s+{app}"),
    "no": (r"sendt\s+(?:fra|med|via)\s+{app}", r"f[åa]\s+outlook\s+for\s+{app}"),
    "fi": (r"l[äa]hetetty\s+{app}(?:sta|st[äa]|lta|lt[äa])", r"hanki\s+outlook\s+{app}"),
    "ru": (r"отправлено\s+(?:с|со|из|через)\s+{app}", r"получите?\s+outlook\s+для\s+{app}"),
    "hu": (r"{app}(?:r[óő]l|b[óő]l|val|vel)\s+k[üu]ldve", r"k[üu]ldve\s+(?:az?\s+)?{app}",
           r"outlook\s+{app}\s+let[öo]lt[ée]se"),
    "cs": (r"odesl[áa]no\s+(?:z|ze|pomoc[íi]|přes|prost[řr]ednictv[íi]m)\s+{app}",
           r"st[áa]hn[ěe]te\s+si\s+outlook\s+pro\s+{app}"),
}  # fmt: skip

# Whole lines, optionally followed by a comma and a name ("Pozdrawiam, Jan").
CLOSINGS: dict[str, tuple[str, ...]] = {
    "de": ("mit freundlichen grüßen", "mit freundlichen grüssen", "mit freundlichem gruß",
           "freundliche grüße", "freundliche grüsse", "viele grüße", "viele grüsse",
           "beste grüße", "liebe grüße", "herzliche grüße", "mfg", "gruß", "grüße"),
    "es": ("saludos", "un saludo", "saludos cordiales", "un cordial saludo", "atentamente",
           "cordialmente"),
    "it": ("cordiali saluti", "distinti saluti", "saluti", "un saluto", "cordialmente",
           "un caro saluto"),
    "pt": ("atenciosamente", "cumprimentos", "melhores cumprimentos",
           "com os melhores cumprimentos", "abraços", "um abraço", "saudações"),
    "nl": ("met vriendelijke groet", "met vriendelijke groeten", "vriendelijke groet",
           "vriendelijke groeten", "hartelijke groet", "hartelijke groeten", "groeten", "groet",
           "mvg"),
    "pl": ("pozdrawiam", "serdecznie pozdrawiam", "pozdrawiam serdecznie", "z poważaniem",
           "z wyrazami szacunku", "pozdrowienia"),
    "sv": ("med vänliga hälsningar", "vänliga hälsningar", "vänlig hälsning", "hälsningar",
           "mvh"),
    "da": ("med venlig hilsen", "venlig hilsen", "de bedste hilsner", "bedste hilsner",
           "mange hilsner", "hilsen", "mvh"),
    "no": ("med vennlig hilsen", "vennlig hilsen", "beste hilsen", "hilsen", "mvh"),
    "fi": ("ystävällisin terveisin", "parhain terveisin", "terveisin"),
    "ru": ("с уважением", "всего доброго", "всего хорошего", "с наилучшими пожеланиями"),
    "hu": ("üdvözlettel", "tisztelettel", "baráti üdvözlettel", "üdv"),
    "cs": ("s pozdravem", "s přátelským pozdravem", "se srdečným pozdravem", "zdravím"),
}  # fmt: skip

_APP = r"[\w.'’-]+(?:[ -][\w.'’-]+){0,4}"
_FOOTER = re.compile(
    r"^\s*(?:"
    + "|".join(p.replace("{app}", _APP) for ps in MOBILE_FOOTERS.values() for p in ps)
    + r")\s*[.!]?\s*$",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^\s*(?:"
    + "|".join(
        re.escape(p).replace(r"\ ", r"\s+")
        for p in sorted({p for ps in CLOSINGS.values() for p in ps}, key=len, reverse=True)
    )
    + r")\s*(?:[,.!]\s*(?:[^\W\d_][\w.'’ -]{0,40})?)?\s*$",
    re.IGNORECASE,
)
# "/John" (Swedish and Danish mails sign that way), alone on the last line.
_SLASH_NAME = re.compile(r"^\s*/[^\W\d_][\w'’.-]*(?:\s[^\W\d_][\w'’.-]*){0,2}\s*$")
_MAX_CARD_LINES = 6


def _content_after(lines: list[str], i: int) -> list[str]:
    return [line for line in lines[i + 1 :] if line.strip()]


def is_mobile_footer(lines: list[str], i: int) -> bool:
    """A footer line in the last three content lines."""
    return (
        len(lines[i]) <= 90
        and bool(_FOOTER.match(lines[i]))
        and (len(_content_after(lines, i)) <= 2)
    )


def is_closing(lines: list[str], i: int) -> bool:
    """A closing formula followed by a short card (a name, a title, a phone) at most."""
    if not _CLOSING.match(lines[i]):
        return False
    card = _content_after(lines, i)
    return len(card) <= _MAX_CARD_LINES and all(len(line) <= 80 for line in card)


def is_slash_name(lines: list[str], i: int) -> bool:
    return bool(_SLASH_NAME.match(lines[i])) and not _content_after(lines, i)


FOOTER_RULES = (
    ("mobile_footer_any_language", is_mobile_footer),
    ("closing_any_language", is_closing),
    ("slash_name", is_slash_name),
)


def drop_signatures(written: list[str], answers: list[int]) -> list[str]:
    """Cut at the first signature, footer or closing (signature.SIGNATURE_RULES, then
    footers.FOOTER_RULES); a NE PAS PUBLIER / HORS PÉRIMÈTRE line below the cut is kept, and a
    directive line is never a cut. An inline answer ("Oui." or "Vernon." under a quote) is not
    a name: only the strong rules (`-- `, a mobile footer, a closing, a contact card) cut there.
    """
    inline = set(answers)
    for i, line in enumerate(written):
        if not line.strip() or is_directive_line(line):
            continue
        rules = _STRONG_SIGNATURE_RULES if i in inline else _ALL_SIGNATURE_RULES
        if any(rule(written, i) for rule in rules):
            protective = [kept for kept in written[i:] if is_protective_line(kept)]
            return written[:i] + (["", *protective] if protective else [])
    return written


_WEAK_SIGNATURE_RULES = {"thanks_and_name", "dash_name", "lone_name", "slash_name"}
_ALL_SIGNATURE_RULES = [rule for _, rule in (*SIGNATURE_RULES, *FOOTER_RULES)]
_STRONG_SIGNATURE_RULES = [
    rule for name, rule in (*SIGNATURE_RULES, *FOOTER_RULES) if name not in _WEAK_SIGNATURE_RULES
]


def sign_off_only(written: list[str]) -> list[str]:
    """What is left of a reply whose whole text the signature cut removed, minus what nobody
    wrote by hand: mobile footers, and everything from a `-- ` delimiter on. "Merci,\\nMarie"
    stays; "Envoyé de mon iPhone" alone leaves nothing."""
    footer_rules = [_SIGNATURE_RULE_BY_NAME["mobile_footer"], is_mobile_footer]
    kept: list[str] = []
    for i, line in enumerate(written):
        if line.strip() in {"--", "__"}:
            break
        if line.strip() and any(rule(written, i) for rule in footer_rules):
            continue
        kept.append(line)
    return kept


_SIGNATURE_RULE_BY_NAME = dict(SIGNATURE_RULES)
