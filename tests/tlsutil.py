"""Throw-away certificates for the TLS tests, made with the `openssl` command line.

A private CA signs server certificates whose subjectAltName lists what the client will check
(RFC 6125 §6: the reference identity is matched against subjectAltName only; an IP address
must appear as an iPAddress entry, RFC 5280 §4.2.1.6). A second CA that nobody trusts signs a
certificate with the very same names, so that a refused handshake in a test can only be blamed
on trust. EC P-256 keys: the whole set takes a few tens of milliseconds.
"""

from __future__ import annotations

import secrets
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from mailservers import free_port

LOOPBACK_NAMES = ("IP:127.0.0.1", "DNS:localhost")

_CA_EXTENSIONS = """\
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

_SERVER_EXTENSIONS = """\
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = {names}
"""


def find_openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        raise RuntimeError("the openssl command is needed to make test certificates")
    return path


def _openssl(*args: str | Path) -> None:
    subprocess.run(  # noqa: S603 - fixed argv, no shell
        [find_openssl(), *map(str, args)],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )


@dataclass(frozen=True)
class Authority:
    """A certification authority: its certificate (what clients trust) and its key."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class TlsFiles:
    """What a server needs (certificate and key, PEM) and the CA a client must trust."""

    cert: Path
    key: Path
    ca_file: Path

    def server_context(self) -> ssl.SSLContext:
        """A server-side context presenting this certificate (TLS 1.2 or later)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only this CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def make_authority(folder: Path, name: str) -> Authority:
    """A self-signed CA valid for two days."""
    config = folder / f"{name}.cnf"
    config.write_text(_CA_EXTENSIONS)
    authority = Authority(folder / f"{name}.pem", folder / f"{name}.key")
    _openssl(
        "req", "-x509", "-new", "-nodes", "-config", config, "-extensions", "ca",
        "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-keyout", authority.key, "-out", authority.cert,
        "-days", "2", "-subj", f"/O=mailbot tests/CN={name}",
    )  # fmt: skip
    return authority


def issue(authority: Authority, folder: Path, name: str, names: tuple[str, ...]) -> TlsFiles:
    """A server certificate for `names` (e.g. "IP:127.0.0.1", "DNS:localhost") signed by
    `authority`. The common name is deliberately none of the names: a client must match the
    subjectAltName, never the CN."""
    key, csr, cert = (folder / f"{name}.{ext}" for ext in ("key", "csr", "pem"))
    extensions = folder / f"{name}.ext"
    extensions.write_text(_SERVER_EXTENSIONS.format(names=", ".join(names)))
    _openssl(
        "req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-keyout", key, "-out", csr, "-subj", f"/O=mailbot tests/CN={name}",
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", csr, "-CA", authority.cert, "-CAkey", authority.key,
        "-set_serial", str(secrets.randbits(63)), "-days", "2", "-sha256",
        "-extfile", extensions, "-extensions", "server", "-out", cert,
    )  # fmt: skip
    # Dovecot reads its certificate and key through `ssl_cert = <path`; world-readable files
    # in a world-traversable folder spare us any question of which process reads them.
    # Throw-away test keys: nothing to protect.
    for path in (key, cert, authority.cert):
        path.chmod(0o644)
    return TlsFiles(cert=cert, key=key, ca_file=authority.cert)


@dataclass(frozen=True)
class TestPki:
    """Everything the TLS tests need, in one temporary folder.

    - `trusted`: from the private CA, for 127.0.0.1 and localhost;
    - `localhost_only`: from the private CA, for DNS:localhost only (connect to 127.0.0.1 to
      get an address mismatch);
    - `ip_only`: from the private CA, for IP:127.0.0.1 only (connect to localhost to get a
      host name mismatch);
    - `untrusted`: for 127.0.0.1 and localhost, but from a CA no client trusts; its `ca_file`
      is that CA (to prove the certificate itself is fine).
    """

    __test__ = False  # not a pytest test class, despite its name

    root: Path
    ca: Authority
    trusted: TlsFiles
    localhost_only: TlsFiles
    ip_only: TlsFiles
    untrusted: TlsFiles

    @classmethod
    def create(cls) -> TestPki:
        root = Path(tempfile.mkdtemp(prefix="mbtls-"))
        # Traversable by the dovecot user (its login processes do not run as root).
        root.chmod(0o755)
        ca = make_authority(root, "private-ca")
        rogue = make_authority(root, "rogue-ca")
        return cls(
            root=root,
            ca=ca,
            trusted=issue(ca, root, "server", LOOPBACK_NAMES),
            localhost_only=issue(ca, root, "server-localhost", ("DNS:localhost",)),
            ip_only=issue(ca, root, "server-ip", ("IP:127.0.0.1",)),
            untrusted=issue(rogue, root, "server-rogue", LOOPBACK_NAMES),
        )

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# ---------------------------------------------------------------------------- SMTP servers


@dataclass(frozen=True)
class Received:
    """An envelope an SMTP test server accepted, with the TLS version of its session."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    tls_version: str | None
    user: str | None


