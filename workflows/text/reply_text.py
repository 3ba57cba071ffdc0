"""What a person newly wrote in a reply: quotes, attributions, signatures and footers removed.

The maintained library mail-parser-reply finds the reply headers it knows (French and English
"wrote" lines, From/De blocks, "Original Message"); the small named rules below add what it
misses for the shapes our users send (Outlook FR, Gmail attributions wrapped over several lines,
Zimbra, forwards, `>` quoting, French closing formulas, mobile footers). Every rule is a
(name, predicate) pair so that it can be read, tested and reported alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from workflows.text.footers import drop_signatures, sign_off_only
from workflows.text.quote_markers import (
    ANY_LANGUAGE_ATTRIBUTION,
    FORWARDED_LINE,
    ISO_DATE_ATTRIBUTION,
    LABEL_ROLES,
    OPENER_ATTRIBUTION,
    ORIGINAL_MESSAGE_LINE,
    VERB_ONLY_LINE,
    YEAR_VERB_ATTRIBUTION,
    library_header_regex,
)
from workflows.text.reply_html import html_to_text
from workflows.text.signature import islice_from

__all__ = ["MAX_TEXT_CHARS", "extract_new_text", "html_to_text"]

# A reply's new text is at its top; past this many characters we only read the head, which
# keeps every rule linear and cheap on hostile or huge bodies.
MAX_TEXT_CHARS = 100_000

# Languages handed to mail-parser-reply: our users write French and, rarely, English.
LIBRARY_MAX_LINES = 400
LIBRARY_MAX_LINE = 300

# --------------------------------------------------------------------------- line shapes

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACES = dict.fromkeys(map(ord, "\u00a0\u202f\u2007\u2009"), " ")
_QUOTED = re.compile(r"^\s*>")
_BOLD = r"[*_]{0,2}"

# Labels of the header block that Outlook, Zimbra, Samsung and webmails write above a quote,
# by role: French and English here, the other languages in quote_markers.HEADER_LABELS.
_LABEL_GROUPS: dict[str, tuple[str, ...]] = {
    "from": ("from", "de", "von", "van", "fra", "från", "от", "od", "da"),
    "date": (
        "date", "sent", "envoyé", "envoye", "gesendet", "datum", "verzonden", "sendt",
        "skickat", "отправлено", "дата", "wysłano", "enviado", "fecha", "inviato", "data",
    ),
    "to": ("to", "à", "a", "an", "aan", "til", "till", "кому", "do", "para"),
    "subject": ("subject", "objet", "betreff", "onderwerp", "emne", "ämne", "тема", "temat",
                "asunto", "oggetto"),
    "other": ("cc", "cci", "bcc", "kopie", "kopi", "копия", "dw", "reply-to", "répondre à",
              "repondre a", "importance", "pièces jointes", "pièce jointe", "attachments"),
}  # fmt: skip
_LABEL_ROLE = {
    **LABEL_ROLES,
    **{word: role for role, words in _LABEL_GROUPS.items() for word in words},
}
_INLINE_LABEL = re.compile(
    r"\s(?:\*\*|\*)?("
    + "|".join(
        re.escape(word)
        for word, role in _LABEL_ROLE.items()
        if role in ("date", "subject") and " " not in word and len(word) >= 4
    )
    + r")(?:\*\*|\*)?\s*:\s",
    re.IGNORECASE,
)
_LABEL = re.compile(
    rf"^\s*{_BOLD}\s*(?P<label>"
    + "|".join(
        sorted((re.escape(w).replace(r"\ ", r"\s+") for w in _LABEL_ROLE), key=len, reverse=True)
    )
    + rf")\s*{_BOLD}\s*:",
    re.IGNORECASE,
)

# Orange and La Poste webmails: "Message du 03/03/25 10:02" above their De/A/Objet block.
# Newer ones write "Message du : 03/03/2025 10:02".
_MESSAGE_DU = re.compile(r"^\s*(?:>\s*)?message du\s*:?\s*\d{1,2}/\d{1,2}/\d{2,4}\b", re.IGNORECASE)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
_SEPARATOR_ONLY = re.compile(r"^\s*[-_=*~]{3,}\s*$")
# Outlook writes "[cid:image001.png@01DB…]" where an inline image (a logo) stood.
_IMAGE_PLACEHOLDER = re.compile(r"^\s*\[cid:[^\]]*\]\s*$", re.IGNORECASE)

_WROTE = r"(?:a\s+[ée]crit|wrote|sent|[ée]crit)"
_ATTRIBUTIONS = (
    # Gmail, Thunderbird, Apple Mail, Outlook for Mac, in French and English; dashes around it
    # on Android and some webmails. A date is required: "Le chef a écrit :" is prose.
    re.compile(rf"^-*\s*(?:le|on)\s(?=.*\d).{{2,300}}?{_WROTE}\s*:?\s*-*$", re.IGNORECASE),
    # "… <address@domain> wrote:" whatever comes before (Samsung, Polymail).
    re.compile(rf"^.{{0,300}}<\s*[^<>\s]+@[^<>\s]+\s*>\s*{_WROTE}\s*:?$", re.IGNORECASE),
    # "---- Jean Dupont wrote ----" (Android stock client).
    re.compile(rf"^-{{2,}}\s*.{{1,100}}\s{_WROTE}\s*-{{2,}}$", re.IGNORECASE),
    # Old Gmail: "2011/4/7 Nathan <support@example.com>" (with or without a colon).
    re.compile(r"^\d{4}[-/]\d{1,2}[-/]\d{1,2}\s.{0,200}<\s*[^<>\s]+@[^<>\s]+\s*>:?$"),
    # Any language: a time, a year and an address in <> or () followed by at most four words
    # and a colon ("Op 13-02-2014 3:18 schreef Julius <j@rome.com>:", "… <a@b.ru> написал:",
    # "2014-10-17 11:28 GMT+03:00 Postmaster <postmaster@x.org>:"). Prose rarely has the
    # address right before its final colon.
    re.compile(
        r"^(?=.*\d{1,2}[:.h]\d{2}(?!\d))(?=.*(?:19|20)\d{2})"
        r".{0,250}[<(]\s*[^<>()\s]+@[^<>()\s]+\s*[>)][\"']?\s*(?:[^\s<>()@:]+\s*){0,4}:$"
    ),
    # The verbs of quote_markers in every language: "Am … um 10:02 schrieb Max:", "W dniu …
    # o 10:02, Jan pisze:", "Matti <m@x.fi> kirjoitti 3.3.2025 klo 10.02:".
    ANY_LANGUAGE_ATTRIBUTION,
    OPENER_ATTRIBUTION,
    YEAR_VERB_ATTRIBUTION,
    ISO_DATE_ATTRIBUTION,
)
_MAX_ATTRIBUTION = 400
_ATTRIBUTION_START = re.compile(
    r"^\s*(?:-+\s*)?(?:le|on|am|el|il|em|op|w\s+dniu|den|dne|às|wiadomość)\s|^\s*\d|[<@]",
    re.IGNORECASE,
)

_GLUED_ATTRIBUTION = re.compile(
    r"^(?P<text>.*?[^\s-])\s*-{2,}\s*(?P<attribution>(?:on|le|am|el|em|op|den|dne)\s.*)$",
    re.IGNORECASE,
)

_PLACEHOLDER = re.compile(
    r"^\s*\[?\s*(?:ce message (?:est|a été envoyé) au format html|this is an? html(?: only)? "
    r"(?:message|email)|your (?:email|mail) client does not support html|votre (?:client|"
    r"logiciel) de messagerie ne (?:peut|prend) pas)",
    re.IGNORECASE,
)

# --------------------------------------------------------------------------- entry point


def extract_new_text(text: str, html: str | None = None) -> str:
    """Return what the sender wrote in this mail, without quotes, attributions, forwarded
    blocks, signatures and mobile footers; internal paragraphs are kept, the result stripped.

    `text` is the decoded text/plain body (may be empty), `html` the decoded text/html body.
    The HTML is read when the text part is empty or a "see the HTML" placeholder, and also
    when its result is a strict beginning of the text part's result: HTML marks quotes and
    signatures explicitly (blockquote, gmail_quote, divRplyFwdMsg, #Signature), so a longer
    text result means the text part hid a boundary (or was itself made from the HTML).
    """
    source = text or ""
    if not html:
        return _extract_plain(source)
    from_html = _extract_plain(html_to_text(html, strip_quotes=True))
    if not source.strip() or _PLACEHOLDER.match(source):
        return from_html
    from_text = _extract_plain(source)
    if from_html and _squeeze(from_text).startswith(_squeeze(from_html)):
        return from_html
    return from_text


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _extract_plain(source: str) -> str:
    lines = _split_glued_attributions(_normalise(source[:MAX_TEXT_CHARS]))
    headers = library_header_lines(lines)
    lines = lines[: _first_hard_cut(lines, headers)]
    written, answers = _drop_quotes(lines, headers)
    text = _tidy(drop_signatures(written, answers))
    # Never empty when the person wrote something: a reply that is only a sign-off ("Merci,
    # Marie", "Cordialement") keeps it rather than turning into nothing.
    return text or _tidy(sign_off_only(written))


def _split_glued_attributions(lines: list[str]) -> list[str]:
    """ "bla-bla--- On Wed, Apr 4, 2012 at 3:59 PM, me@x.com wrote:": a client glued the
    attribution to the last line of the text; it goes on a line of its own."""
    out: list[str] = []
    for line in lines:
        glued = None
        if "--" in line and len(line) <= _MAX_ATTRIBUTION and not _QUOTED.match(line):
            glued = _GLUED_ATTRIBUTION.match(line)
        if glued and _is_attribution([glued["attribution"]]):
            out += [glued["text"], glued["attribution"]]
        else:
            out.append(line)
    return out


def _normalise(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.translate(_INVISIBLE).translate(_SPACES)
    return [line.rstrip() for line in text.split("\n")]


# --------------------------------------------------------------------------- quote markers

HardRule = Callable[[list[str], int], bool]


def _is_header_block(lines: list[str], i: int) -> bool:
    """An Outlook/Zimbra block: a From/De (or Date/Envoyé) line, then within 6 lines at least
    one more label, among which a date or a subject ("De : x / À : y" alone may be prose)."""
    first = _label_role(lines[i])
    if first not in ("from", "date"):
        return False
    roles = {first} | _inline_roles(lines[i])
    for line in lines[i + 1 : i + 7]:
        role = _label_role(line)
        if role:
            roles.add(role)
    return len(roles) >= 2 and bool(roles & {"date", "subject"})


def _inline_roles(line: str) -> set[str]:
    """Date and subject labels further on the same line: HTML rendered "From: x Date: y" as
    one line when both sat in one <font>."""
    found = (_LABEL_ROLE.get(m.group(1).lower()) for m in _INLINE_LABEL.finditer(line[:400]))
    return {role for role in found if role in ("date", "subject")}


def _label_role(line: str) -> str | None:
    match = _LABEL.match(line)
    if not match:
        return None
    return _LABEL_ROLE.get(re.sub(r"\s+", " ", match.group("label").lower()))


HARD_RULES: list[tuple[str, HardRule]] = [
    ("original_message_separator", lambda lines, i: bool(ORIGINAL_MESSAGE_LINE.match(lines[i]))),
    ("forwarded_message_separator", lambda lines, i: bool(FORWARDED_LINE.match(lines[i]))),
    ("webmail_message_du", lambda lines, i: bool(_MESSAGE_DU.match(lines[i]))),
    ("underscore_separator", lambda lines, i: bool(_UNDERSCORES.match(lines[i]))),
    ("header_block", _is_header_block),
]


def attribution_span(lines: list[str], i: int) -> int:
    """Number of lines (1 to 3) of a "… a écrit :" / "… wrote:" line starting at i, or 0.

    Clients wrap long attributions (Gmail cuts before the address or before "écrit :"), so 2
    and 3 joined lines are tried when the first one opens like an attribution (Le/On, a date,
    an address): "Merci\nLe 3 mars … a écrit :" starts on its second line.
    """
    for n in (1, 2, 3):
        chunk = lines[i : i + n]
        if len(chunk) < n or not chunk[-1].strip() or _QUOTED.match(chunk[-1]):
            return 0
        if n > 1 and not _ATTRIBUTION_START.search(chunk[0]):
            return 0
        if _is_attribution(chunk):
            # Two-line Gmail: "2016-03-03 17:21 GMT+01:00 Some One <x@y>:" then "wrote:".
            following = lines[i + n] if i + n < len(lines) else ""
            return n + 1 if VERB_ONLY_LINE.match(following) else n
    return 0


def _is_attribution(chunk: list[str]) -> bool:
    joined = " ".join(part.strip() for part in chunk)
    if len(joined) > _MAX_ATTRIBUTION:
        return False
    return any(pattern.match(joined) for pattern in _ATTRIBUTIONS)


def library_header_lines(lines: list[str]) -> dict[int, int]:
    """Line index -> line count of each reply header that mail-parser-reply recognises.

    The library reads lines stripped of indentation; its patterns are quadratic on long lines,
    so it sees the first LIBRARY_MAX_LINES lines cut to LIBRARY_MAX_LINE chars (headers are
    short and near the top; our own rules still read everything).
    """
    head = [line.strip()[:LIBRARY_MAX_LINE] for line in lines[:LIBRARY_MAX_LINES]]
    stripped = "\n".join(head)
    found: dict[int, int] = {}
    for match in library_header_regex().finditer(stripped):
        header = match.group(0)
        start = match.start() + len(header) - len(header.lstrip("\n"))
        index = stripped.count("\n", 0, start)
        if _LABEL.match(head[index]) and not _is_header_block(head, index):
            continue  # its From/De blocks need only two labels: "De : x / À : y" is prose
        found.setdefault(index, header.strip("\n").count("\n") + 1)
    return found


def _next_content(lines: list[str], i: int) -> str | None:
    return next((line for line in islice_from(lines, i) if line.strip()), None)


def _soft_marker_span(lines: list[str], i: int) -> int:
    """Lines of a one-line separator ("-----Original Message-----", "---------- Forwarded
    message", "Message du …", underscores) and/or the header block under it, when `>`-quoted
    lines follow (Outlook's "prefix each line" mode, Zimbra): the quote is marked, so it is
    dropped line by line and what the person wrote between its lines stays. 0 otherwise."""
    one_line = (ORIGINAL_MESSAGE_LINE, FORWARDED_LINE, _MESSAGE_DU, _UNDERSCORES)
    if any(pattern.match(lines[i]) for pattern in one_line):
        j = i + 1
    elif _is_header_block(lines, i):
        j = i
    else:
        return 0
    while j < len(lines) and j - i < 12 and (not lines[j].strip() or _label_role(lines[j])):
        j += 1
    return j - i if _QUOTED.match(_next_content(lines, j) or "") else 0


def _first_hard_cut(lines: list[str], headers: dict[int, int]) -> int:
    """Index of the first line where the quoted or forwarded part begins (len when none).

    An attribution followed by `>` lines is not a cut: the quote is dropped line by line, so a
    reply written below or between quotes survives. Without `>` lines, everything after it is
    the quoted mail (Outlook-style and forwarded mails quote without markers).
    """
    for i, line in enumerate(lines):
        if _QUOTED.match(line) or not line.strip():
            continue
        if any(rule(lines, i) for _, rule in HARD_RULES):
            if _soft_marker_span(lines, i):
                continue  # "-----Original Message-----" over `>` lines: answers between them
            return i
        span = attribution_span(lines, i) or headers.get(i, 0)
        if span:
            following = _next_content(lines, i + span)
            if following is None or not _QUOTED.match(following):
                return i
    return len(lines)


def _drop_quotes(lines: list[str], headers: dict[int, int]) -> tuple[list[str], list[int]]:
    """Drop `>` lines, the attribution above them, and a quoted URL's tail that the client
    wrapped without its `>`; unquoted text between quotes (inline answers) is kept, a quote
    that stood between two of its lines leaving a blank line.

    Also returns the indexes (in the kept lines) of each first line written right under a
    dropped quote: an inline answer, which no weak signature rule may take for a name."""
    kept: list[str] = []
    answers: list[int] = []
    after_quote = False
    i = 0
    while i < len(lines):
        line = lines[i]
        span = attribution_span(lines, i) or headers.get(i, 0)
        if span and (_next_content(lines, i + span) or "").lstrip().startswith(">"):
            i += span
            continue
        marker = _soft_marker_span(lines, i)
        if marker:
            i += marker
            continue
        if _QUOTED.match(line):
            # Answers written between quoted lines stay separate paragraphs.
            if kept and kept[-1].strip():
                kept.append("")
            after_quote = True
            i += 1
            continue
        # A quoted URL broken by the client without its ">": one word, under a "://" line.
        wrapped = (
            0 < i < len(lines) - 1
            and len(line.split()) == 1
            and bool(_QUOTED.match(lines[i - 1]))
            and "://" in lines[i - 1]
            and bool(_QUOTED.match(lines[i + 1]))
        )
        if not wrapped:
            if after_quote and line.strip():
                answers.append(len(kept))
                after_quote = False
            kept.append(line)
        i += 1
    return kept, answers


# --------------------------------------------------------------------------- tidy


def _tidy(lines: list[str]) -> str:
    """Drop image placeholders and trailing separator lines, collapse blank runs, strip."""
    end = len(lines)
    while end and (not lines[end - 1].strip() or _SEPARATOR_ONLY.match(lines[end - 1])):
        end -= 1
    out: list[str] = []
    for line in lines[:end]:
        if _IMAGE_PLACEHOLDER.match(line):
            continue
        if not line.strip():
            if out and out[-1]:
                out.append("")
            continue
        out.append(line)
    return "\n".join(out).strip("\n").strip()
