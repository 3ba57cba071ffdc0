"""Text out of mail bytes: charsets that lie, 8-bit headers, RFC 3676 flowed text, file names,
and values safe to put back into a header."""

from __future__ import annotations

import html as html_lib
import re
import unicodedata
from email.header import decode_header

from workflows.text.invisible import strip_invisible
from workflows.text.reply_html import html_to_text

# C0 and C1 controls, DEL, and the Unicode line/paragraph separators: never in a header.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES_RE = re.compile(r"\s+")
# An HTML/XML tag or comment (`<b>`, `</script >`, `<img src=x onerror=…>`, `<!-- -->`); an
# angle-addr such as `<jean@x.fr>` is not one (no tag name followed by space, `/` or `>`).
_INLINE_TAGS = frozenset("a abbr b bdi bdo em font i mark s small span strong sub sup u".split())
_TAG_RE = re.compile(r"<!--.*?(?:-->|$)|</?[a-zA-Z][\w:.-]*(?:\s[^<>]*)?/?\s*>", re.DOTALL)
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
_ASCII_NAMES = {"", "us-ascii", "ascii", "ansi_x3.4-1968", "646", "us", "7bit", "8bit"}
_LATIN_NAMES = {
    "iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "cp1252", "windows-1252",
    "iso-8859-15", "iso8859-15", "latin-9",
}  # fmt: skip
# Names mail software writes that Python does not know, or knows as a narrower subset.
_ALIASES = {
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode20utf8": "utf-8",
    "utf8mb4": "utf-8",
    "x-mac-roman": "mac_roman",
    "windows-874": "cp874",
    "iso-8859-8-i": "iso-8859-8",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
}
_FALLBACKS = ("utf-8", "cp1252")


def clean_header_value(s: str, max_len: int = 998) -> str:
    """A value safe to write in a header: no CR, LF, NUL or other control characters (a
    decoded subject or display name can hold them, RFC 2047 encoded), no lone surrogates,
    spaces collapsed, at most `max_len` characters (RFC 5322 §2.1.1: 998 per line)."""
    s = _SURROGATE_RE.sub("\ufffd", s)
    s = _CONTROL_RE.sub(" ", s)
    return _SPACES_RE.sub(" ", s).strip()[:max_len]


def clean_display_text(s: str, max_len: int = 200) -> str:
    """A display name or subject from a mail, fit for any header, page or log: markup tags
    removed (their text kept), bidi controls and invisible characters removed, controls turned
    into spaces, spaces collapsed, at most `max_len` characters. "" when nothing is left."""
    s = strip_invisible(_SURROGATE_RE.sub("\ufffd", s[: max_len * 20]))
    previous = None
    while previous != s:  # `<scr<b>ipt>`: the tag that forms once the inner one is gone
        previous, s = s, _TAG_RE.sub(_tag_space, s)
    return clean_header_value(s, max_len)


def _tag_space(match: re.Match[str]) -> str:
    """A tag that separates words (`Jean<br>Dupont`) leaves a space, an inline one nothing."""
    name = match.group(0).lstrip("</!").split(">")[0].split()[0].rstrip("/").lower()
    return "" if name in _INLINE_TAGS else " "


