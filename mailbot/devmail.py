"""An embedded local mail system for `make run` and `mailbot demo`: IMAP + SMTP in one process.

IMAP is pymap's maildir backend; SMTP is aiosmtpd writing straight into the same maildirs.
Plain text on loopback, one password per address, only INBOX at first. It is a demo mailbox a
real client (Thunderbird) can use, not a production server: see docs/mail-servers.md.
"""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import logging
import os
import secrets
import socket
import tempfile
import threading
import time
import uuid
import weakref
from argparse import Namespace
from collections.abc import Callable
from datetime import datetime
from email import policy
from email.header import Header, decode_header, make_header
from email.parser import BytesHeaderParser
from email.utils import format_datetime, formataddr, make_msgid
from mailbox import MaildirMessage
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from proxyprotocol.sock import SocketInfo
from pymap.backend.maildir import Config, Identity, Login
from pymap.backend.maildir.io import FileWriteable
from pymap.backend.maildir.layout import MaildirLayout
from pymap.backend.maildir.mailbox import Maildir
from pymap.backend.maildir.users import PasswordsFile, UsersFile
from pymap.concurrent import Subsystem
from pymap.imap import IMAPServer
from pysasl.creds.server import ServerCredentials
from pysasl.hashing import Cleartext

__all__ = ["DevMailSystem", "DevMailThread", "build_bounce"]

log = logging.getLogger(__name__)

_LOCK_NAME = "devmail.lock"
_SOURCE = "_devmail_source"
_delivery_counter = itertools.count()


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


def _normalize_crlf(raw: bytes) -> bytes:
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
        return _normalize_crlf(self._raw)


class _RawMaildir(Maildir):
    """pymap's Maildir, serving raw messages and copying them whole."""

    def __init__(self, dirname: str, factory: object = None, create: bool = True) -> None:
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


class _Login(Login):
    """pymap's maildir login, handing out identities that serve raw messages."""

    async def authenticate(self, credentials: ServerCredentials) -> _Identity:
        found = await super().authenticate(credentials)
        return _Identity(self.config, self.tokens, found.name, None, found.roles)

    async def authorize(self, authenticated: Any, authzid: str) -> _Identity:
        found = await super().authorize(authenticated, authzid)
        return _Identity(self.config, self.tokens, found.name, None, found.roles)


class _CoalescingWriter:
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


class _Config(Config):
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


def _split_address(address: str) -> tuple[str, str]:
    local, _, domain = address.strip().lower().rpartition("@")
    return local, domain


def build_bounce(
    *,
    domain: str,
    original: bytes,
    failed: list[str],
    reason: str,
    arrival: datetime,
    to: str,
) -> bytes:
    """A delivery status notification (RFC 3464) for `failed` recipients of `original`,
    from MAILER-DAEMON@domain: the explanation for people (`reason`, French), the report
    for machines (Status 5.4.4, unable to route; ASCII as RFC 3464 requires) and the original
    headers (text/rfc822-headers, RFC 6522), Message-ID included."""
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(original)
    try:
        subject = str(make_header(decode_header(headers.get("Subject", ""))))
    except (ValueError, LookupError):
        subject = str(headers.get("Subject", ""))
    header_end = original.find(b"\r\n\r\n")
    header_end = original.find(b"\n\n") if header_end < 0 else header_end
    original_headers = _normalize_crlf(original if header_end < 0 else original[:header_end])
    boundary = f"=_devmail_{uuid.uuid4().hex}"
    status = "5.4.4"
    human = (
        "Bonjour,\r\n\r\n"
        "Ceci est un avis automatique du système de messagerie de démonstration.\r\n\r\n"
        "Votre message n'a pas pu être remis aux destinataires suivants :\r\n\r\n"
        + "".join(f"    {rcpt}\r\n" for rcpt in failed)
        + f"\r\nMotif : {reason}.\r\n\r\n"
        "Les en-têtes de votre message figurent à la fin de cet avis.\r\n"
    )
    per_recipient = "".join(
        f"\r\nFinal-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} Unable to route: demo system, local domains only\r\n"
        for rcpt in failed
    )
    top = [
        ("From", formataddr(("Système de messagerie", f"MAILER-DAEMON@{domain}"), "utf-8")),
        ("To", f"<{to}>"),
        ("Subject", Header(f"Message non remis : {subject}", "utf-8").encode(linesep="\r\n")),
        ("Date", format_datetime(datetime.now().astimezone())),
        ("Message-ID", make_msgid("bounce", domain=domain)),
        ("Auto-Submitted", "auto-replied"),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/report; report-type=delivery-status; boundary="{boundary}"'),
    ]
    parts = [
        "".join(f"{name}: {value}\r\n" for name, value in top),
        "\r\nCe message est au format MIME.\r\n",
        f"\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n\r\n{human}",
        f"\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; {domain}\r\nArrival-Date: {format_datetime(arrival)}\r\n"
        f"{per_recipient}",
        f"\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n",
    ]
    tail = f"\r\n\r\n--{boundary}--\r\n".encode()
    return "".join(parts).encode() + original_headers + tail


