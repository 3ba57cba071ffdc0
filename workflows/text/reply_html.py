"""HTML mail bodies turned into readable text, optionally without the quoted part.

Stdlib `html.parser` only: mail HTML is tag soup, so we keep a lenient element stack (an end
tag closes everything opened after its start tag; unknown end tags are ignored) and never
build a tree.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["MAX_HTML_CHARS", "html_to_text"]

# Past this many characters the rest of an HTML body is not read (a reply is at the top).
MAX_HTML_CHARS = 1_000_000

_VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr",
}  # fmt: skip
_BLOCK = {
    "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody",
    "thead", "tfoot", "tr", "ul",
}  # fmt: skip
_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre"}
_INVISIBLE = {"head", "style", "script", "title", "template", "noscript", "xml"}

# Elements that hold the quoted mail or a signature: skipped with their content.
_QUOTE_CLASSES = {
    "gmail_quote", "gmail_quote_container", "gmail_attr", "gmail_signature",
    "moz-cite-prefix", "moz-signature", "moz-forward-container", "yahoo_quoted",
    "protonmail_quote", "zmail_extra",
}  # fmt: skip
_QUOTE_IDS = {"signature", "applemailsignature", "divtagdefaultwrapper_signature"}
# Elements after which everything is the quoted mail (Outlook web and desktop, Hotmail,
# Zimbra): reading stops there.
_STOP_IDS = {"divrplyfwdmsg", "appendonsend", "stopspelling", "zwchr", "mail-editor-reference-message-container"}  # fmt: skip
_OUTLOOK_BORDER = re.compile(r"border-top\s*:\s*solid\s+#(?:e1e1e1|b5c4df)", re.IGNORECASE)

_WS = re.compile(r"[ \t\n\r\f\v]+")


def html_to_text(html: str, strip_quotes: bool = False) -> str:
    """Readable text of an HTML body: one line per block, blank lines between paragraphs.

    With `strip_quotes`, blockquotes, Gmail/Thunderbird/Yahoo quote containers, signatures
    and everything after Outlook's reply header are left out.
    """
    parser = _TextParser(strip_quotes)
    parser.feed(html[:MAX_HTML_CHARS])
    parser.close()
    return parser.text()


class _TextParser(HTMLParser):
    def __init__(self, strip_quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.strip_quotes = strip_quotes
        self.out: list[str] = []
        self.stack: list[str] = []  # open elements; "p.line" for Outlook's one-line paragraphs
        self.skip_at: int | None = None  # stack depth of the element being skipped
        self.stopped = False
        self.pre = 0
        self.has_text = False

    # -- structure

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.stopped:
            return
        attributes = {name: value or "" for name, value in attrs}
        if self.skip_at is None and self.strip_quotes and self._stops(tag, attributes):
            self.stopped = True
            return
        if tag in _VOID:
            if self.skip_at is None:
                self._void(tag)
            return
        if tag == "p" and "mso" in attributes.get("class", "").lower():
            tag = "p.line"  # Word's MsoNormal paragraphs are lines: blank ones are &nbsp;
        self.stack.append(tag)
        if self.skip_at is not None:
            return
        if tag in _INVISIBLE or (self.strip_quotes and self._quote(tag, attributes)):
            self.skip_at = len(self.stack)
            return
        if tag == "pre":
            self.pre += 1
        self._block_edge(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.stopped:
            return
        if tag == "p" and "p" not in self.stack and "p.line" in self.stack:
            tag = "p.line"
        if tag not in self.stack:
            return
        while self.stack:
            closed = self.stack.pop()
            if self.skip_at is not None:
                if len(self.stack) < self.skip_at:
                    self.skip_at = None
            else:
                if closed == "pre":
                    self.pre -= 1
                self._block_edge(closed)
            if closed == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.stopped or self.skip_at is not None:
            return
        if self.pre:
            self.out.append(data)
            self.has_text = self.has_text or bool(data.strip())
            return
        data = _WS.sub(" ", data)
        if self._at_line_start():
            data = data.lstrip(" ")
        if data:
            self.out.append(data)
            self.has_text = self.has_text or bool(data.strip())

    # -- decisions

    @staticmethod
    def _stops(tag: str, attributes: dict[str, str]) -> bool:
        if attributes.get("id", "").lower() in _STOP_IDS:
            return True
        # Outlook desktop puts its "De : … Envoyé : …" block in a div with a thin top border.
        return tag == "div" and bool(_OUTLOOK_BORDER.search(attributes.get("style", "")))

    @staticmethod
    def _quote(tag: str, attributes: dict[str, str]) -> bool:
        if tag == "blockquote":
            return True
        classes = set(attributes.get("class", "").lower().split())
        if classes & _QUOTE_CLASSES or attributes.get("data-smartmail") == "gmail_signature":
            return True
        return attributes.get("id", "").lower() in _QUOTE_IDS

    # -- output

    def _void(self, tag: str) -> None:
        if tag == "br":
            self.out.append("\n")
        elif tag == "hr":
            self._newlines(1)

    def _block_edge(self, tag: str) -> None:
        if tag in _PARAGRAPH:
            self._newlines(2)
        elif tag in _BLOCK or tag == "p.line":
            self._newlines(1)
        elif tag in {"td", "th"}:
            self.out.append(" ")

    def _tail(self) -> str:
        for part in reversed(self.out):
            if part.strip(" "):
                return part
        return "\n"

    def _at_line_start(self) -> bool:
        return self._tail().endswith("\n")

    def _newlines(self, wanted: int) -> None:
        """Make the output end with at least `wanted` line breaks (text written so far)."""
        if not self.has_text:
            return
        joined = "".join(self.out[-4:]).rstrip(" ")
        have = len(joined) - len(joined.rstrip("\n"))
        self.out.append("\n" * max(0, wanted - have))

    def text(self) -> str:
        lines = [line.rstrip() for line in "".join(self.out).replace("\xa0", " ").split("\n")]
        kept: list[str] = []
        for line in lines:
            if line or (kept and kept[-1]):
                kept.append(line)
        return "\n".join(kept).strip()
