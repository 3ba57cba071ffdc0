"""The watched mailbox, over IMAP (imapclient).

UIDs everywhere; messages are fetched with `BODY.PEEK[]` so the server's `\\Seen` flag is left
alone (RFC 3501 §6.4.5); a message leaves the INBOX only by MOVE (RFC 6851), or COPY +
`\\Deleted` + UID EXPUNGE (RFC 4315) where MOVE is missing.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from mailbot.config import Config, MailboxConfig

log = logging.getLogger(__name__)

# What a dropped or unwell server raises through imapclient.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    IMAPClientError,
    OSError,
    ssl.SSLError,
    socket.timeout,
    EOFError,
)


def open_imap(config: Config, timeout: float = 60) -> IMAPClient:
    """A logged-in IMAP connection (STARTTLS when configured: never on in clear text)."""
    cfg = config.mailbox
    context = ssl.create_default_context(cafile=cfg.ca_file)
    client = IMAPClient(
        cfg.host,
        port=cfg.port,
        ssl=cfg.tls == "implicit",
        ssl_context=context if cfg.tls == "implicit" else None,
        timeout=timeout,
    )
    try:
        sock = client.socket()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # pragma: no cover - not every transport has one
        pass
    try:
        if cfg.tls == "starttls":
            # Fails (CapabilityError) when STARTTLS is not offered: never carry on in clear
            # text (RFC 3501 §6.2.1; RFC 8314 §4.1 for the downgrade risk).
            client.starttls(context)
        client.login(cfg.user, config.mailbox_password())
    except BaseException:
        # A server without STARTTLS or a refused login leaves the TCP connection open
        # otherwise; the daemon retries with backoff and would pile them up until garbage
        # collection. (After a failed handshake the socket is already closed: EBADF.)
        with contextlib.suppress(OSError):
            client.shutdown()
        raise
    return client


class Mailbox:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.cfg: MailboxConfig = config.mailbox
        self.client: IMAPClient | None = None
        self.uidvalidity: int | None = None

    # ------------------------------------------------------------------ connection

    def connect(self) -> None:
        self.client = open_imap(self.config)
        self.ensure_folders()
        self.select_inbox()

    def close(self) -> None:
        if self.client is None:
            return
        try:
            self.client.logout()
        except CONNECTION_ERRORS:
            pass
        finally:
            self.client = None

    def _c(self) -> IMAPClient:
        if self.client is None:
            raise IMAPClientError("not connected")
        return self.client

    def ensure_folders(self) -> None:
        client = self._c()
        folders = self.cfg.folders
        for name in (folders.processed, folders.ignored, folders.quarantine):
            if not client.folder_exists(name):
                client.create_folder(name)
                log.info("created IMAP folder %s", name)
                try:
                    client.subscribe_folder(name)
                except IMAPClientError:  # pragma: no cover - subscription is a nicety
                    pass

    def select_inbox(self) -> None:
        info = self._c().select_folder(self.cfg.folders.inbox)
        value = info.get(b"UIDVALIDITY")
        new = int(value) if value is not None else None
        if self.uidvalidity is not None and new != self.uidvalidity:
            # Nothing is reprocessed: the journal recognises messages by their bytes.
            log.warning("UIDVALIDITY changed from %s to %s", self.uidvalidity, new)
        self.uidvalidity = new

    @property
    def has_idle(self) -> bool:
        return bool(self._c().has_capability("IDLE"))

    # ------------------------------------------------------------------ messages

    def inbox_uids(self) -> list[int]:
        """Every message of the INBOX, oldest first (UIDs grow with arrival, RFC 3501 §2.3.1.1)."""
        client = self._c()
        uids = client.search(["ALL"])
        # Deleted-but-not-expunged messages (COPY fallback interrupted) are still to move.
        return sorted(int(u) for u in uids)

    def fetch(self, uids: list[int]) -> Iterator[tuple[int, bytes]]:
        client = self._c()
        for start in range(0, len(uids), 50):
            batch = uids[start : start + 50]
            data = client.fetch(batch, ["BODY.PEEK[]", "RFC822.SIZE"])
            for uid in batch:
                item: dict[bytes, Any] = data.get(uid, {})
                raw = item.get(b"BODY[]")
                if raw is not None:
                    yield uid, bytes(raw)

    def move(self, uid: int, folder: str) -> None:
        self._move([uid], folder)

    def move_many(self, uids: list[int], folder: str) -> None:
        """One UID MOVE for several messages (RFC 6851 takes a UID set)."""
        if uids:
            self._move(uids, folder)

    def _move(self, uids: list[int], folder: str) -> None:
        client = self._c()
        if client.has_capability("MOVE"):
            client.move(uids, folder)
            return
        client.copy(uids, folder)
        self._expunge(uids)

    def _expunge(self, uids: list[int]) -> None:
        """Delete these messages of the selected folder: only them where UIDPLUS allows."""
        client = self._c()
        client.add_flags(uids, [b"\\Deleted"], silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)
        else:
            client.expunge()

    def refile(self, source: str, message_id: str, target: str) -> int:
        """Move the messages with this Message-ID from `source` to `target` (a quarantined
        message that a replay processed). Returns how many were moved."""
        client = self._c()
        client.select_folder(source)
        try:
            uids = [int(u) for u in client.search(["HEADER", "Message-ID", message_id])]
            if uids:
                self._move(uids, target)
            return len(uids)
        finally:
            self.select_inbox()

    def discard(self, folder: str, message_id: str) -> int:
        """Delete the messages with this Message-ID from `folder` (a quarantined mail an admin
        deleted after review). Returns how many were deleted."""
        client = self._c()
        client.select_folder(folder)
        try:
            uids = [int(u) for u in client.search(["HEADER", "Message-ID", message_id])]
            if uids:
                self._expunge(uids)
            return len(uids)
        finally:
            self.select_inbox()

    # ------------------------------------------------------------------ waiting

    def wait(self, timeout: float, should_stop: Callable[[], bool] = lambda: False) -> bool:
        """Wait up to `timeout` seconds for new mail. True when the server said something
        changed. IDLE (RFC 2177) when enabled and offered, else a NOOP after sleeping. The wait
        is cut in short slices so that a stop request is honoured within about a second."""
        client = self._c()
        deadline = time.monotonic() + timeout
        if self.cfg.idle and self.has_idle:
            # Mail that arrived during the turn was announced in the answers to its commands
            # (imaplib keeps those aside), not again in IDLE: look before waiting.
            if self.inbox_uids():
                return True
            client.idle()
            try:
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or should_stop():
                        return False
                    slice_ = min(1.0, remaining)
                    started = time.monotonic()
                    responses = client.idle_check(timeout=slice_)
                    if not responses and time.monotonic() - started < slice_ / 2:
                        # imapclient answers [] at once when the server closed the socket
                        # (it swallows the EOF): the connection is gone.
                        raise IMAPClientError("connection closed during IDLE")
                    for resp in responses:
                        if isinstance(resp, tuple) and len(resp) >= 1 and resp[0] == b"BYE":
                            raise IMAPClientError("server said BYE during IDLE")
                    if any(
                        isinstance(r, tuple) and len(r) >= 2 and r[1] in (b"EXISTS", b"RECENT")
                        for r in responses
                    ):
                        return True
            finally:
                client.idle_done()
        while time.monotonic() < deadline and not should_stop():
            time.sleep(min(1.0, deadline - time.monotonic()))
        client.noop()
        return True
