"""The relay's SMTP client (aiosmtplib) as configured: TLS mode, CA file, credentials.

On its own so that `mailbot health` (which only greets the relay) does not import what
delivery needs (the outbox, the ORM models, mail composition)."""

from __future__ import annotations

import ssl

import aiosmtplib

from mailbot.config import SmtpConfig


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca_file)
    return ctx  # certificate and host name verified


def smtp_client(cfg: SmtpConfig, password: str | None) -> aiosmtplib.SMTP:
    kwargs: dict[str, object] = {
        "hostname": cfg.host,
        "port": cfg.port,
        "timeout": cfg.timeout_seconds,
    }
    if cfg.tls == "implicit":
        kwargs.update(use_tls=True, tls_context=tls_context(cfg.ca_file))
    elif cfg.tls == "starttls":
        kwargs.update(start_tls=True, tls_context=tls_context(cfg.ca_file))
    else:
        kwargs.update(use_tls=False, start_tls=False)
    if cfg.user:
        kwargs.update(username=cfg.user, password=password or "")
    return aiosmtplib.SMTP(**kwargs)  # type: ignore[arg-type]
