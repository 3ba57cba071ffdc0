"""Cheap checks on a spreadsheet's container, before any spreadsheet library touches it.

Runs in the daemon's process, so everything here is bounded: it reads the zip central
directory (APPNOTE.TXT 4.3.12–4.3.16, with ZIP64 4.3.14/4.5.3) and the first bytes of each
worksheet, and looks for OLE2 (MS-CFB) directory entries by name. It never inflates a whole
member. See docs/annex.md for why each limit exists.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from workflows.annex.rules import AnnexError

ZIP_MAGIC = b"PK\x03\x04"
ZIP_EMPTY = b"PK\x05\x06"

DIMENSION_HEAD_BYTES = 64 * 1024  # <dimension> comes right after <sheetPr> (ECMA-376 18.3.1.99)
MAX_DECLARED_COLUMNS = 1024
SHEET_BYTES_PER_ROW = 1024  # a generous row of sheet XML: 12 styled cells take about 400
RATIO_FLOOR_BYTES = 10 * 1024 * 1024  # ratios matter only for members that inflate this much
MAX_RATIO = 200  # spreadsheet XML compresses 5–40×; a bomb thousands of times


def file_subject(filename: str | None) -> str:
    """ "Le fichier « annexe.xlsx »", or "Le fichier joint" when the name is unknown."""
    if not filename:
        return "Le fichier joint"
    clean = re.sub(r"[\x00-\x1f\x7f]+", " ", filename).strip()
    clean = clean if len(clean) <= 80 else clean[:79] + "…"
    return f"Le fichier « {clean} »"


# --- ZIP central directory --------------------------------------------------------------------


@dataclass(frozen=True)
class ZipEntry:
    name: str
    compressed: int
    uncompressed: int
    flags: int

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & 0x1)  # APPNOTE 4.4.4 bit 0


def _damaged(subject: str, why: str) -> AnnexError:
    return AnnexError(
        "damaged",
        f"{subject} est endommagé ou n'est pas un classeur valide : il ne peut pas être lu. "
        "Merci de l'enregistrer à nouveau depuis votre tableur et de nous le renvoyer.",
        f"damaged container: {why}",
    )


def _directory_bounds(data: bytes, subject: str) -> tuple[int, int]:
    """(start, end) of the central directory, from the end-of-central-directory record."""
    eocd = data.rfind(ZIP_EMPTY, max(0, len(data) - 65_557))
    if eocd < 0 or eocd + 22 > len(data):
        raise _damaged(subject, "no end of central directory")
    size, offset = struct.unpack_from("<II", data, eocd + 12)
    end = eocd
    locator = eocd - 20
    if (size == 0xFFFFFFFF or offset == 0xFFFFFFFF) and data[locator : locator + 4] == (
        b"PK\x06\x07"
    ):
        (record,) = struct.unpack_from("<Q", data, locator + 8)
        if data[record : record + 4] != b"PK\x06\x06":
            raise _damaged(subject, "bad zip64 record")
        size, offset = struct.unpack_from("<QQ", data, record + 40)
        end = record
    start = offset
    if data[start : start + 4] != b"PK\x01\x02":
        start = end - size  # bytes prepended to the archive: the same fix-up as zipfile
    if start < 0 or start > end:
        raise _damaged(subject, "bad central directory bounds")
    return start, end


def _zip64_sizes(extra: bytes, compressed: int, uncompressed: int) -> tuple[int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        if tag == 0x0001:  # APPNOTE 4.5.3: only the fields that overflowed, in this order
            values = [v for (v,) in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
            if uncompressed == 0xFFFFFFFF and values:
                uncompressed = values.pop(0)
            if compressed == 0xFFFFFFFF and values:
                compressed = values.pop(0)
            break
        pos += 4 + length
    return compressed, uncompressed


def iter_zip_entries(data: bytes, subject: str = "Le fichier joint") -> Iterator[ZipEntry]:
    """The central directory's entries, read by size (as zipfile does), never inflated."""
    pos, end = _directory_bounds(data, subject)
    while pos < end:
        if data[pos : pos + 4] != b"PK\x01\x02" or pos + 46 > len(data):
            raise _damaged(subject, "bad central directory entry")
        flags, compressed, uncompressed = (
            struct.unpack_from("<H", data, pos + 8)[0],
            *struct.unpack_from("<II", data, pos + 20),
        )
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        raw_name = data[pos + 46 : pos + 46 + name_len]
        extra = data[pos + 46 + name_len : pos + 46 + name_len + extra_len]
        compressed, uncompressed = _zip64_sizes(extra, compressed, uncompressed)
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        yield ZipEntry(name, compressed, uncompressed, flags)
        pos += 46 + name_len + extra_len + comment_len


