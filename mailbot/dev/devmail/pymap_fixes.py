"""pymap 0.36.7 adjusted for the embedded mail system (internal to mailbot.dev.devmail).

Each fix is described in docs/mail-servers.md ("Fixed or worked around"; the stale lock
files are handled in system.py). Importing this module replaces pymap's
`FileWriteable.file_write`; only devmail uses pymap.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from argparse import Namespace
from mailbox import MaildirMessage
from pathlib import Path
from typing import Any

from pymap.backend.maildir import Config, Identity, Login
from pymap.backend.maildir.io import FileWriteable
from pymap.backend.maildir.layout import MaildirLayout
from pymap.backend.maildir.mailbox import Maildir
from pymap.concurrent import Subsystem
from pysasl.creds.server import ServerCredentials
from pysasl.hashing import Cleartext

__all__ = ["CoalescingWriter", "PymapConfig", "RawLogin", "normalize_crlf"]

_SOURCE = "_devmail_source"


def _file_write_in_place(self: FileWriteable) -> None:
    """pymap 0.36.7 writes its index files (users, uidlists, subscriptions) in the temp
    folder and renames them into place, which fails across file systems (a tmpfs /tmp):
    write the temporary file next to its target instead. Only devmail uses pymap."""
    file_path = self.get_file(self.path)
    with tempfile.NamedTemporaryFile(
        "w", dir=os.path.dirname(file_path), prefix=".pymap-", delete=False
    ) as tmp:
        self.write(tmp)
    os.replace(tmp.name, file_path)
    self._touched = False


FileWriteable.file_write = _file_write_in_place  # type: ignore[method-assign]


def normalize_crlf(raw: bytes) -> bytes:
    """IMAP serves messages with CRLF line ends (RFC 3501 §4.3); the maildir may hold LF."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class _RawMessage(MaildirMessage):
    """A maildir message served byte for byte: pymap FETCHes `bytes(message)`, which would
    otherwise re-generate it with compat32, refold long headers and use LF line ends."""

    _raw: bytes | None = None

    @classmethod
    def from_file(cls, file: Any) -> _RawMessage:
        raw = file.read()
        message = cls(raw)
        message._raw = raw
        return message

    def as_bytes(self, unixfrom: bool = False, policy: Any = None) -> bytes:
        if self._raw is None:
            return super().as_bytes(unixfrom, policy)
        return normalize_crlf(self._raw)


class _RawMaildir(Maildir):
    """pymap's Maildir, serving raw messages and copying them whole."""

    # `factory` keeps mailbox.Maildir's signature (pymap passes the class around); ours is fixed.
    def __init__(self, dirname: str, factory: object = None, create: bool = True) -> None:  # noqa: ARG002
        super().__init__(dirname, factory=_RawMessage.from_file, create=create)

    def get_message_metadata(self, key: str) -> MaildirMessage:
        message = super().get_message_metadata(key)
        # Copied along by MaildirMessage(message): see add().
        message.__dict__[_SOURCE] = self._join(self._lookup(key))
        return message

    def add(self, message: Any) -> str:
        # pymap 0.36.7 COPY adds MaildirMessage(metadata): flags and no content, so copies
        # came out empty. Read the content back from the source file.
        source = getattr(message, _SOURCE, None)
        if isinstance(message, MaildirMessage) and source is not None:
            with open(source, "rb") as file:
                whole = MaildirMessage(file.read())
            whole.set_subdir("new" if message.get_subdir() == "new" else "cur")
            whole.set_info(message.get_info())
            whole.set_date(message.get_date())
            message = whole
        return super().add(message)


class _Identity(Identity):
    def _load_maildir(self, mailbox_path: str) -> tuple[Maildir, MaildirLayout[Any]]:
        full_path = os.path.join(self.config.base_dir, mailbox_path)
        layout = MaildirLayout.get(full_path, self.config.layout, _RawMaildir)
        return _RawMaildir(full_path, create=not os.path.exists(full_path)), layout


class RawLogin(Login):
    """pymap's maildir login, handing out identities that serve raw messages."""

    async def authenticate(self, credentials: ServerCredentials) -> _Identity:
        found = await super().authenticate(credentials)
        return _Identity(self.config, self.tokens, found.name, None, found.roles)

    async def authorize(self, authenticated: Any, authzid: str) -> _Identity:
        found = await super().authorize(authenticated, authzid)
        return _Identity(self.config, self.tokens, found.name, None, found.roles)


class CoalescingWriter:
    """Holds what pymap writes for one response and sends it at drain() in one piece.

    pymap writes a response in several small pieces; with TCP_NODELAY (asyncio's default)
    each becomes its own TCP segment, and a client reading IDLE updates without blocking
    (imapclient's idle_check) then meets half a line ("unterminated line")."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._pending = bytearray()

    def write(self, data: bytes) -> None:
        self._pending += data

    async def drain(self) -> None:
        self._flush()
        await self._writer.drain()

    def close(self) -> None:
        self._flush()
        self._writer.close()

    def _flush(self) -> None:
        if self._pending and not self._writer.is_closing():
            self._writer.write(bytes(self._pending))
        self._pending.clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)


class PymapConfig(Config):
    def __init__(self, base_dir: Path, host: str, port: int, domain: str) -> None:
        args = Namespace(passlib_cfg=None, proxy_protocol=None, inherited_sockets=None)
        super().__init__(
            args,
            host=host,
            port=port,
            base_dir=str(base_dir),
            layout="++",
            colon=None,
            # Cleartext: pymap's default hash (500k PBKDF2 rounds) makes every login slow.
            hash_context=Cleartext(),
            # No thread pool: with cleartext passwords there is no CPU-bound work to offload.
            cpu_subsystem=Subsystem.for_asyncio(),
            # No certificate: STARTTLS would be advertised and then fail.
            tls_enabled=False,
            invalid_user_sleep=0.0,
            reject_dnsbl=False,
        )
        self._domain = domain

    @property
    def greeting(self) -> bytes:
        # The default calls socket.getfqdn() for every connection (a DNS lookup).
        return b"mailbot devmail ready " + self._domain.encode("ascii", "replace")
