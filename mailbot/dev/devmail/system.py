"""The embedded mail system's servers and their lifecycle: `DevMailSystem` in a running
asyncio loop, `DevMailThread` in a thread of its own for synchronous code."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import threading
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Concatenate, ParamSpec, cast

from aiosmtpd.smtp import SMTP
from proxyprotocol.sock import SocketInfo
from pymap.backend.maildir.mailbox import Maildir
from pymap.backend.maildir.users import PasswordsFile, UsersFile
from pymap.imap import IMAPServer

from mailbot.dev.devmail.delivery import MailDelivery, split_address, write_to_maildir
from mailbot.dev.devmail.pymap_fixes import CoalescingWriter, PymapConfig, RawLogin

__all__ = ["DevMailSystem", "DevMailThread"]

# One logger for the whole package: docs/mail-servers.md names `mailbot.dev.devmail`.
log = logging.getLogger(__package__)

_LOCK_NAME = "devmail.lock"

_P = ParamSpec("_P")


class DevMailSystem:
    """IMAP (pymap, maildir) and SMTP (aiosmtpd) for `users` ({address: password}), in the
    running asyncio loop. Mailboxes persist under `root`. Port 0 picks a free port; the
    attributes hold the bound ports after start().

    Served domains: `domain` plus the domain of every user. Mail to an unknown address of a
    served domain is refused at RCPT (550); mail to other domains is answered with a bounce
    (RFC 3464) when the sender is local, dropped otherwise. `+tag` sub-addresses are
    delivered to the base mailbox.
    """

    def __init__(
        self,
        root: Path,
        domain: str,
        users: dict[str, str],
        imap_port: int = 1143,
        smtp_port: int = 2525,
        host: str = "127.0.0.1",
    ) -> None:
        self.root = Path(root)
        self.domain = domain.lower()
        self.users = {address.lower(): password for address, password in users.items()}
        self.imap_port = imap_port
        self.smtp_port = smtp_port
        self.host = host
        self._lock_file: IO[bytes] | None = None
        self._servers: list[asyncio.Server] = []
        self._imap_tasks: set[asyncio.Task[None]] = set()
        self._smtp_protocols: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self._imap: IMAPServer | None = None

    @property
    def domains(self) -> frozenset[str]:
        return frozenset({self.domain, *(split_address(a)[1] for a in self.users)})

    def mailbox_of(self, address: str) -> str | None:
        """The local user receiving mail for `address` (`local+tag@domain` → `local@domain`)."""
        local, domain = split_address(address)
        candidate = f"{local.split('+', 1)[0]}@{domain}"
        return candidate if candidate in self.users else None

    def maildir(self, address: str) -> Path:
        return self.root / "mail" / address.lower()

    async def start(self) -> None:
        self._lock_root()
        try:
            await self._write_users()
            for address in self.users:
                self._make_inbox(address)
            loop = asyncio.get_running_loop()
            config = PymapConfig(self.root, self.host, self.imap_port, self.domain)
            self._imap = IMAPServer(RawLogin(config), config)
            imap = await asyncio.start_server(self._serve_imap, self.host, self.imap_port)
            self._servers.append(imap)
            smtp = await loop.create_server(self._new_smtp, self.host, self.smtp_port)
            self._servers.append(smtp)
        except BaseException:
            await self.stop()
            raise
        self.imap_port = imap.sockets[0].getsockname()[1]
        self.smtp_port = smtp.sockets[0].getsockname()[1]
        log.info("devmail: IMAP %s:%d, SMTP %s:%d, root %s",
                 self.host, self.imap_port, self.host, self.smtp_port, self.root)  # fmt: skip

    async def stop(self) -> None:
        """Close the listeners and every open connection."""
        for server in self._servers:
            server.close()
        for protocol in list(self._smtp_protocols):
            if protocol.transport is not None:
                protocol.transport.close()
        for task in self._imap_tasks:
            task.cancel()
        pending = [*self._imap_tasks, *self._smtp_tasks()]
        await asyncio.gather(*pending, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        self._imap_tasks.clear()
        self._smtp_protocols = weakref.WeakSet()
        await asyncio.sleep(0)  # let the closed transports run connection_lost
        if self._lock_file is not None:
            self._lock_file.close()  # releases the flock
            self._lock_file = None

    async def __aenter__(self) -> DevMailSystem:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def add_user(self, address: str, password: str) -> None:
        """Add (or change the password of) a mailbox, while running or not."""
        self.users[address.lower()] = password
        await self._write_users()
        self._make_inbox(address.lower())

    def deliver(self, sender: str, rcpt: str, raw: bytes, received: str) -> None:
        """Write into the recipient's INBOX the way an MDA does (tmp/ then rename into new/):
        pymap picks it up at its next look (at most 1 s for an IDLE client)."""
        mailbox = self.mailbox_of(rcpt)
        if mailbox is None:
            raise KeyError(rcpt)
        write_to_maildir(self.maildir(mailbox), sender, rcpt, raw, received)

    def _lock_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        lock_file = (self.root / _LOCK_NAME).open("wb")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise RuntimeError(f"{self.root} is used by another devmail") from None
        self._lock_file = lock_file
        self._remove_stale_locks()

    def _remove_stale_locks(self) -> None:
        """We hold the root: pymap lock files left by a killed process are stale, and pymap
        would wait for them for 10 s and then fail."""
        for folder, subfolders, files in os.walk(self.root):
            subfolders[:] = [d for d in subfolders if d not in ("cur", "new", "tmp")]
            for name in files:
                if name.endswith(".lock") and name != _LOCK_NAME:
                    Path(folder, name).unlink(missing_ok=True)

    async def _write_users(self) -> None:
        base_dir = str(self.root)
        async with (
            UsersFile.with_write(base_dir) as users_file,
            PasswordsFile.with_write(base_dir) as passwords_file,
        ):
            for record in list(users_file.get_all()):
                if record.name not in self.users:
                    users_file.remove(record.name)
                    if passwords_file.has(record.name):
                        passwords_file.remove(record.name)
            for address, password in self.users.items():
                users_file.set(users_file.build_record(address, f"mail/{address}"))
                passwords_file.set(passwords_file.build_record(address, password))

    def _make_inbox(self, address: str) -> None:
        if "/" in address or address.startswith("."):
            raise ValueError(f"unusable address for a mailbox: {address!r}")
        self.maildir(address).parent.mkdir(parents=True, exist_ok=True)
        Maildir(str(self.maildir(address)), create=True)

    async def _serve_imap(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None and self._imap is not None
        self._imap_tasks.add(task)
        try:
            coalescing = cast(asyncio.StreamWriter, CoalescingWriter(writer))
            info = SocketInfo.get(writer, None, unique_id=uuid.uuid4().bytes)
            await self._imap(reader, coalescing, info)
        finally:
            self._imap_tasks.discard(task)
            writer.close()

    def _new_smtp(self) -> SMTP:
        handler = MailDelivery(self)
        protocol = SMTP(
            handler,
            hostname=self.domain,
            ident="mailbot devmail",
            enable_SMTPUTF8=True,
            auth_require_tls=False,
            authenticator=handler.authenticate,
            loop=asyncio.get_running_loop(),
        )
        self._smtp_protocols.add(protocol)
        return protocol

    def _smtp_tasks(self) -> list[asyncio.Task[None]]:
        tasks = (getattr(p, "_handler_coroutine", None) for p in self._smtp_protocols)
        return [task for task in tasks if task is not None]


def _takes_arguments_of(
    _source: Callable[_P, object],
) -> Callable[[Callable[..., None]], Callable[Concatenate[Any, _P], None]]:
    """Type the decorated `__init__(self, *args, **kwargs)` as taking the arguments of
    `_source` (which it forwards them to), so that callers are checked against one signature
    kept in one place. Changes nothing at run time."""

    def decorate(init: Callable[..., None]) -> Callable[Concatenate[Any, _P], None]:
        return init

    return decorate


class DevMailThread:
    """DevMailSystem in a background thread with its own event loop, for synchronous code
    (tests, CLI commands): `with DevMailThread(root, domain, users) as mail: ...`."""

    @_takes_arguments_of(DevMailSystem)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.system = DevMailSystem(*args, **kwargs)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def host(self) -> str:
        return self.system.host

    @property
    def imap_port(self) -> int:
        return self.system.imap_port

    @property
    def smtp_port(self) -> int:
        return self.system.smtp_port

    def start(self, timeout: float = 10.0) -> None:
        ready = threading.Event()
        self._error = None
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._main(ready),), name="devmail", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("devmail did not start")
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise self._error

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.system.start()
        except BaseException as exc:  # handed to the starting thread
            self._error = exc
            ready.set()
            return
        ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.system.stop()

    def stop(self) -> None:
        if self._thread is None or self._loop is None or self._stop is None:
            return
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()
        self._thread = None

    def call(self, function: Callable[[], Any]) -> Any:
        """Run a coroutine function in the mail system's loop and wait for its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(function(), self._loop).result()

    def add_user(self, address: str, password: str) -> None:
        self.call(lambda: self.system.add_user(address, password))

    def __enter__(self) -> DevMailThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