def read_zip_entries(data: bytes, max_entries: int, subject: str) -> list[ZipEntry]:
    entries: list[ZipEntry] = []
    for entry in iter_zip_entries(data, subject):
        entries.append(entry)
        if len(entries) > max_entries:
            raise AnnexError(
                "too_many_entries",
                f"{subject} contient un nombre anormal d'éléments internes (plus de "
                f"{max_entries}) : par sécurité, il n'a pas été lu. Merci de nous renvoyer "
                "le tableau enregistré à nouveau depuis votre tableur.",
                f"more than {max_entries} zip entries",
            )
    return entries


def check_zip(data: bytes, max_entries: int, max_uncompressed: int, subject: str) -> list[ZipEntry]:
    """Refuse what would inflate too much, hide twice the same part, or is encrypted."""
    entries = read_zip_entries(data, max_entries, subject)
    total = sum(e.uncompressed for e in entries)
    bomb = total > max_uncompressed or any(
        e.uncompressed > RATIO_FLOOR_BYTES and e.uncompressed > MAX_RATIO * max(e.compressed, 1)
        for e in entries
    )
    if bomb:
        raise AnnexError(
            "zip_bomb",
            f"{subject} se décompresse en un volume anormalement grand "
            f"({total // (1024 * 1024)} Mo ; limite {max_uncompressed // (1024 * 1024)} Mo) : "
            "par sécurité, il n'a pas été lu.",
            f"declared uncompressed size {total} bytes",
        )
    if any(e.encrypted for e in entries):
        raise encrypted_error(subject)
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise _damaged(subject, "duplicate member names")
    return entries


def encrypted_error(subject: str) -> AnnexError:
    return AnnexError(
        "encrypted",
        f"{subject} est protégé par un mot de passe (chiffré) : nous ne pouvons pas le lire. "
        "Merci de nous le renvoyer enregistré sans mot de passe.",
        "encrypted workbook",
    )


# --- xlsx worksheets --------------------------------------------------------------------------

_TARGET = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>")
_ATTR = re.compile(rb'(\w+)\s*=\s*"([^"]*)"')
_DIMENSION = re.compile(
    rb'<(?:\w+:)?dimension\s+ref\s*=\s*"([A-Za-z]{1,3})(\d{1,7})(?::([A-Za-z]{1,3})(\d{1,7}))?"'
)