@dataclass
class _MemoryHandler:
    """aiosmtpd handler keeping everything in memory: every MAIL FROM seen (with whether the
    session was encrypted) and every accepted message."""

    mail_from_seen: list[tuple[str, str | None]] = field(default_factory=list)
    accepted: list[Received] = field(default_factory=list)

    async def handle_MAIL(  # aiosmtpd hook names
        self, server: SMTP, _session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.mail_from_seen.append((address, _tls_version(server)))
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        auth = session.auth_data
        self.accepted.append(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                raw=envelope.original_content or b"",
                tls_version=_tls_version(server),
                user=auth.login.decode() if isinstance(auth, LoginPassword) else None,
            )
        )
        return "250 2.0.0 OK kept in memory"


def _tls_version(server: SMTP) -> str | None:
    """The TLS version of the server's current transport; None in clear text. After STARTTLS
    the transport is the TLS one (aiosmtpd swaps it, RFC 3207 §4.2)."""
    transport = server.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    return ssl_object.version() if ssl_object is not None else None


@dataclass(frozen=True)
class _Credentials:
    user: str
    password: str

    def __call__(
        self,
        _server: SMTP,
        _session: Session,
        _envelope: Envelope,
        _mechanism: str,
        auth_data: object,
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.user.encode()
            and auth_data.password == self.password.encode()
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


class MemorySMTP:
    """An aiosmtpd server on 127.0.0.1 keeping accepted mail in memory.

    `mode`: "implicit" (TLS from the first byte, RFC 8314 §3), "starttls" (RFC 3207; with
    `require_starttls` every command but EHLO/STARTTLS/QUIT is refused before TLS, 530) or
    "plain" (no TLS offered at all). With `credentials` (user, password) AUTH PLAIN/LOGIN is
    offered and required.
    """

    def __init__(
        self,
        mode: Literal["implicit", "starttls", "plain"],
        tls: TlsFiles | None = None,
        *,
        require_starttls: bool = True,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        if (mode == "plain") != (tls is None):
            raise ValueError("a certificate is needed for the TLS modes, and only for them")
        self.mode = mode
        self.host = "127.0.0.1"
        self.port = free_port()
        self.handler = _MemoryHandler()
        params: dict[str, Any] = {}  # SMTP class keywords, passed through by Controller
        if credentials is not None:
            params.update(
                authenticator=_Credentials(*credentials),
                auth_required=True,
                # aiosmtpd only counts STARTTLS as TLS: on an implicit-TLS port it would never
                # offer AUTH. The implicit port is encrypted from the first byte anyway.
                auth_require_tls=mode != "implicit",
            )
        if mode == "starttls" and tls is not None:
            params.update(tls_context=tls.server_context(), require_starttls=require_starttls)
        self._controller = Controller(
            self.handler,
            hostname=self.host,
            port=self.port,
            ssl_context=tls.server_context() if mode == "implicit" and tls is not None else None,
            server_hostname="smtp.test",
            ready_timeout=10.0,
            **params,
        )

    @property
    def accepted(self) -> list[Received]:
        return list(self.handler.accepted)

    @property
    def mail_from_seen(self) -> list[tuple[str, str | None]]:
        return list(self.handler.mail_from_seen)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
