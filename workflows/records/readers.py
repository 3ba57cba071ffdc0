"""Tolerant readers of stored JSON (a malformed or missing value never stops a case), and the items both kinds share."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

_T = TypeVar("_T")


Json = dict[str, Any]

# --------------------------------------------------------------------------- tolerant readers


def _str(value: object, default: str = "") -> str:
    return default if value is None else str(value)


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _int(value: object, default: int = 0) -> int:
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return default


def _opt_int(value: object) -> int | None:
    return None if value is None else _int(value)


def _strs(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(str(v) for v in value if v is not None)


def _ints(value: object) -> tuple[int, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(_int(v) for v in value)


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _items(value: object, read: Callable[[Mapping[str, Any]], _T]) -> tuple[_T, ...]:
    """The items of a JSON list of objects (anything else in it is skipped)."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple(read(item) for item in value if isinstance(item, Mapping))


def _extra(data: Mapping[str, Any], known: Sequence[str]) -> Mapping[str, Any]:
    return {k: v for k, v in data.items() if k not in known}


# --------------------------------------------------------------------------- shared items


@dataclass(frozen=True)
class FileRef:
    """An attachment of a mail kept with the case: its name, type and size as received (the
    bytes are in the journal, under the mail's `message_id`)."""

    filename: str
    content_type: str
    size: int

    def to_json(self) -> Json:
        return {"filename": self.filename, "content_type": self.content_type, "size": self.size}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FileRef:
        return cls(
            _str(data.get("filename")), _str(data.get("content_type")), _int(data.get("size"))
        )


@dataclass(frozen=True)
class Note:
    """Words of the requester, with their time; `sender` set: words of someone else (a third
    party writing in the case's thread), recorded but deciding nothing. `attachments`: the
    files that came with them, found in the journal by `message_id`."""

    at: str
    text: str
    sender: str | None = None
    attachments: tuple[FileRef, ...] = ()
    message_id: str | None = None

    def to_json(self) -> Json:
        out: Json = {"at": self.at, "text": self.text}
        if self.sender:
            out["from"] = self.sender
        if self.attachments:
            out["attachments"] = [a.to_json() for a in self.attachments]
        if self.message_id:
            out["message_id"] = self.message_id
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Note:
        sender = data.get("from")
        return cls(
            at=_str(data.get("at")),
            text=_str(data.get("text")),
            sender=sender if isinstance(sender, str) and sender else None,
            attachments=_items(data.get("attachments"), FileRef.from_json),
            message_id=_opt_str(data.get("message_id")),
        )