class _MailDelivery:
    """The SMTP policy (aiosmtpd hooks): local recipients into their maildir INBOX, the
    others bounced to a local sender or dropped."""

    def __init__(self, system: DevMailSystem) -> None:
        self.system = system

    async def handle_RCPT(  # aiosmtpd hook names
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        _, domain = _split_address(address)
        if domain in self.system.domains and self.system.mailbox_of(address) is None:
            return "550 5.1.1 Adresse inconnue / No such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        sender = envelope.mail_from or ""
        local = [rcpt for rcpt in envelope.rcpt_tos if self.system.mailbox_of(rcpt)]
        remote = [rcpt for rcpt in envelope.rcpt_tos if rcpt not in local]
        try:
            for rcpt in local:
                self.system.deliver(sender, rcpt, raw, _received(session, rcpt))
            if remote:
                self._bounce(sender, remote, raw)
        except OSError:
            log.exception("devmail: delivery failed")
            return "451 4.3.0 Erreur locale, réessayez plus tard / Local error, try again"
        return "250 2.0.0 OK"

    def _bounce(self, sender: str, remote: list[str], raw: bytes) -> None:
        domains = ", ".join(sorted(self.system.domains))
        if not sender or self.system.mailbox_of(sender) is None:
            log.info("devmail: dropped mail from <%s> to %s (no route outside %s)",
                     sender, ", ".join(remote), domains)  # fmt: skip
            return
        reason = (
            f"ce système de démonstration ne distribue le courrier qu'aux adresses de {domains}"
        )
        dsn = build_bounce(
            domain=self.system.domain,
            original=raw,
            failed=remote,
            reason=reason,
            arrival=datetime.now().astimezone(),
            to=sender,
        )
        log.info("devmail: bounced mail from <%s> to %s", sender, ", ".join(remote))
        self.system.deliver("", sender, dsn, "")

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """AUTH PLAIN/LOGIN with a local address and its password (clients such as
        Thunderbird may insist); never required."""
        ok = False
        if isinstance(data, LoginPassword):
            expected = self.system.users.get(data.login.decode("utf-8", "replace").lower())
            ok = expected is not None and secrets.compare_digest(expected.encode(), data.password)
        # handled=False: aiosmtpd sends the 535 itself (handled=True would leave the client
        # waiting for a reply nobody sends).
        return AuthResult(success=ok, handled=False, auth_data=data)


def _received(session: Session, rcpt: str) -> str:
    """A Received trace field (RFC 5321 §4.4)."""
    peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
    protocol = "ESMTP" if session.extended_smtp else "SMTP"
    now = format_datetime(datetime.now().astimezone())
    helo = session.host_name or "unknown"
    return f"from {helo} ([{peer}])\r\n\tby devmail with {protocol} for <{rcpt}>; {now}"


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
        return frozenset({self.domain, *(_split_address(a)[1] for a in self.users)})

    def mailbox_of(self, address: str) -> str | None:
        """The local user receiving mail for `address` (`local+tag@domain` → `local@domain`)."""
        local, domain = _split_address(address)
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
            config = _Config(self.root, self.host, self.imap_port, self.domain)
            self._imap = IMAPServer(_Login(config), config)
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
        trace = f"Return-Path: <{sender}>\r\nDelivered-To: {rcpt}\r\n"
        if received:
            trace += f"Received: {received}\r\n"
        maildir = self.maildir(mailbox)
        name = _unique_name()
        tmp_path = maildir / "tmp" / name
        with tmp_path.open("xb") as file:
            file.write(trace.encode() + raw)
        os.rename(tmp_path, maildir / "new" / name)

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
            coalescing = cast(asyncio.StreamWriter, _CoalescingWriter(writer))
            info = SocketInfo.get(writer, None, unique_id=uuid.uuid4().bytes)
            await self._imap(reader, coalescing, info)
        finally:
            self._imap_tasks.discard(task)
            writer.close()

    def _new_smtp(self) -> SMTP:
        handler = _MailDelivery(self)
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


def _unique_name() -> str:
    """A maildir file name: time, microseconds, pid, counter, host (the maildir(5) recipe)."""
    now = time.time()
    host = socket.gethostname().replace("/", r"\057").replace(":", r"\072")
    return f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}Q{next(_delivery_counter)}.{host}"


class DevMailThread:
    """DevMailSystem in a background thread with its own event loop, for synchronous code
    (tests, CLI commands): `with DevMailThread(root, domain, users) as mail: ...`."""

    def __init__(
        self,
        root: Path,
        domain: str,
        users: dict[str, str],
        imap_port: int = 1143,
        smtp_port: int = 2525,
        host: str = "127.0.0.1",
    ) -> None:
        self.system = DevMailSystem(root, domain, users, imap_port, smtp_port, host)
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
