"""Loading and validating `config.toml`.

Every setting is checked at start: a wrong or missing value stops `mailbot run` with a message
that names the key and what is expected (`ConfigError`). Secrets never live in the file: the
file names the environment variable that holds them (`mailbot.config.environment`). The
sections are in `mailbot.config.sections`; everything is importable from here.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mailbot.config.environment import ConfigError, load_env_file, require_env
from mailbot.config.sections import (
    SPACES,
    AdminsConfig,
    AuthResultsConfig,
    DatabaseConfig,
    DevMailConfig,
    FoldersConfig,
    InstanceConfig,
    LeaseConfig,
    LimitsConfig,
    LogConfig,
    MailboxConfig,
    PortalConfig,
    PrivacyConfig,
    QuestionsConfig,
    RetentionConfig,
    ReviewerGroup,
    ReviewersConfig,
    SmtpConfig,
    TimersConfig,
    TlsMode,
    TriageRule,
    _Section,
)

__all__ = [
    "SPACES",
    "AdminsConfig",
    "AuthResultsConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "DevMailConfig",
    "FoldersConfig",
    "InstanceConfig",
    "LeaseConfig",
    "LimitsConfig",
    "LogConfig",
    "MailboxConfig",
    "PortalConfig",
    "PrivacyConfig",
    "QuestionsConfig",
    "RetentionConfig",
    "ReviewerGroup",
    "ReviewersConfig",
    "SmtpConfig",
    "TimersConfig",
    "TlsMode",
    "TriageRule",
    "_Section",
    "load_config",
    "load_limits",
    "parse_config",
]


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
    privacy: PrivacyConfig = PrivacyConfig()
    retention: RetentionConfig = RetentionConfig()

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
                "must hold the HMAC secret (at least 16 characters; export it, or put it in "
                "the file that instance.env_file names)"
            )
        return value.encode()

    def mailbox_password(self) -> str:
        return require_env(self.mailbox.password_env, "mailbox.password_env")

    def smtp_password(self) -> str | None:
        if not self.smtp.password_env:
            return None
        return require_env(self.smtp.password_env, "smtp.password_env")


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
    config = parse_config(data)
    if config.instance.env_file:
        load_env_file(path.parent / config.instance.env_file)
    return config


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
