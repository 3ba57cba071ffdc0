"""Walking a message's MIME tree for its text bodies, attachments and delivery-report fields, within
the parse limits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import policy
from email.message import Message
from email.parser import BytesParser
from typing import Any

from mailbot.mail import mimetext
from mailbot.mail.mimeparts import (
    _BODY_TYPES,
    _REPORT_PART_TYPES,
    ParsedAttachment,
    ParseLimits,
    capped_policy,
    content_type_of,
    decoded_header,
    message_id_of,
    param_of,
    quoted_message_id,
    unfold,
)
from mailbot.mail.mimetext import clean_header_value, decode_bytes, unsurrogate

# --------------------------------------------------------------------------- bodies


class BodyWalker:
    """Walks the MIME tree once: body candidates, attachments, report parts."""

    def __init__(self, limits: ParseLimits, defects: list[str]) -> None:
        self.limits = limits
        self.defects = defects
        self.parts = 0
        self.plain: list[str] = []
        self.htmls: list[str] = []
        self.nested_plain: list[str] = []
        self.nested_htmls: list[str] = []
        self._top: str | None = None
        self.attachments: list[ParsedAttachment] = []
        self.status_blocks: list[dict[str, str]] = []
        self.recipients: list[dict[str, str]] = []
        self.original_message_id: str | None = None

    # -- traversal -------------------------------------------------------------------------
    def walk(self, part: Message, depth: int, nested: bool) -> None:
        self.parts += 1
        if self.parts > self.limits.max_parts:
            if self.parts == self.limits.max_parts + 1:
                self.defects.append(f"more than {self.limits.max_parts} parts: the rest ignored")
            return
        if depth > self.limits.max_depth:
            self.defects.append(f"parts nested deeper than {self.limits.max_depth}: ignored")
            return
        try:
            self._visit(part, depth, nested)
        except RecursionError:
            self.defects.append("part not readable: RecursionError")
        except Exception as err:
            self.defects.append(f"part not readable: {type(err).__name__}: {str(err)[:100]}")
        # The parser's own findings (decoding a payload adds some, hence after the visit).
        for defect in getattr(part, "defects", [])[:20]:
            name = type(defect).__name__
            if name not in self.defects:
                self.defects.append(name)

    def _visit(self, part: Message, depth: int, nested: bool) -> None:
        ctype = content_type_of(part)
        payload = part.get_payload()
        if ctype.startswith("multipart/"):
            if isinstance(payload, list):
                for child in payload:
                    if isinstance(child, Message):
                        self.walk(child, depth + 1, nested)
            else:
                self._unsplit_multipart(part, ctype, depth, nested)
            return
        if ctype in ("message/rfc822", "message/global") and isinstance(payload, list):
            self._nested_message(part, payload, depth, nested)
            return
        if ctype in _REPORT_PART_TYPES:
            if not nested:  # a report forwarded inside a message is that message's business
                self._report_part(part, ctype)
            return
        filename = self._filename(part)
        disposition = _disposition(part)
        if filename is None and disposition != "attachment" and ctype in _BODY_TYPES:
            # The body of a forwarded message stays inside its `.eml`; it is only read when
            # the mail itself has no body (a forward as attachment with nothing written).
            if nested:
                target = self.nested_plain if ctype == "text/plain" else self.nested_htmls
            else:
                target = self.plain if ctype == "text/plain" else self.htmls
            target.append(self._decode_text(part))
            return
        self._attachment(part, ctype, filename, disposition)

    def _unsplit_multipart(self, part: Message, ctype: str, depth: int, nested: bool) -> None:
        """The parser found no boundary (RFC 2046 §5.1.1). Unquoted boundaries holding `=` or
        spaces are common (old Outlook): read the parameter the lenient way and split again;
        otherwise keep the body as text."""
        boundary = _raw_param(part, "content-type", "boundary", self.limits)
        payload = part.get_payload()
        if boundary and isinstance(payload, str) and len(boundary) <= 200 and '"' not in boundary:
            self.defects.append("multipart boundary not quoted as required: read leniently")
            head = f'Content-Type: {ctype}; boundary="{boundary}"\r\n\r\n'.encode(
                "utf-8", "surrogateescape"
            )
            body = payload.encode("utf-8", "surrogateescape")
            pol = capped_policy(self.limits.max_header_chars)
            again = BytesParser(policy=pol).parsebytes(head + body)
            children = again.get_payload()
            if isinstance(children, list) and children:
                for child in children:
                    if isinstance(child, Message):
                        self.walk(child, depth + 1, nested)
                return
        self.defects.append("multipart without usable boundary: body read as text")
        if not nested:
            self.plain.append(self._decode_text(part))

    # -- leaves ----------------------------------------------------------------------------
    def _payload_bytes(self, part: Message) -> bytes:
        data = part.get_payload(decode=True)
        if isinstance(data, bytes):
            return data
        raw = part.get_payload()
        return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""

    def _decode_text(self, part: Message) -> str:
        data = self._payload_bytes(part)
        charset = param_of(part, "charset")
        text, problem = decode_bytes(data, charset)
        if problem:
            self.defects.append(problem)
        if param_of(part, "format") == "flowed":
            text = mimetext.unflow(text, delsp=param_of(part, "delsp") == "yes")
        return text

    def _filename(self, part: Message) -> str | None:
        try:
            name = part.get_filename()
        except Exception as err:
            self.defects.append(f"attachment name not readable: {type(err).__name__}")
            return None
        raw = _raw_param(part, "content-disposition", "filename", self.limits) or _raw_param(
            part, "content-type", "name", self.limits
        )
        if raw and (not name or (raw.startswith(str(name)) and len(raw) > len(str(name)))):
            # Unquoted values with spaces or `=` (`filename=This is a test.txt`,
            # `name==?utf-8?B?…?=`): the strict parser keeps only the first word.
            name = mimetext.decode_words_fallback(raw)
        if not name:
            return None
        cleaned = mimetext.clean_filename(unsurrogate(str(name)))
        return cleaned or None

    def _attachment(
        self, part: Message, ctype: str, filename: str | None, disposition: str | None
    ) -> None:
        data = self._payload_bytes(part)
        self._add_attachment(filename, ctype, data, disposition)

    def _add_attachment(
        self, filename: str | None, ctype: str, data: bytes, disposition: str | None
    ) -> None:
        size = len(data)
        if size > self.limits.max_attachment_bytes:
            self.defects.append(
                f"attachment {filename or ctype} of {size} bytes over the limit: not kept"
            )
            data = b""
        self.attachments.append(ParsedAttachment(filename, ctype, size, data, disposition))

    def _nested_message(self, part: Message, payload: list[Any], depth: int, nested: bool) -> None:
        """RFC 2046 §5.2.1: listed as an `.eml` attachment; its own attachments flattened."""
        inner = payload[0] if payload else None
        if not isinstance(inner, Message):
            self._attachment(part, content_type_of(part), self._filename(part), _disposition(part))
            return
        if self.original_message_id is None and not nested:
            mid = message_id_of(_raw_header(inner, "message-id", self.limits), "Message-ID", [])
            self.original_message_id = mid
        filename = self._filename(part) or _eml_name(inner, self.limits)
        self._add_attachment(filename, "message/rfc822", _message_bytes(inner), _disposition(part))
        self.walk(inner, depth + 1, nested=True)

    def _report_part(self, part: Message, ctype: str) -> None:
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            self._delivery_status(part)
        elif ctype == "text/rfc822-headers" and self.original_message_id is None:
            text, _ = decode_bytes(self._payload_bytes(part), param_of(part, "charset"))
            self.original_message_id = quoted_message_id(text)

    def _delivery_status(self, part: Message) -> None:
        """RFC 3464 §2.1: a per-message block, then one block per recipient."""
        payload = part.get_payload()
        blocks: list[dict[str, str]] = []
        if isinstance(payload, list):
            for block in payload:
                if isinstance(block, Message):
                    blocks.append(_block_fields(block.raw_items(), self.limits))
        if not any(_looks_like_status(b) for b in blocks):
            text = self._payload_text(part)
            blocks = [_fields_of_text(chunk, self.limits) for chunk in re.split(r"\n\s*\n", text)]
        blocks = [b for b in blocks if b]
        if not blocks:
            self.defects.append("delivery-status part without fields")
            return
        self.status_blocks.extend(blocks)
        self.recipients.extend(b for b in blocks if "final-recipient" in b or "action" in b)

    def _payload_text(self, part: Message) -> str:
        try:
            raw = part.as_bytes(policy=policy.compat32)
        except Exception:
            return ""
        body = raw.split(b"\n\n", 1)[-1] if b"\n\n" in raw else raw
        return decode_bytes(body.replace(b"\r\n", b"\n"), None)[0]

    # -- results ---------------------------------------------------------------------------
    def _top_text(self) -> str:
        if self._top is None:
            self._top = self._text_of(self.plain, self.htmls)
        return self._top

    def _use_nested(self) -> bool:
        return not self._top_text().strip() and bool(self.nested_plain or self.nested_htmls)

    def text(self) -> str:
        if self._use_nested():
            return self._cap(self._text_of(self.nested_plain, self.nested_htmls))
        return self._cap(self._top_text())

    def _text_of(self, plain: list[str], htmls: list[str]) -> str:
        if any(p.strip() for p in plain):
            return _join(plain)
        if htmls:
            limit = self.limits.max_body_chars * 5
            return _join([mimetext.html_text(h, limit) for h in htmls])
        return _join(plain)

    def html(self) -> str | None:
        htmls = self.nested_htmls if self._use_nested() else self.htmls
        if not htmls:
            return None
        return "\n".join(htmls)[: self.limits.max_body_chars * 5]

    def _cap(self, text: str) -> str:
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
        if len(text) > self.limits.max_body_chars:
            self.defects.append(f"body over {self.limits.max_body_chars} characters: cut")
            text = text[: self.limits.max_body_chars]
        return text

    def delivery_status(self) -> dict[str, str]:
        if not self.status_blocks:
            return {}
        merged = dict(self.status_blocks[0])
        recipients = self.recipients
        failed = [r for r in recipients if r.get("action", "").startswith("failed")]
        chosen = (failed or recipients or [{}])[0]
        merged.update(chosen)
        return merged


def _join(texts: list[str]) -> str:
    """Text parts one after the other (Apple Mail splits the body around inline images)."""
    out = ""
    for text in texts:
        if out and not out.endswith("\n"):
            out += "\n"
        out += text
    return out


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _raw_header(part: Message, name: str, limits: ParseLimits) -> str | None:
    for key, value in part.raw_items():
        if key.lower() == name:
            return unsurrogate(str(value)[: limits.max_header_chars])
    return None


def _raw_param(part: Message, header: str, name: str, limits: ParseLimits) -> str | None:
    """A parameter read the lenient way: up to the next `;`, quotes optional."""
    value = _raw_header(part, header, limits)
    if not value:
        return None
    match = re.search(
        rf'(?:^|;)\s*{name}\s*=\s*(?:"([^"]*)"|([^;]*))', unfold(value), re.IGNORECASE
    )
    if not match:
        return None
    found = (match.group(1) if match.group(1) is not None else match.group(2)).strip()
    return found or None


def _eml_name(inner: Message, limits: ParseLimits) -> str:
    subject = _raw_header(inner, "subject", limits)
    title = decoded_header("subject", subject, []) if subject else ""
    return mimetext.clean_filename(f"{title[:80].strip() or 'message'}.eml")


def _message_bytes(inner: Message) -> bytes:
    for pol in (policy.compat32, policy.default):
        try:
            return inner.as_bytes(policy=pol)
        except Exception:
            continue
    return b""


def _block_fields(items: Iterator[tuple[str, Any]] | Any, limits: ParseLimits) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in items:
        key = str(name).lower().strip()
        if key and key not in fields:
            fields[key] = clean_header_value(unsurrogate(str(value)), limits.max_header_chars)
    return fields


def _fields_of_text(chunk: str, limits: ParseLimits) -> dict[str, str]:
    unfolded = re.sub(r"\n[ \t]+", " ", chunk)
    pairs = []
    for line in unfolded.splitlines():
        match = re.match(r"^([A-Za-z][A-Za-z0-9-]{0,60})\s*:\s*(.*)$", line)
        if match:
            pairs.append((match.group(1), match.group(2)))
    return _block_fields(iter(pairs), limits)


def _looks_like_status(block: dict[str, str]) -> bool:
    return any(k in block for k in ("action", "status", "final-recipient", "reporting-mta"))
