"""Loading and validating `config.toml`.

Every setting is checked at start: a wrong or missing value stops `mailbot run` with a message
that names the key and what is expected (`ConfigError`). Secrets never live in the file: the
file names the environment variable that holds them.
"""

from __future__ import annotations

import os
import ssl
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

TlsMode = Literal["implicit", "starttls", "plain"]
SPACES = ("accueil", "desta", "antai")


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstanceConfig(_Section):
    domain: str
    generic_address: str
    secret_env: str = "MAILBOT_SECRET"
    name: str = "Espace collectivités — stationnement payant"

    @field_validator("generic_address")
    @classmethod
    def _address(cls, v: str) -> str:
        if "@" not in v or v.count("@") != 1:
            raise ValueError("expected an e-mail address such as local@domain")
        return v.lower()


class PortalConfig(_Section):
    base_url: str
    listen_host: str = "127.0.0.1"
    listen_port: int = 8000
    secret_env: str = "MAILBOT_PORTAL_SECRET"
    # Portal operations (accounts, publications) run after commit and are retried on error.
    operation_max_attempts: int = Field(default=8, ge=1)
    operation_retry_base_seconds: float = Field(default=60, gt=0)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return v.rstrip("/")


class ReviewerGroup(_Section):
    members: list[str]
    handles: list[str] = Field(default_factory=list)

    @field_validator("members")
    @classmethod
    def _members(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("a group needs at least one member address")
        return [m.strip().lower() for m in v]


class ReviewersConfig(_Section):
    groups: dict[str, ReviewerGroup]
    any_member_may_decide: bool = True


class AdminsConfig(_Section):
    addresses: list[str]


class AuthResultsConfig(_Section):
    trusted_authserv_ids: list[str] = Field(default_factory=list)
    require_pass: bool = False


class FoldersConfig(_Section):
    inbox: str = "INBOX"
    processed: str = "Processed"
    ignored: str = "Ignored"
    quarantine: str = "Quarantine"


def _check_ca_file(value: str | None) -> str | None:
    """A private CA must load at start, not fail at the first connection."""
    if value is not None:
        try:
            ssl.create_default_context(cafile=value)
        except (OSError, ssl.SSLError) as err:
            raise ValueError(f"cannot load the CA file {value!r} ({err})") from None
    return value


class MailboxConfig(_Section):
    host: str
    port: int
    tls: TlsMode
    user: str
    password_env: str
    ca_file: str | None = None
    folders: FoldersConfig = FoldersConfig()
    idle: bool = True
    idle_renew_seconds: int = Field(default=25 * 60, gt=0, lt=29 * 60)
    poll_interval_seconds: int = Field(default=60, gt=0)
    reconnect_max_seconds: int = Field(default=300, gt=0)

    @field_validator("ca_file")
    @classmethod
    def _ca(cls, v: str | None) -> str | None:
        return _check_ca_file(v)


class SmtpConfig(_Section):
    host: str
    port: int
    tls: TlsMode
    user: str | None = None
    password_env: str | None = None
    ca_file: str | None = None
    batch_size: int = Field(default=50, gt=0)
    max_attempts: int = Field(default=8, gt=0)
    retry_base_seconds: int = Field(default=60, gt=0)
    # One send (MAIL, RCPT, DATA) is abandoned after this long without the server's answer.
    timeout_seconds: float = Field(default=30, gt=0)
    # A row claimed `sending` is someone's for this long; then it is sent again (same bytes).
    send_lease_seconds: float = Field(default=90, gt=0)
    # Sends interrupted before the server's answer, after which the mail fails (admins told).
    max_interrupted_sends: int = Field(default=3, gt=0)
    # While the relay does not answer, it is probed from every base seconds up to every max.
    connect_backoff_base_seconds: float = Field(default=2, gt=0)
    connect_backoff_max_seconds: float = Field(default=300, gt=0)

    @field_validator("ca_file")
    @classmethod
    def _ca(cls, v: str | None) -> str | None:
        return _check_ca_file(v)


class DatabaseConfig(_Section):
    url: str
    # A database fault is waited out: retries back off 1, 2, 4 … seconds up to this…
    retry_max_seconds: float = Field(default=30, gt=0, le=3600)
    # …and the admins are told directly over SMTP once it has lasted this long.
    alert_after_seconds: float = Field(default=300, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("sqlite:///", "postgresql+psycopg://")):
            raise ValueError("expected sqlite:///PATH or postgresql+psycopg://…")
        return v


class LimitsConfig(_Section):
    max_message_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    max_header_chars: int = Field(default=8192, gt=0)
    max_body_chars: int = Field(default=200_000, gt=0)
    max_mime_parts: int = Field(default=500, gt=0)
    max_mime_depth: int = Field(default=20, gt=0)
    annex_max_rows: int = Field(default=200, gt=0)
    annex_max_cell_chars: int = Field(default=500, gt=0)
    annex_max_zip_entries: int = Field(default=2000, gt=0)
    annex_max_uncompressed_bytes: int = Field(default=100 * 1024 * 1024, gt=0)
    annex_parse_timeout_seconds: float = Field(default=20.0, gt=0)
    annex_parse_memory_mb: int = Field(default=1024, gt=0)
    annex_allow_test_domains: bool = False
    annex_workers: int = Field(default=1, ge=0)
    annex_worker_max_jobs: int = Field(default=100, gt=0)
    auto_replies_per_address_per_day: int = Field(default=10, gt=0)


class LogConfig(_Section):
    file: str = "var/log/workflow.log"
    format: Literal["text", "json"] = "text"


class TimersConfig(_Section):
    reviewer_reminder_business_days: int = Field(default=2, gt=0)
    escalation_business_days: int = Field(default=5, gt=0)
    invitation_reminder_days: int = Field(default=7, gt=0)
    invitation_expiry_days: int = Field(default=30, gt=0)
    sweep_interval_seconds: int = Field(default=60, gt=0)


class TriageRule(_Section):
    space: Literal["accueil", "desta", "antai", "out_of_scope"]
    weight: float = 1.0
    terms: list[str]


class QuestionsConfig(_Section):
    cerema_url: str = "http://www.territoires-ville.cerema.fr/nous-contacter-r455.html"
    auto_redirect_out_of_scope: bool = False
    min_score: float = 1.0
    rules: list[TriageRule] = Field(default_factory=list)


class DevMailConfig(_Section):
    """The embedded local mail system (pymap + aiosmtpd) used by `make run` and the demo."""

    enabled: bool = False
    domain: str = "demo.test"
    root: str = "var/devmail"
    imap_port: int = 1143
    smtp_port: int = 2525
    password: str = "demo"


class LeaseConfig(_Section):
    """One active instance at a time (`mailbot.loop.lease`): the others stand by."""

    # The lease lapses this long after its holder's last renewal (a killed or lost machine):
    # a standby takes over within expiry_seconds + renew_seconds.
    expiry_seconds: int = Field(default=20, ge=3, le=600)
    # The holder renews it, and a standby tries to take it, this often.
    renew_seconds: int = Field(default=5, ge=1, le=300)


class Config(_Section):
    instance: InstanceConfig
    portal: PortalConfig
    reviewers: ReviewersConfig
    admins: AdminsConfig
    authentication_results: AuthResultsConfig = AuthResultsConfig()
    mailbox: MailboxConfig
    smtp: SmtpConfig
    database: DatabaseConfig
    limits: LimitsConfig = LimitsConfig()
    log: LogConfig = LogConfig()
    timers: TimersConfig = TimersConfig()
    questions: QuestionsConfig = QuestionsConfig()
    devmail: DevMailConfig = DevMailConfig()
    lease: LeaseConfig = LeaseConfig()

    # -- derived views ---------------------------------------------------------------------
    def group_for(self, handle: str) -> str | None:
        """The name of the first group whose `handles` include `handle`."""
        for name, group in self.reviewers.groups.items():
            if handle in group.handles:
                return name
        return None

    def groups_of(self, address: str) -> list[str]:
        address = address.lower()
        return [n for n, g in self.reviewers.groups.items() if address in g.members]

    def is_reviewer(self, address: str) -> bool:
        return bool(self.groups_of(address))

    def secret(self) -> bytes:
        value = os.environ.get(self.instance.secret_env, "")
        if len(value) < 16:
            raise ConfigError(
                f"instance.secret_env: the environment variable {self.instance.secret_env} "
                "must hold the HMAC secret (at least 16 characters)"
            )
        return value.encode()

    def mailbox_password(self) -> str:
        return _env(self.mailbox.password_env, "mailbox.password_env")

    def smtp_password(self) -> str | None:
        if not self.smtp.password_env:
            return None
        return _env(self.smtp.password_env, "smtp.password_env")


def _env(name: str, key: str) -> str:
    value = os.environ.get(name)
    if value is None:
        raise ConfigError(f"{key}: the environment variable {name} is not set")
    return value


def _format_error(err: ValidationError, prefix: str | None = None) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(([prefix] if prefix else []) + [str(p) for p in e["loc"]])
        if e["type"] == "missing":
            lines.append(f"{key}: missing (required)")
        elif e["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown setting")
        else:
            lines.append(f"{key}: {e['msg']} (got {e.get('input')!r})")
    return "; ".join(lines)


def parse_config(data: dict[str, Any]) -> Config:
    try:
        config = Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_error(err)) from None
    _check_consistency(config)
    return config


