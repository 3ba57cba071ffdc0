"""Real mail servers for the integration tests: Dovecot (IMAP + LMTP) and an SMTP relay.

`Dovecot` runs a private Dovecot instance (own config, ports, mail store) in the test process'
machine; `LmtpRelaySMTP` is an aiosmtpd server that hands every message to that Dovecot over
LMTP before it answers, so a message is in the mailbox when SMTP says 250.
See docs/mail-servers.md for the layout, ports and the pitfalls met on the way.
"""

from __future__ import annotations

import atexit
import email
import email.policy
import itertools
import os
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from imapclient import IMAPClient

if TYPE_CHECKING:
    from tlsutil import TlsFiles

MAIL_UID = 5000
"""Dovecot refuses to access mail as root: the store belongs to this numeric uid/gid."""

INSTALL_HINT = (
    "Dovecot is not installed: run scripts/install.sh (it installs dovecot-imapd and "
    "dovecot-lmtpd)."
)


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct TCP ports that were free a moment ago: the sockets are held open
    together, so the kernel cannot hand the same port out twice (it may, to calls made one
    after the other: Dovecot then refuses a "duplicate listener")."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the kernel picks it)."""
    return free_ports(1, host)[0]


def find_dovecot() -> str | None:
    """Path of the dovecot binary; /usr/sbin is often missing from PATH."""
    return shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")


_PLAIN_SSL = "ssl = no"
_PLAIN_IMAPS = "    port = 0"

# TLS settings (RFC 8314: implicit TLS on the imaps port; RFC 3501 §6.2.1: STARTTLS on imap).
# `ssl = required` refuses authentication before TLS, except that Dovecot counts a loopback
# peer as secured (see docs/tls.md): the tests check the socket itself, not only the login.
_TLS_SSL = """\
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2"""
_TLS_IMAPS = """\
    address = {host}
    port = {port}
    ssl = yes"""


def _check_passwd_field(value: str) -> None:
    if any(char in value for char in ":\r\n\0"):
        raise ValueError(f"not allowed in a passwd-file field: {value!r}")


_CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
instance_name = mailbot-test-{name}
log_path = {root}/dovecot.log
protocols = imap lmtp
listen = {host}
{ssl_settings}
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {uid}
first_valid_gid = {uid}
mail_uid = {uid}
mail_gid = {uid}
mail_location = maildir:{root}/mail/%d/%n/Maildir
mail_home = {root}/mail/%d/%n
mail_fsync = never
recipient_delimiter = +
postmaster_address = postmaster@{domain}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu {root}/users/%Lu
}}
userdb {{
  driver = passwd-file
  args = username_format=%Lu {root}/users/%Lu
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {imap_port}
  }}
  inet_listener imaps {{
{imaps_listener}
  }}
  service_count = 0
}}
service lmtp {{
  inet_listener lmtp {{
    address = {host}
    port = {lmtp_port}
  }}
}}
protocol imap {{
  mail_max_userip_connections = 1000
}}
"""


class Dovecot:
    """A private Dovecot (IMAP + LMTP, plain text on loopback) with its own store.

    With `tls` (a certificate, its key and the CA that signed it, see tests/tlsutil.py) IMAP
    also offers STARTTLS on `imap_port` and implicit TLS on `imaps_port` (`ssl = required`,
    though Dovecot still lets a loopback peer log in without TLS: see docs/tls.md); LMTP stays
    plain. Without it (the default) nothing changes: no TLS at all.

    Users live in a passwd-file (`{PLAIN}` passwords); Dovecot re-reads it when it changes,
    so `add_user` works while the server runs. `mail_location` is a Maildir per address,
    `recipient_delimiter = +` so `local+tag@domain` is delivered to `local@domain`. Only
    INBOX exists at first: the folders mailbot works with are its own to create.
    """

    def __init__(self, domain: str = "example.test", tls: TlsFiles | None = None) -> None:
        self.domain = domain
        self.host = "127.0.0.1"
        self.tls = tls
        self.imap_port, self.lmtp_port, imaps = free_ports(3)
        self.imaps_port: int | None = imaps if tls is not None else None
        # Not pytest's tmp_path: every parent must be traversable by the dovecot user and the
        # mail uid, and base_dir must stay short (unix socket paths: 108 bytes at most).
        self.root = Path(tempfile.mkdtemp(prefix="mbdc-"))
        self.root.chmod(0o755)
        self._users_dir = self.root / "users"
        self._process: subprocess.Popen[bytes] | None = None
        self._users: dict[str, str] = {}
        self._lock = threading.Lock()
        self._prepare_root()
        # The master runs in its own session: make sure it dies with the test process.
        atexit.register(self.stop)

    def _prepare_root(self) -> None:
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir(mode=0o755, exist_ok=True)
        os.chown(self.root / "mail", MAIL_UID, MAIL_UID)
        self._users_dir.mkdir(mode=0o755, exist_ok=True)
        (self.root / "dovecot.conf").write_text(
            _CONFIG.format(
                root=self.root,
                name=self.root.name,
                host=self.host,
                uid=MAIL_UID,
                domain=self.domain,
                imap_port=self.imap_port,
                lmtp_port=self.lmtp_port,
                ssl_settings=self._ssl_settings(),
                imaps_listener=self._imaps_listener(),
            )
        )

    def _ssl_settings(self) -> str:
        if self.tls is None:
            return _PLAIN_SSL
        return _TLS_SSL.format(cert=self.tls.cert, key=self.tls.key)

    def _imaps_listener(self) -> str:
        if self.tls is None:
            return _PLAIN_IMAPS
        return _TLS_IMAPS.format(host=self.host, port=self.imaps_port)

    @property
    def log_file(self) -> Path:
        return self.root / "dovecot.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start the master and return once IMAP and LMTP greet (an early client is dropped)."""
        binary = find_dovecot()
        if binary is None:
            raise RuntimeError(INSTALL_HINT)
        if self.running:
            return
        # Own process group: restart() kills the master and all its children at once.
        with (self.root / "dovecot.stderr").open("ab") as stderr:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [binary, "-F", "-c", str(self.root / "dovecot.conf")],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        self._wait_greeting(self.imap_port, b"* OK", deadline)
        self._wait_greeting(self.lmtp_port, b"220 ", deadline)
        if self.imaps_port is not None:
            # The imaps greeting comes after the handshake (RFC 8314 §3.3).
            self._wait_greeting(self.imaps_port, b"* OK", deadline, tls=True)

    def _wait_greeting(
        self,
        port: int,
        prefix: bytes,
        deadline: float,
        *,
        tls: bool = False,
    ) -> None:
        # A readiness probe only: it does not verify the certificate (tests give Dovecot
        # certificates that are wrong on purpose).
        probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        probe.check_hostname = False
        probe.verify_mode = ssl.CERT_NONE
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"dovecot exited at start:\n{self.log_tail()}")
            try:
                with socket.create_connection((self.host, port), timeout=1.0) as raw:
                    sock = raw
                    if tls:
                        sock = probe.wrap_socket(raw)
                    with sock:
                        if sock.recv(200).startswith(prefix):
                            return
            except OSError as exc:
                last_error = exc
            time.sleep(0.01)
        raise TimeoutError(f"no greeting on port {port} ({last_error}):\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for path in (self.log_file, self.root / "dovecot.stderr"):
            if path.exists():
                parts.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(parts)

    def stop(self) -> None:
        """Kill the master and every child: connections drop at once, the store stays."""
        process = self._process
        if process is None:
            return
        self._process = None
        if process.poll() is None:
            # SIGTERM takes 2-3 s for the master to exit; the test store needs no grace.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait(timeout=10)
        self._wait_ports_free()

    def _wait_ports_free(self, timeout: float = 5.0) -> None:
        """Children notice the master's death a little later; wait until nobody listens."""
        deadline = time.monotonic() + timeout
        ports = [self.imap_port, self.lmtp_port]
        if self.imaps_port is not None:
            ports.append(self.imaps_port)
        for port in ports:
            while time.monotonic() < deadline:
                try:
                    with socket.create_connection((self.host, port), timeout=0.2):
                        pass
                except OSError:
                    break
                time.sleep(0.01)

    def restart(self) -> None:
        """Kill everything (tests use it to drop connections mid-IDLE), start again on the
        same ports and store."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop and remove the store."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def add_user(self, address: str, password: str) -> None:
        """Add a mailbox; usable while running (the passwd-file is re-read on change)."""
        _check_passwd_field(address)
        _check_passwd_field(password)
        address = address.lower()
        with self._lock:
            if address in self._users:
                raise ValueError(f"user already exists: {address}")
            self._users[address] = password
            # One passwd-file per user: Dovecot re-reads a shared file at most once a second,
            # a file at a new path is read at its first lookup.
            entry = self._users_dir / address
            entry.write_text(f"{address}:{{PLAIN}}{password}::::::\n")

    def has_user(self, address: str) -> bool:
        with self._lock:
            return address.lower() in self._users

    def maildir(self, address: str) -> Path:
        local, domain = address.lower().rsplit("@", 1)
        return self.root / "mail" / domain / local / "Maildir"


@dataclass(frozen=True)
class RelayedMessage:
    """An envelope the relay accepted and Dovecot delivered."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    def message(self) -> EmailMessage:
        return parse_message(self.raw)


@dataclass
class _Fault:
    stage: Literal["RCPT", "DATA"]
    reply: str
    count: int


@dataclass
class _LmtpHandler:
    """aiosmtpd handler: one LMTP transaction per SMTP transaction, opened at the first RCPT.

    smtplib.LMTP.sendmail() reads only the first of the per-recipient replies LMTP sends after
    DATA (RFC 2033 §4.2) and the leftover reply breaks QUIT, so we drive mail()/rcpt()/data()
    ourselves and read one more reply per further accepted recipient. Calls block the relay's
    loop for a few milliseconds: fine for tests.
    """

    dovecot: Dovecot
    accepted: list[RelayedMessage] = field(default_factory=list)
    faults: list[_Fault] = field(default_factory=list)
    greetings: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    sessions: weakref.WeakKeyDictionary[Session, smtplib.LMTP] = field(
        default_factory=weakref.WeakKeyDictionary
    )

    def take_fault(self, stage: str) -> str | None:
        with self.lock:
            for fault in self.faults:
                if fault.stage == stage:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                    return fault.reply
        return None

    def _lmtp(self, session: Session, mail_from: str) -> smtplib.LMTP:
        lmtp = self.sessions.get(session)
        if lmtp is None:
            lmtp = smtplib.LMTP(self.dovecot.host, self.dovecot.lmtp_port, timeout=10)
            lmtp.ehlo("relay.test")  # smtplib.LMTP sends LHLO
            code, reply = lmtp.mail(mail_from)
            if code != 250:
                lmtp.close()
                raise smtplib.SMTPSenderRefused(code, reply, mail_from)
            self.sessions[session] = lmtp
        return lmtp

    def _close(self, session: Session) -> None:
        lmtp = self.sessions.pop(session, None)
        if lmtp is not None:
            try:
                lmtp.quit()
            except smtplib.SMTPException:
                lmtp.close()

    async def handle_EHLO(
        self, _server: SMTP, session: Session, _envelope: Envelope, host: str, responses: list[str]
    ) -> list[str]:
        session.host_name = host  # what aiosmtpd does itself when there is no hook
        with self.lock:
            self.greetings += 1  # one per session the client opened (and greeted)
        return responses

    async def handle_MAIL(  # aiosmtpd hook names
        self, _server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self._close(session)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, _server: SMTP, session: Session, envelope: Envelope, address: str, _options: list[str]
    ) -> str:
        fault = self.take_fault("RCPT")
        if fault is not None:
            return fault
        try:
            lmtp = self._lmtp(session, envelope.mail_from or "")
        except smtplib.SMTPSenderRefused as exc:
            return f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}"
        code, reply = lmtp.rcpt(address)
        if code == 250:
            envelope.rcpt_tos.append(address)
        return f"{code} {reply.decode(errors='replace')}"

    async def handle_RSET(self, _server: SMTP, session: Session, _envelope: Envelope) -> str:
        self._close(session)
        return "250 OK"

    async def handle_DATA(self, _server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        fault = self.take_fault("DATA")
        lmtp = self.sessions.get(session)
        if fault is not None or lmtp is None:
            self._close(session)
            return fault or "503 5.5.1 No valid recipients"
        try:
            replies = [lmtp.data(raw)]
            replies.extend(lmtp.getreply() for _ in envelope.rcpt_tos[1:])
        finally:
            self._close(session)
        failed = [(code, text) for code, text in replies if code != 250]
        if failed:
            # SMTP has one reply for DATA; report the first failure (tests never mix).
            code, text = failed[0]
            return f"{code} {text.decode(errors='replace')}"
        with self.lock:
            self.accepted.append(
                RelayedMessage(envelope.mail_from or "", list(envelope.rcpt_tos), raw)
            )
        return "250 2.0.0 OK delivered"


class LmtpRelaySMTP:
    """An SMTP server (aiosmtpd, plain, no auth) that delivers into a Dovecot over LMTP.

    Unknown recipients are refused at RCPT with Dovecot's own 550. `accepted` lists what was
    delivered. `fail_next()` injects temporary or permanent failures for retry tests.
    """

    def __init__(self, dovecot: Dovecot) -> None:
        self.dovecot = dovecot
        self.host = "127.0.0.1"
        self.port = free_port()
        self._handler = _LmtpHandler(dovecot)
        self._controller = self._new_controller()

    def _new_controller(self) -> Controller:
        return Controller(
            self._handler,
            hostname=self.host,
            port=self.port,
            server_hostname="relay.test",
            ready_timeout=10.0,
        )

    @property
    def accepted(self) -> list[RelayedMessage]:
        with self._handler.lock:
            return list(self._handler.accepted)

    def start(self) -> None:
        """Start serving (again, on the same port, after `stop()`: outage tests)."""
        if self._controller.loop.is_closed():
            self._controller = self._new_controller()
        self._controller.start()

    def stop(self) -> None:
        """Stop serving; sessions in progress are cut (no answer to a command in flight)."""
        self._controller.stop()

    def fail_next(
        self, code: int, message: str, count: int = 1, at: Literal["RCPT", "DATA"] = "DATA"
    ) -> None:
        """Answer the next `count` RCPT or DATA commands with `code message` (4xx or 5xx)."""
        if not 400 <= code < 600:
            raise ValueError(f"not a failure code: {code}")
        with self._handler.lock:
            self._handler.faults.append(_Fault(at, f"{code} {message}", count))

    @property
    def sessions_greeted(self) -> int:
        """SMTP sessions opened and greeted with EHLO since the relay was created."""
        with self._handler.lock:
            return self._handler.greetings

    def clear_faults(self) -> None:
        with self._handler.lock:
            self._handler.faults.clear()

    def sent_to(self, address: str) -> list[RelayedMessage]:
        """Accepted envelopes with `address` among their recipients (case-insensitive)."""
        wanted = address.lower()
        return [m for m in self.accepted if wanted in (r.lower() for r in m.rcpt_tos)]

    def send(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> None:
        """Send through the relay with smtplib (raises like smtplib does)."""
        with smtplib.SMTP(self.host, self.port, timeout=10) as client:
            client.sendmail(mail_from, rcpt_tos, raw)


def parse_message(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def imap_login(dovecot: Dovecot, user: str, password: str) -> IMAPClient:
    """A logged-in IMAPClient. TCP_NODELAY: without it an APPEND's final CRLF waits for a
    delayed ACK (Nagle), about 40 ms per command."""
    client = IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False, timeout=10)
    client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.login(user, password)
    return client


def _fetch_all(client: IMAPClient) -> list[EmailMessage]:
    uids = client.search(["ALL"])
    if not uids:
        return []
    fetched = client.fetch(uids, ["BODY.PEEK[]"])
    return [parse_message(fetched[uid][b"BODY[]"]) for uid in sorted(fetched)]


def count_folder(dovecot: Dovecot, user: str, password: str, folder: str = "INBOX") -> int:
    """How many messages `folder` holds (0 when it does not exist), without parsing them."""
    with imap_login(dovecot, user, password) as client:
        if not client.folder_exists(folder):
            return 0
        client.select_folder(folder, readonly=True)
        return len(client.search(["ALL"]))


def fetch_folder(
    dovecot: Dovecot, user: str, password: str, folder: str = "INBOX"
) -> list[EmailMessage]:
    """Every message of `folder` in UID order, without setting \\Seen (BODY.PEEK)."""
    with imap_login(dovecot, user, password) as client:
        client.select_folder(folder, readonly=True)
        return _fetch_all(client)


def wait_for_messages(
    dovecot: Dovecot, user: str, password: str, folder: str, count: int, timeout: float = 10.0
) -> list[EmailMessage]:
    """Poll until `folder` holds at least `count` messages (it may not exist yet); return them.

    Raises TimeoutError saying how many were seen.
    """
    deadline = time.monotonic() + timeout
    seen = 0
    with imap_login(dovecot, user, password) as client:
        while True:
            if client.folder_exists(folder):
                status = client.folder_status(folder, [b"MESSAGES"])
                seen = int(status[b"MESSAGES"])
                if seen >= count:
                    client.select_folder(folder, readonly=True)
                    return _fetch_all(client)
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{user} {folder}: {seen} message(s) after {timeout} s, wanted {count}"
                )
            time.sleep(0.05)


def append_raw(
    dovecot: Dovecot, user: str, password: str, raw: bytes, folder: str = "INBOX"
) -> int | None:
    """APPEND `raw` to `folder`; returns the new UID (APPENDUID, RFC 4315) when given."""
    with imap_login(dovecot, user, password) as client:
        response = client.append(folder, raw)
    # b"[APPENDUID <uidvalidity> <uid>] Append completed."
    parts = response.split(b"]", 1)[0].split()
    if len(parts) == 3 and parts[0] == b"[APPENDUID":
        return int(parts[2])
    return None


@dataclass(frozen=True)
class Account:
    """A mailbox of the test Dovecot."""

    address: str
    password: str


REVIEWER_GROUPS = ("abonnements", "desta", "antai", "accueil")
_env_numbers = itertools.count(1)


@dataclass
class MailEnv:
    """Fresh mailboxes for one test (unique addresses: tests never see each other's mail).

    `bot` is the generic mailbox mailbot serves; `requesters` two people who write to it;
    `reviewers` one member per reviewer group (keys: abonnements, desta, antai, accueil);
    `admin` the administrator. Addresses are `<name>-<n>@<domain>`, e.g. `bot-7@example.test`,
    `alice-7@…`, `bob-7@…`, `relecteur.desta-7@…`, `admin-7@…`.
    """

    dovecot: Dovecot
    smtp: LmtpRelaySMTP
    number: int
    bot: Account
    requesters: tuple[Account, Account]
    reviewers: dict[str, Account]
    admin: Account
    _relayed_before: int = 0

    @classmethod
    def create(cls, dovecot: Dovecot, smtp: LmtpRelaySMTP) -> MailEnv:
        number = next(_env_numbers)

        def account(name: str) -> Account:
            address = f"{name}-{number}@{dovecot.domain}"
            password = f"pw-{name}-{number}"
            dovecot.add_user(address, password)
            return Account(address, password)

        return cls(
            dovecot=dovecot,
            smtp=smtp,
            number=number,
            bot=account("bot"),
            requesters=(account("alice"), account("bob")),
            reviewers={group: account(f"relecteur.{group}") for group in REVIEWER_GROUPS},
            admin=account("admin"),
            _relayed_before=len(smtp.accepted),
        )

    @property
    def domain(self) -> str:
        return self.dovecot.domain

    @property
    def accounts(self) -> list[Account]:
        return [self.bot, *self.requesters, *self.reviewers.values(), self.admin]

    def login(self, account: Account) -> IMAPClient:
        return imap_login(self.dovecot, account.address, account.password)

    def fetch(self, account: Account, folder: str = "INBOX") -> list[EmailMessage]:
        return fetch_folder(self.dovecot, account.address, account.password, folder)

    def wait_for(
        self, account: Account, folder: str = "INBOX", count: int = 1, timeout: float = 10.0
    ) -> list[EmailMessage]:
        return wait_for_messages(
            self.dovecot, account.address, account.password, folder, count, timeout
        )

    def append(self, account: Account, raw: bytes, folder: str = "INBOX") -> int | None:
        return append_raw(self.dovecot, account.address, account.password, raw, folder)

    def send(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> None:
        self.smtp.send(mail_from, rcpt_tos, raw)

    def relayed(self) -> list[RelayedMessage]:
        """Envelopes the relay accepted since this environment was made (any test's)."""
        return self.smtp.accepted[self._relayed_before :]
