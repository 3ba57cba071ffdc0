"""Checks on a document an admin uploads, before it reaches the portal: the type is read from
the content (never from the extension alone), the extension must agree with it, the size is
bounded (`[limits] document_max_bytes`), and the file name is made safe to show and to serve.

Accepted: PDF; office files (Word, Excel, PowerPoint: OOXML without macros, OpenDocument, the
old OLE2 formats); images (PNG, JPEG, GIF, WebP). SVG and HTML are refused (they can carry
scripts), as are macro-enabled office files. Every message is in French, for the admin.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ODF_TYPES = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
}
OOXML_PARTS = {"word/": "docx", "xl/": "xlsx", "ppt/": "pptx"}
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
}
# The extensions each detected type may carry.
EXTENSIONS = {
    "pdf": {"pdf"},
    "png": {"png"},
    "jpg": {"jpg", "jpeg"},
    "gif": {"gif"},
    "webp": {"webp"},
    "docx": {"docx"},
    "xlsx": {"xlsx"},
    "pptx": {"pptx"},
    "odt": {"odt"},
    "ods": {"ods"},
    "odp": {"odp"},
    "ole2": {"doc", "xls", "ppt"},
}
ACCEPTED_TEXT = "PDF, Word, Excel, PowerPoint, OpenDocument, PNG, JPEG, GIF ou WebP"
MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


class UploadRefused(ValueError):
    """The file cannot be published; the message says why, in French."""


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    content_type: str
    data: bytes


def _zip_kind(data: bytes) -> str | None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
        if names and names[0] == "mimetype":
            mimetype = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
            return ODF_TYPES.get(mimetype)
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise UploadRefused(
            "Ce fichier bureautique contient des macros : enregistrez-le sans macros "
            "(.docx, .xlsx, .pptx) avant de le publier."
        )
    for prefix, kind in OOXML_PARTS.items():
        if any(n.startswith(prefix) for n in names):
            return kind
    return None


def sniff(data: bytes) -> str | None:
    """The type the content shows (`pdf`, `png`, `docx`, `ole2`…), or None."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(OLE2):
        return "ole2"
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    return None


def safe_filename(name: str) -> str:
    """The last part of a path, NFC, without control, bidi or reserved characters, no
    leading dot, at most `MAX_NAME_CHARS` characters (the extension kept)."""
    base = re.split(r"[\\/]", name)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(c for c in base if unicodedata.category(c) not in ("Cf", "Cc", "Co", "Cs"))
    base = _UNSAFE.sub("_", base)
    base = " ".join(base.split()).lstrip(". ")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    ext = ext[:10]
    stem = stem[: MAX_NAME_CHARS - len(ext) - 1].rstrip(" .") or "document"
    return f"{stem}.{ext}" if ext else stem


def _size_text(size: int) -> str:
    mo = size / (1024 * 1024)
    return f"{mo:.0f} Mo" if mo >= 1 else f"{max(1, size // 1024)} Ko"


def check_upload(name: str, data: bytes, max_bytes: int) -> CheckedFile:
    """The file as it will be published, or `UploadRefused` with the reason."""
    if not data:
        raise UploadRefused("Le fichier est vide : choisissez un document à publier.")
    if len(data) > max_bytes:
        raise UploadRefused(
            f"Le fichier est trop volumineux ({_size_text(len(data))}) : "
            f"{_size_text(max_bytes)} au plus."
        )
    filename = safe_filename(name)
    ext = filename.rpartition(".")[2].lower() if "." in filename else ""
    kind = sniff(data)
    if kind is None:
        raise UploadRefused(
            f"Ce type de fichier n’est pas accepté. Formats acceptés : {ACCEPTED_TEXT}."
        )
    if not ext:
        raise UploadRefused(
            "Le nom du fichier n’a pas d’extension (.pdf, .docx…) : renommez-le et recommencez."
        )
    if ext not in EXTENSIONS[kind]:
        raise UploadRefused(
            f"Le contenu du fichier ne correspond pas à son extension « .{ext} » : "
            "vérifiez le fichier, ou enregistrez-le dans le bon format."
        )
    content_type = CONTENT_TYPES[ext if kind == "ole2" else kind]
    return CheckedFile(filename, content_type, data)
