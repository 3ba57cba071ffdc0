"""The checks on a document uploaded from the desk (`mailbot.desk.uploads`), without servers."""

from __future__ import annotations

import io
import zipfile

import pytest

from mailbot.desk.uploads import UploadRefused, check_upload, safe_filename, sniff

LIMIT = 1024 * 1024


def _zip(entries: dict[str, str], first: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if first:
            archive.writestr("mimetype", first)
        for name, text in entries.items():
            archive.writestr(name, text)
    return buffer.getvalue()


DOCX = _zip({"[Content_Types].xml": "<T/>", "word/document.xml": "<w/>"})
XLSM = _zip({"[Content_Types].xml": "<T/>", "xl/workbook.xml": "<w/>", "xl/vbaProject.bin": "x"})
ODT = _zip({"content.xml": "<c/>"}, first="application/vnd.oasis.opendocument.text")
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("a.pdf", b"%PDF-1.7 x", "application/pdf"),
        ("photo.JPEG", b"\xff\xd8\xff\xe0 x", "image/jpeg"),
        (
            "note.docx",
            DOCX,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("texte.odt", ODT, "application/vnd.oasis.opendocument.text"),
        ("ancien.xls", OLE2, "application/vnd.ms-excel"),
        ("img.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
    ],
)
def test_accepted_types_get_the_type_of_their_content(
    name: str, data: bytes, content_type: str
) -> None:
    assert check_upload(name, data, LIMIT).content_type == content_type


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("a.pdf", b"", "vide"),
        ("a.pdf", b"%PDF-" + b"0" * LIMIT, "trop volumineux"),
        ("a.pdf", b"<html><script>", "n’est pas accepté"),
        ("a.pdf", DOCX, "ne correspond pas à son extension « .pdf »"),
        ("a.docx", b"%PDF-1.4", "ne correspond pas"),
        ("a.xlsx", XLSM, "contient des macros"),
        ("a.exe", OLE2, "ne correspond pas"),
        ("a.zip", _zip({"x.txt": "x"}), "n’est pas accepté"),
        ("....pdf", b"%PDF-1.4", "n’a pas d’extension"),
    ],
)
def test_refused_files_say_why_in_french(name: str, data: bytes, message: str) -> None:
    with pytest.raises(UploadRefused, match=message):
        check_upload(name, data, LIMIT)


def test_file_names_are_made_safe() -> None:
    assert safe_filename("C:\\Users\\x\\Rapport annuel.pdf") == "Rapport annuel.pdf"
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("..cachée.pdf") == "cachée.pdf"
    assert safe_filename("a\u202egnp.pdf") == "agnp.pdf"  # no bidi override
    assert safe_filename('a<b>:"c|?.pdf') == "a_b_c_.pdf"
    assert safe_filename("Cafe\u0301.pdf") == "Café.pdf"  # NFC
    assert len(safe_filename("x" * 500 + ".pdf")) == 120
    assert safe_filename("....pdf") == "pdf"
    assert sniff(b"GIF89a...") == "gif"
