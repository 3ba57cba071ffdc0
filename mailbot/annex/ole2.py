"""OLE2 compound files (legacy .xls): reading the directory without a library, to tell an encrypted
workbook before any reader opens it (MS-CFB)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

# --- OLE2 (compound file) ---------------------------------------------------------------------

OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_FREE_OR_END = 0xFFFFFFFA  # sector numbers from here on are markers (MS-CFB 2.1)


@dataclass(frozen=True)
class CompoundFile:
    """The directory of an OLE2 compound file (MS-CFB), read without extracting anything."""

    data: bytes
    shift: int
    fat: list[int]
    entries: dict[str, tuple[int, int]]  # name -> (starting sector, size)

    def chain(self, start: int) -> Iterator[int]:
        seen: set[int] = set()
        while start < min(_FREE_OR_END, len(self.fat)) and start not in seen:
            seen.add(start)
            yield start
            start = self.fat[start]

    def sector(self, number: int) -> bytes:
        offset = (number + 1) << self.shift
        return self.data[offset : offset + (1 << self.shift)]

    def stream_head(self, name: str) -> bytes:
        """The first 64 bytes of a stream: in regular sectors from 4096 bytes on, else at the
        start of its 64-byte mini sector inside the root entry's chain (MS-CFB 2.1, 2.6.3)."""
        start, size = self.entries[name]
        if size >= 4096:
            return self.sector(start)[:64]
        root_start, _ = self.entries.get("Root Entry", (_FREE_OR_END, 0))
        per_sector = (1 << self.shift) // 64
        for index, number in enumerate(self.chain(root_start)):
            if index == start // per_sector:
                offset = (start % per_sector) * 64
                return self.sector(number)[offset : offset + 64]
        return b""


def read_compound_file(data: bytes) -> CompoundFile | None:
    """Header, FAT (through the DIFAT) and directory chain, all bounded by the file's size."""
    if not data.startswith(OLE2_MAGIC) or len(data) < 512:
        return None
    (shift,) = struct.unpack_from("<H", data, 0x1E)
    if shift not in (9, 12):
        return None
    sectors = len(data) >> shift
    (first_dir,) = struct.unpack_from("<I", data, 0x30)
    difat_start, difat_count = struct.unpack_from("<II", data, 0x44)
    fat_sectors = [n for n in struct.unpack_from("<109I", data, 0x4C) if n < _FREE_OR_END]
    per_sector = (1 << shift) // 4
    difat_count = min(difat_count, sectors)  # a looping DIFAT chain ends here
    while difat_start < min(sectors, _FREE_OR_END) and difat_count > 0:
        raw = data[(difat_start + 1) << shift : (difat_start + 2) << shift]
        if len(raw) < per_sector * 4:
            break
        numbers = struct.unpack(f"<{per_sector}I", raw)
        fat_sectors += [n for n in numbers[:-1] if n < _FREE_OR_END]
        difat_start, difat_count = numbers[-1], difat_count - 1
    fat: list[int] = []
    for number in fat_sectors[:sectors]:  # never more FAT sectors than the file holds
        raw = data[(number + 1) << shift : (number + 2) << shift]
        fat.extend(struct.unpack(f"<{len(raw) // 4}I", raw[: len(raw) // 4 * 4]))
    cfb = CompoundFile(data, shift, fat, {})
    for number in cfb.chain(first_dir):
        raw = cfb.sector(number)
        for pos in range(0, len(raw) - 127, 128):
            (length,) = struct.unpack_from("<H", raw, pos + 64)
            if raw[pos + 66] in (1, 2, 5) and 2 <= length <= 64:
                name = raw[pos : pos + length - 2].decode("utf-16le", "replace")
                cfb.entries.setdefault(name, struct.unpack_from("<IQ", raw, pos + 116))
    return cfb


def ole2_stream_names(data: bytes, wanted: tuple[str, ...]) -> set[str]:
    cfb = read_compound_file(data)
    return set(wanted) & set(cfb.entries) if cfb else set()


def xls_encrypted(data: bytes) -> bool:
    """A password-protected BIFF8 workbook has a FILEPASS record (0x002F) right after the BOF
    record (0x0809) of its Workbook stream (MS-XLS 2.4.117)."""
    cfb = read_compound_file(data)
    name = next((n for n in ("Workbook", "Book") if cfb and n in cfb.entries), None)
    if cfb is None or name is None:
        return False
    head = cfb.stream_head(name)
    if len(head) < 8:
        return False
    kind, length = struct.unpack_from("<HH", head, 0)
    if kind != 0x0809 or 4 + length + 2 > len(head):
        return False
    (following,) = struct.unpack_from("<H", head, 4 + length)
    return bool(following == 0x002F)