def _codec_name(charset: str | None) -> str:
    name = (charset or "").strip().strip("\"'").lower()[:64]
    return _ALIASES.get(name, name)


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode a body: the declared charset when it fits the bytes, else utf-8, cp1252, and
    latin-1 (which cannot fail). Returns the text and a defect description or None."""
    if not data:
        return "", None
    name = _codec_name(charset)
    problem: str | None = None
    if name in _LATIN_NAMES and not data.isascii() and _is_utf8(data):
        # Web forms and some mobile clients declare latin-1 and send utf-8; genuine latin-1
        # text is almost never valid multi-byte utf-8.
        return data.decode("utf-8"), f"charset {name} declared, bytes are utf-8"
    if name not in _ASCII_NAMES:
        try:
            return data.decode(name), None
        except LookupError:
            problem = f"unknown charset {name!r}"
        except (UnicodeDecodeError, ValueError):
            problem = f"charset {name} does not match the bytes"
    elif data.isascii():
        return data.decode("ascii"), None
    for fallback in _FALLBACKS:
        try:
            return data.decode(fallback), problem
        except UnicodeDecodeError:
            if fallback == "utf-8" and _multibyte(name):
                # A CJK text with a few bad bytes is still best read in its own charset.
                return data.decode(name, errors="replace"), problem
    return data.decode("latin-1", errors="replace"), problem or "8-bit bytes read as latin-1"


def _multibyte(name: str) -> bool:
    if (
        name in _LATIN_NAMES
        or name in _ASCII_NAMES
        or name.startswith(("utf", "iso-8859", "cp12", "windows-12"))
    ):
        return False
    try:
        b"a".decode(name)
    except (LookupError, UnicodeDecodeError, ValueError):
        return False
    return True


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def unsurrogate(s: str) -> str:
    """Re-decode the raw 8-bit bytes the parser kept as surrogate escapes (8-bit headers,
    RFC 6532 or not) with the fallback chain utf-8 → cp1252 → latin-1."""
    if not _SURROGATE_RE.search(s):
        return s
    try:
        data = s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return _SURROGATE_RE.sub("\ufffd", s)
    return decode_bytes(data, None)[0]


def decode_words_fallback(value: str) -> str:
    """RFC 2047 decoding with `email.header` when the modern parser gave up."""
    try:
        chunks = decode_header(value)
    except Exception:
        return value
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset)[0])
        else:
            out.append(chunk)
    return "".join(out)


def unflow(text: str, delsp: bool = False) -> str:
    """RFC 3676 §4.2: join the soft line breaks of `format=flowed` text (Thunderbird, Apple
    Mail), keeping quote depth; the signature separator `-- ` stays a line of its own."""
    out: list[str] = []
    pending: str | None = None
    pending_depth = 0
    for line in text.replace("\r\n", "\n").split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # §4.4 space-stuffing
        if pending is not None and depth != pending_depth:
            out.append(_quoted(pending, pending_depth))
            pending = None
        flowed = content.endswith(" ") and content != "-- "
        if flowed and delsp:
            content = content[:-1]
        pending = content if pending is None else pending + content
        pending_depth = depth
        if not flowed:
            out.append(_quoted(pending, depth))
            pending = None
    if pending is not None:
        out.append(_quoted(pending, pending_depth))
    return "\n".join(out)


def _quoted(content: str, depth: int) -> str:
    return (">" * depth + " " + content) if depth else content


def strip_comments(value: str) -> str:
    """Remove RFC 5322 comments (nested, with quoted pairs) without recursion; text inside
    quoted strings is kept. Unbalanced parentheses drop the rest of the value."""
    out: list[str] = []
    depth = 0
    in_quotes = False
    escaped = False
    for char in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\":
            escaped = True
            if depth == 0:
                out.append(char)
            continue
        if in_quotes:
            out.append(char)
            in_quotes = char != '"'
            continue
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth == 0:
            out.append(char)
            in_quotes = char == '"'
    return "".join(out)


def clean_filename(name: str) -> str:
    """A file name as the sender meant it, without directory parts or control characters."""
    name = unicodedata.normalize("NFC", clean_header_value(name, 1000))
    name = re.split(r"[\\/]", name)[-1].strip().lstrip(".").strip()
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 190 - len(ext)] + dot + ext) if dot and len(ext) <= 10 else name[:200]
    return name


def html_text(html: str, max_chars: int) -> str:
    """Readable text of an HTML body (scripts and styles dropped, blocks on their own lines,
    entities decoded), with the converter the reply-text extraction uses."""
    html = html[:max_chars]
    try:
        return html_to_text(html)
    except Exception:  # a converter failure must not lose the mail: strip the tags
        text = re.sub(r"(?is)<(script|style|head)\b.*?</\1\s*>", " ", html)
        text = re.sub(r"(?i)<br\s*/?>|</(p|div|li|tr|h[1-6])\s*>", "\n", text)
        return html_lib.unescape(re.sub(r"<[^>]*>", "", text)).strip()