def _read_head(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    with archive.open(name) as member:
        return member.read(limit)


@contextmanager
def open_archive(data: bytes, subject: str) -> Iterator[zipfile.ZipFile]:
    """zipfile on checked bytes; whatever it raises on a broken member means "damaged"."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            yield archive
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise _damaged(subject, f"zipfile: {exc!r}") from exc
    except (NotImplementedError, RuntimeError) as exc:  # unknown method, encrypted member
        raise _damaged(subject, f"zipfile: {exc!r}") from exc


_PROLOG_MARKS = tuple(
    mark.encode(codec)
    for mark in ("<!DOCTYPE", "<!ENTITY", "<!doctype", "<!entity")
    for codec in ("utf-8", "utf-16-le", "utf-16-be")
)


def check_xml_prologs(data: bytes, subject: str) -> None:
    """Office XML never carries a DTD: one is the mark of an entity attack (billion laughs,
    external entities). defusedxml and calamine refuse them too; this says so plainly."""
    with open_archive(data, subject) as archive:
        for name in archive.namelist():
            if name.lower().endswith((".xml", ".rels")):
                head = _read_head(archive, name, 4096)
                if any(mark in head for mark in _PROLOG_MARKS):
                    raise AnnexError(
                        "xml_entities",
                        f"{subject} contient des déclarations XML interdites (entités ou "
                        "références externes), signe d'un fichier piégé : par sécurité, il n'a "
                        "pas été lu.",
                        f"DTD in {name}",
                    )


def _relationships(archive: zipfile.ZipFile, path: str) -> list[dict[bytes, bytes]]:
    try:
        text = _read_head(archive, path, 1024 * 1024)
    except KeyError:
        return []
    return [dict(_ATTR.findall(tag)) for tag in _TARGET.findall(text)]


def _resolve(base_dir: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    parts: list[str] = [p for p in base_dir.split("/") if p]
    for piece in target.split("/"):
        if piece == "..":
            if parts:
                parts.pop()
        elif piece and piece != ".":
            parts.append(piece)
    return "/".join(parts)


def worksheet_parts(archive: zipfile.ZipFile) -> list[str]:
    """The worksheet parts, found as openpyxl finds them (package and workbook relationships),
    plus any xl/worksheets/*.xml, so a renamed part cannot dodge the dimension check."""
    workbook = "xl/workbook.xml"
    for rel in _relationships(archive, "_rels/.rels"):
        if rel.get(b"Type", b"").endswith(b"/officeDocument"):
            workbook = _resolve("", rel.get(b"Target", b"").decode("utf-8", "replace"))
    folder, _, base = workbook.rpartition("/")
    sheets = {
        _resolve(folder, rel.get(b"Target", b"").decode("utf-8", "replace"))
        for rel in _relationships(archive, f"{folder}/_rels/{base}.rels")
        if rel.get(b"Type", b"").endswith(b"/worksheet")
    }
    names = set(archive.namelist())
    sheets |= {n for n in names if re.fullmatch(r"xl/worksheets/[^/]+\.xml", n, re.IGNORECASE)}
    return sorted(s for s in sheets if s in names)


def _column_number(letters: bytes) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + char - 64
    return number


def declared_extent(head: bytes) -> tuple[int, int] | None:
    """(last row, last column) of a worksheet's <dimension ref="A1:L201"/>, if declared."""
    match = _DIMENSION.search(head)
    if match is None:
        return None
    col, row = (match.group(3), match.group(4)) if match.group(3) else match.group(1, 2)
    return int(row), _column_number(col)


def _french(number: int) -> str:
    """1 048 576, with the narrow no-break space French typography puts between thousands."""
    return f"{number:,}".replace(",", "\u202f")


def _sheet_too_large(subject: str, what: str, max_people: int, english: str) -> AnnexError:
    return AnnexError(
        "sheet_too_large",
        f"{subject} contient une feuille {what}, bien au-delà de la limite de {max_people} "
        "personnes par demande : il n'a pas été lu. Merci de nous envoyer seulement le tableau "
        "rempli, une ligne par personne.",
        english,
    )


def check_xlsx_sheets(data: bytes, max_declared_rows: int, max_people: int, subject: str) -> None:
    """Refuse a worksheet far larger than any request, before a library reads it: by the used
    range it declares in its first bytes (calamine allocates that grid and aborts, openpyxl
    fills it in) or, when it declares none, by its inflated size (openpyxl then parses the
    whole sheet just to look for the declaration)."""
    max_sheet_bytes = max_declared_rows * SHEET_BYTES_PER_ROW
    with open_archive(data, subject) as archive:
        for part in worksheet_parts(archive):
            size = archive.getinfo(part).file_size
            if size > max_sheet_bytes:
                raise _sheet_too_large(
                    subject,
                    f"de {_french(size // 1_048_576)} Mo",
                    max_people,
                    f"{part} inflates to {size} bytes",
                )
            extent = declared_extent(_read_head(archive, part, DIMENSION_HEAD_BYTES))
            if extent is None:
                continue
            rows, cols = extent
            if rows > max_declared_rows or cols > MAX_DECLARED_COLUMNS:
                raise _sheet_too_large(
                    subject,
                    f"de {_french(rows)} lignes sur {_french(cols)} colonnes",
                    max_people,
                    f"declared dimension {rows} rows x {cols} columns in {part}",
                )


def xlsx_has_macros(names: list[str], data: bytes, subject: str) -> bool:
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        return True
    with open_archive(data, subject) as archive:
        try:
            types = _read_head(archive, "[Content_Types].xml", 1024 * 1024)
        except KeyError:
            return False
    return b"macroEnabled" in types or b"vbaProject" in types


def ods_encrypted(data: bytes, subject: str) -> bool:
    """An encrypted ODF package lists <manifest:encryption-data> in its manifest (ODF 1.2
    part 3, 3.8)."""
    with open_archive(data, subject) as archive:
        try:
            manifest = _read_head(archive, "META-INF/manifest.xml", 1024 * 1024)
        except KeyError:
            return False
    return b"encryption-data" in manifest
