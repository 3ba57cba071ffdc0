"""The sections of `config.toml`, one pydantic model each (`mailbot.config` assembles them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TlsMode = Literal["implicit", "starttls", "plain"]
SPACES = ("accueil", "desta", "antai")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstanceConfig(_Section):
    domain: str
    generic_address: str
    secret_env: str = "MAILBOT_SECRET"
    name: str = "Espace collectivités — stationnement payant"
    # `KEY=VALUE` lines (`#` comments) read by every command, as systemd's EnvironmentFile;
    # relative to the configuration file; a variable already in the environment wins.
    env_file: str | None = None

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
    # Quarantined mail: at most one alert mail per this many minutes, listing all new ones.
    quarantine_alert_minutes: int = Field(default=15, ge=0)


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
        import ssl  # noqa: PLC0415 - only with a CA file (`inspect` and `--help` need no TLS)

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
    annex_worker_max_jobs: int = Field(default=500, gt=0)
    auto_replies_per_address_per_day: int = Field(default=10, gt=0)
    document_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)  # desk uploads
    auto_replies_per_case_per_day: int = Field(default=3, gt=0)
    auto_replies_ceiling_per_address_per_day: int = Field(default=30, gt=0)
    reviewer_notifications_per_case_per_hour: int = Field(default=5, ge=0)


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
    unless: list[str] = Field(default_factory=list)  # negative terms: any of them, no score


class QuestionsConfig(_Section):
    cerema_url: str = "http://www.territoires-ville.cerema.fr/nous-contacter-r455.html"
    auto_redirect_out_of_scope: bool = False
    min_score: float = 1.0
    rules: list[TriageRule] = Field(default_factory=list)
    # A reviewer's answer is held this long (previewed, cancellable) before it is mailed and
    # published; 0: at once.
    publish_delay_minutes: int = Field(default=15, ge=0, le=24 * 60)
    model_weight: float = Field(default=3.0, ge=0)  # the learnt model's share of the score
    close_margin: float = Field(default=1.0, ge=0)  # runner-up this close: named as possible
    seed_examples: str = "bench/triage_questions.tsv"  # labelled set the model starts from


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


class PrivacyConfig(_Section):
    # Contacts of the administration published on purpose (functional mailboxes, official
    # numbers): the privacy scrubber leaves them in published text. The generic address is
    # always kept.
    keep_contacts: list[str] = Field(default_factory=list)


class RetentionConfig(_Section):
    # Days personal data is kept (mailbot.loop.retention, docs/operations.md): raw mail of a case
    # after it closed (of no case: after it came or went); a closed case, then anonymised; a
    # refused subscription request (about 3 months); and the Paris hour of the daily purge.
    journal_days: int = Field(default=90, ge=1)
    personal_data_days: int = Field(default=365, ge=1)
    refused_days: int = Field(default=92, ge=1)
    purge_hour: int = Field(default=3, ge=0, le=23)
