"""Recognising a spreadsheet by its content (never its name), and saying in French what a file is
when it is not one."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from mailbot.annex.container import (
    ZIP_EMPTY,
    ZIP_MAGIC,
    iter_zip_entries,
)
from mailbot.annex.grid import csv_delimiter, decode_text
from mailbot.annex.ole2 import OLE2_MAGIC, ole2_stream_names
from workflows.annex.rules import AnnexError

if TYPE_CHECKING:
    pass


# --- sniffing ---------------------------------------------------------------------------------


def _zip_names(data: bytes, limit: int = 100_000) -> list[str]:
    names: list[str] = []
    try:
        for entry in iter_zip_entries(data):
            names.append(entry.name)
            if len(names) >= limit:
                break
    except AnnexError:
        pass
    return names


def _zip_mimetype(data: bytes) -> bytes:
    """ODF puts an uncompressed `mimetype` member first (ODF 1.2 part 3, 3.3)."""
    if data[30:38] == b"mimetype":
        (extra,) = struct.unpack_from("<H", data, 28)
        return data[38 + extra : 38 + extra + 80].split(b"\n")[0].strip()
    return b""


def _sniff_zip(data: bytes) -> str | None:
    names = _zip_names(data)
    if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
        return "xlsx"
    if _zip_mimetype(data).startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
        return "ods"
    return None


def _sniff_ole2(data: bytes) -> str | None:
    found = ole2_stream_names(data, ("EncryptedPackage", "EncryptionInfo", "Workbook", "Book"))
    if found & {"EncryptedPackage", "EncryptionInfo"}:
        return "xlsx"  # an encrypted OOXML package (MS-OFFCRYPTO 2.3.4): the parse says so
    if found & {"Workbook", "Book"}:
        return "xls"
    return None


def _sniff_csv(data: bytes) -> bool:
    head = data[:65_536]
    if b"\x00" in head:
        return False
    text = decode_text(head, final=len(data) <= len(head))
    if any(ord(c) < 32 and c not in "\t\r\n" for c in text) or text.lstrip().startswith(
        ("<", "{", "%PDF")
    ):
        return False
    lines = [line for line in text.splitlines() if line.strip()]
    if len(data) > len(head):
        lines = lines[:-1]  # the last line may be cut
    return csv_delimiter(lines[:10]) is not None


# What a file's extension promises: the format family `sniff_spreadsheet` names for it.
EXTENSION_FORMATS = {"xlsx": "xlsx", "xlsm": "xlsx", "ods": "ods", "xls": "xls", "csv": "csv"}


def named_as_spreadsheet(filename: str | None) -> bool:
    _, dot, extension = (filename or "").rpartition(".")
    return bool(dot) and extension.strip().lower() in EXTENSION_FORMATS


def is_spreadsheet(data: bytes) -> bool:
    """`sniff_spreadsheet` as a yes or no: a file that breaks the sniffer is not one."""
    try:
        return bool(sniff_spreadsheet(data))
    except Exception:
        return False


def sniff_spreadsheet(data: bytes) -> str | None:
    """ "xlsx" (xlsm too), "ods", "xls" or "csv" by content, else None. Cheap: no parse."""
    if data.startswith((ZIP_MAGIC, ZIP_EMPTY)):
        return _sniff_zip(data)
    if data.startswith(OLE2_MAGIC):
        return _sniff_ole2(data)
    return "csv" if _sniff_csv(data) else None


def describe_content(data: bytes) -> str:
    """What a file that is not a spreadsheet looks like, in French ("un document PDF")."""
    kinds = (
        (b"%PDF", "un document PDF"),
        (b"\x89PNG", "une image"),
        (b"\xff\xd8\xff", "une image"),
        (b"GIF8", "une image"),
        (b"{\\rtf", "un document RTF"),
    )
    for magic, kind in kinds:
        if data.startswith(magic):
            return kind
    if data.startswith((ZIP_MAGIC, ZIP_EMPTY)):
        names = _zip_names(data, 5000)
        if any(n.startswith("word/") for n in names):
            return "un document Word"
        if _zip_mimetype(data).startswith(b"application/vnd.oasis.opendocument.text"):
            return "un document texte OpenDocument"
        return "une archive compressée (ZIP)"
    if data.startswith(OLE2_MAGIC):
        if ole2_stream_names(data, ("WordDocument",)):
            return "un document Word"
        return "un document Office qui n'est pas un classeur"
    if data.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
        return "une page web (HTML)"
    return "un fichier qui n'est pas un tableau"
