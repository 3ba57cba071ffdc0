"""`mailbot health` and `/healthz`: is the service working, as a monitoring plugin sees it.

Each check gives `ok`, `degraded` or `down` (docs/operations.md, CONTRACTS.md "Admin commands"):
- down: the database, the IMAP login or the SMTP greeting fails;
- degraded: mail in quarantine, outbox mail older than 15 minutes, last successful INBOX poll
  older than twice `mailbox.poll_interval_seconds` (or none yet), a standby instance without a
  live active one.
The exit code is the worst of them (0 ok, 1 degraded, 2 down); 3 when the configuration or the
environment is unusable (the CLI decides that before any check). The report holds counts, ages
and host names only: no address, subject or mail text (it is served without login).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from mailbot.config import Config
from mailbot.loop.status_report import (
    Reader,
    backlog,
    db_now,
    engine_reader,
    file_reader,
    last_poll,
    lease,
    quarantined,
    sqlite_file,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

Status = Literal["ok", "degraded", "down"]
EXIT_CODES: dict[str, int] = {"ok": 0, "degraded": 1, "down": 2}
# The text output's French words (`--json` and /healthz keep the names above).
PARIS = ZoneInfo("Europe/Paris")
STATUS_LABELS = {"ok": "OK", "degraded": "DÉGRADÉ", "down": "EN PANNE"}
CHECK_LABELS = {
    "database": "base de données",
    "imap": "IMAP",
    "smtp": "SMTP",
    "last_poll": "dernière relève",
    "outbox": "courriels sortants",
    "quarantine": "quarantaine",
    "instances": "instances",
}
OUTBOX_MAX_AGE_SECONDS = 15 * 60
PROBE_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


def report(checks: list[Check]) -> dict[str, Any]:
    worst = max((EXIT_CODES[c.status] for c in checks), default=0)
    status = next(k for k, v in EXIT_CODES.items() if v == worst)
    return {"status": status, "exit_code": worst, "checks": [asdict(c) for c in checks]}


def run_checks(config: Config, database: Engine | Path) -> list[Check]:
    """Every check, each one independent of the others' failure. `database` is the daemon's
    engine (`/healthz`) or, for the command on a SQLite file, the file: read with `sqlite3`,
    SQLAlchemy is not even imported (start-up). The IMAP login and the SMTP greeting wait on
    the servers: they run in their own threads while the database is read."""
    imap = _in_background("imap", lambda: check_imap(config))
    smtp = _in_background("smtp", lambda: check_smtp(config))
    checks = _database_checks(config, database)
    return [*checks, imap(), smtp()]


def _database_checks(config: Config, database: Engine | Path) -> list[Check]:
    """The database (reachable, schema at the code's revision), then the figures read in one
    read-only transaction; when the database is down, that check alone."""
    reader = file_reader(database) if isinstance(database, Path) else engine_reader(database)
    with contextlib.ExitStack() as stack:
        try:
            db = stack.enter_context(reader)
        except Exception as err:  # a check that fails to run is a failing check
            return [Check("database", "down", _error(err))]
        dialect = "sqlite" if isinstance(database, Path) else database.dialect.name
        checks = [Check("database", "ok", f"{dialect}, schéma à jour")]
        for name, check in (
            ("last_poll", check_last_poll),
            ("outbox", check_outbox),
            ("quarantine", check_quarantine),
            ("instances", check_instances),
        ):
            checks.append(_guard(name, lambda c=check: c(config, db)))  # type: ignore[misc]
        return checks


def _in_background(name: str, check: Callable[[], Check]) -> Callable[[], Check]:
    """Start `check` in a thread; the returned function waits for its result."""
    result: list[Check] = []
    thread = threading.Thread(
        target=lambda: result.append(_guard(name, check)), name=f"health-{name}", daemon=True
    )
    thread.start()

    def wait() -> Check:
        thread.join()
        return result[0] if result else Check(name, "down", "la vérification n’a pas abouti")

    return wait


def _guard(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as err:  # a check that fails to run is a failing check
        return Check(name, "down", _error(err))


def _error(err: BaseException) -> str:
    message = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {message}"[:200]


# ------------------------------------------------------------------------- the checks


def check_imap(config: Config) -> Check:
    from mailbot.loop.mailbox import open_imap  # noqa: PLC0415 - in the probe's thread

    client = open_imap(config, timeout=PROBE_TIMEOUT_SECONDS)
    with contextlib.suppress(Exception):
        client.logout()
    cfg = config.mailbox
    return Check("imap", "ok", f"connexion acceptée par {cfg.host}:{cfg.port}")


def check_smtp(config: Config) -> Check:
    import asyncio  # noqa: PLC0415 - in the probe's thread

    from mailbot.loop.smtp_client import smtp_client  # noqa: PLC0415

    async def greet() -> str:
        client = smtp_client(config.smtp, config.smtp_password())
        client.timeout = PROBE_TIMEOUT_SECONDS
        response = await client.connect()
        with contextlib.suppress(Exception):
            await client.quit()
        return f"{response.code}"

    code = asyncio.run(greet())
    return Check("smtp", "ok", f"{config.smtp.host}:{config.smtp.port} a répondu {code}")


def check_last_poll(config: Config, db: Reader) -> Check:
    limit = 2 * config.mailbox.poll_interval_seconds
    seen = last_poll(db)
    if seen is None:
        return Check("last_poll", "degraded", "la boîte de réception n’a encore jamais été relevée")
    at, age = seen
    detail = f"dernière relève réussie il y a {age:.0f} s ({at.astimezone(PARIS).isoformat(timespec='seconds')})"
    if age > limit:
        return Check("last_poll", "degraded", f"{detail}, plus de {limit} s")
    return Check("last_poll", "ok", detail)


def check_outbox(_config: Config, db: Reader) -> Check:
    waiting = backlog(db, db_now(db))
    age = waiting["oldest_pending_age_seconds"]
    detail = f"{waiting['pending']} en attente, {waiting['failed']} en échec"
    if age is not None:
        detail += f", le plus ancien depuis {age} s"
    status: Status = "degraded" if age is not None and age > OUTBOX_MAX_AGE_SECONDS else "ok"
    return Check("outbox", status, detail)


def check_quarantine(_config: Config, db: Reader) -> Check:
    count = quarantined(db)
    if count:
        return Check("quarantine", "degraded", f"{count} courriel(s) en quarantaine")
    return Check("quarantine", "ok", "vide")


def check_instances(_config: Config, db: Reader) -> Check:
    instances = lease(db)
    active, standby = instances["active"], instances["standby"]
    if active is not None and not active["expired"]:
        return Check("instances", "ok", f"active : {active['holder']}, {len(standby)} en attente")
    if standby:
        return Check(
            "instances", "degraded", f"{len(standby)} en attente et aucune instance active en vie"
        )
    return Check("instances", "ok", "aucune instance en marche (cron ou arrêt)")


# ------------------------------------------------------------------------- the command


def command(config_path: str, as_json: bool, echo: Callable[[str], object]) -> int:
    """`mailbot health`: print the report, return the exit code."""
    from mailbot.config import ConfigError, load_config  # noqa: PLC0415

    try:
        config = load_config(config_path)
        config.secret()
        config.mailbox_password()
        config.smtp_password()
    except ConfigError as err:
        if as_json:
            echo(json.dumps({"status": "unusable", "exit_code": 3, "error": str(err)}))
        else:
            echo(f"Configuration inutilisable : {err}")
        return 3
    database: Engine | Path | None = sqlite_file(config.database.url)
    if database is None:
        # Imported here: a SQLite file is read with `sqlite3`; SQLAlchemy for anything else.
        from storage.engine import make_engine  # noqa: PLC0415

        database = make_engine(config.database.url)
    result = report(run_checks(config, database))
    if as_json:
        echo(json.dumps(result))
    else:
        echo(f"État de mailbot : {STATUS_LABELS[result['status']]}")
        for check in result["checks"]:
            status, name = STATUS_LABELS[check["status"]], CHECK_LABELS.get(check["name"], "")
            echo(f"  {status:9} {name or check['name']:19} {check['detail']}")
    return int(result["exit_code"])