def _check_consistency(config: Config) -> None:
    for name, group in config.reviewers.groups.items():
        for handle in group.handles:
            if handle != "subscription" and not handle.startswith("question:"):
                raise ConfigError(
                    f"reviewers.groups.{name}.handles: {handle!r} is not 'subscription' "
                    "or 'question:<space|unclassified>'"
                )
    for needed in ("subscription", "question:unclassified"):
        if config.group_for(needed) is None:
            raise ConfigError(f"reviewers.groups: no group handles {needed!r}")
    for key, mode, host in (
        ("mailbox.tls", config.mailbox.tls, config.mailbox.host),
        ("smtp.tls", config.smtp.tls, config.smtp.host),
    ):
        if mode == "plain" and host not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError(f"{key}: 'plain' is allowed for a loopback host only, not {host!r}")
    if config.lease.renew_seconds * 2 > config.lease.expiry_seconds:
        raise ConfigError(
            "lease.renew_seconds: at most half of lease.expiry_seconds "
            f"({config.lease.renew_seconds} > {config.lease.expiry_seconds} / 2)"
        )
    if not config.admins.addresses:
        raise ConfigError("admins.addresses: at least one admin address is needed")
    _check_smtp(config.smtp)


def _check_smtp(smtp: SmtpConfig) -> None:
    if smtp.send_lease_seconds < 2 * smtp.timeout_seconds:
        raise ConfigError(
            f"smtp.send_lease_seconds: must be at least twice smtp.timeout_seconds "
            f"({smtp.timeout_seconds:g} s), or a slow send could be sent again while it runs"
        )
    if smtp.connect_backoff_max_seconds < smtp.connect_backoff_base_seconds:
        raise ConfigError(
            "smtp.connect_backoff_max_seconds: must not be below smtp.connect_backoff_base_seconds"
        )


def load_config(path: Path | str) -> Config:
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} not found") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from None
    return parse_config(data)


def load_limits(path: Path | None) -> LimitsConfig:
    """Only the `[limits]` table of a configuration file, validated by the same model as
    `mailbot run` (for `mailbot annex parse`, which needs nothing else); no file: defaults."""
    if path is None:
        return LimitsConfig()
    try:
        with path.open("rb") as fh:
            table = tomllib.load(fh).get("limits", {})
    except OSError as err:
        raise ConfigError(f"{path}: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from None
    try:
        return LimitsConfig.model_validate(table)
    except ValidationError as err:
        raise ConfigError(_format_error(err, prefix="limits")) from None
