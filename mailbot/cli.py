"""The `mailbot` command line (typer)."""

from __future__ import annotations

import gc
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mailbot.commands import LazyGroup

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from mailbot.config import Config
    from mailbot.loop.ingest import Ingest

# Start-up (issue 13): a command loads a few hundred thousand objects that live as long as the
# process, and the collector's default pace (a pass every 700 allocations, some over all of
# them) took about 10 % of `mailbot status`. A pass every 10,000 allocations instead; `run`
# goes back to the default pace once started (a long-lived process).
DEFAULT_GC_THRESHOLD = gc.get_threshold()
gc.set_threshold(10_000, 10, 10)

app = typer.Typer(
    help="mailbot: the service behind the generic mailbox of the Espace collectivités portal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LazyGroup,  # annex, portal and demo are imported only when used (start-up)
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Configuration file.")]
DEFAULT_CONFIG = Path("config.toml")


def _load(path: Path) -> Config:
    # Imported here: pydantic and the configuration models are not needed by `--help`.
    from mailbot.config import ConfigError, load_config  # noqa: PLC0415

    try:
        return load_config(path)
    except ConfigError as err:
        typer.echo(f"Configuration error: {err}", err=True)
        raise typer.Exit(2) from None


def _logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        # Every SMTP session and scheduler tick would otherwise be a line of the console.
        for noisy in ("mail.log", "apscheduler", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _engine(config: Config, check: bool = True) -> Engine:
    # Imported here: keeps `mailbot --help` fast.
    from storage.engine import make_engine  # noqa: PLC0415
    from storage.schema import check_schema  # noqa: PLC0415

    engine = make_engine(config.database.url)
    if check:
        with _schema_checked():
            check_schema(engine)
    return engine


@contextmanager
def _schema_checked() -> Iterator[None]:
    """A schema at another revision ends the command with exit 2, a database fault with one
    line and exit 75 (`_database_unavailable`)."""
    from storage.schema import SchemaOutdated  # noqa: PLC0415 - no SQLAlchemy (start-up)

    try:
        yield
    except SchemaOutdated as err:
        typer.echo(f"Database error: {err}", err=True)
        raise typer.Exit(2) from None
    except Exception as err:
        _database_unavailable(err)
        raise


def _database_unavailable(err: BaseException) -> None:
    """A database fault ends a command with one line and EX_TEMPFAIL, never a traceback."""
    from mailbot.loop.faults import describe, is_database_fault  # noqa: PLC0415 - start-up

    if is_database_fault(err):
        typer.echo(
            f"Database unavailable ({describe(err)}): nothing lost, try again later", err=True
        )
        raise typer.Exit(75) from None  # EX_TEMPFAIL


def build_ingest(config: Config, engine: Engine) -> Ingest:
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.config import ConfigError  # noqa: PLC0415 - loaded by _load already
    from mailbot.wiring import build_ingest as wire  # noqa: PLC0415

    try:
        secret = config.secret()
    except ConfigError as err:
        typer.echo(f"Configuration error: {err}", err=True)
        raise typer.Exit(2) from None
    return wire(config, engine, secret)


# --------------------------------------------------------------------------- run


@app.command()
def run(
    config_path: ConfigOpt = DEFAULT_CONFIG,
    once: Annotated[
        bool, typer.Option("--once", help="Drain mailbox, outbox and timers, then exit.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the daemon."""
    from mailbot.loop.malloc import limit_arenas  # noqa: PLC0415

    limit_arenas()  # before the daemon's threads start (peak memory, `loop/malloc.py`)
    _logging(verbose)
    config = _load(config_path)
    from mailbot.config import ConfigError  # noqa: PLC0415 - loaded by _load already

    try:
        config.mailbox_password()
        config.smtp_password()
    except ConfigError as err:
        typer.echo(f"Configuration error: {err}", err=True)
        raise typer.Exit(2) from None
    engine = _engine(config)
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.loop.daemon import Daemon  # noqa: PLC0415
    from mailbot.loop.lease import InstanceBusy, single_instance_lock  # noqa: PLC0415

    try:
        lock = single_instance_lock(config.database.url)  # SQLite: one process; kept open
        daemon = Daemon(config, engine, build_ingest(config, engine))
        gc.set_threshold(*DEFAULT_GC_THRESHOLD)  # started: the default pace (above)
        if once:
            try:
                stats = daemon.run_once()
            except Exception as err:
                _database_unavailable(err)  # InfrastructureDown: one line, exit 75
                raise
            typer.echo(json.dumps(stats))
            return
    except InstanceBusy as err:
        typer.echo(f"mailbot run: {err}", err=True)
        raise typer.Exit(3) from None
    # Imported here: the web apps and uvicorn load only when serving (not with --once).
    from mailbot.wiring import serve  # noqa: PLC0415

    serve(config, engine, daemon)
    del lock


# --------------------------------------------------------------------------- inspect


@app.command()
def inspect(
    files: Annotated[list[Path], typer.Argument(help=".eml files to read.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file.")] = False,
    config_path: Annotated[Path | None, typer.Option("--config", "-c")] = None,
) -> None:
    """Show how mailbot understands mail files (opens no database, sends nothing)."""
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.inspect import inspect_files  # noqa: PLC0415

    results, code = inspect_files(
        [str(f) for f in files], str(config_path) if config_path else None
    )
    for result in results:
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False))
        else:
            typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    raise typer.Exit(code)


# --------------------------------------------------------------------------- status


@app.command()
def status(
    config_path: ConfigOpt = DEFAULT_CONFIG,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Counts of cases per state, outbox backlog, journal fates."""
    # Imported here: keeps `mailbot --help` and `inspect` fast; plain SQL, and on a SQLite file
    # the standard library's sqlite3 instead of SQLAlchemy (start-up).
    from mailbot.loop.status_report import (  # noqa: PLC0415
        sqlite_file,
        status_from_file,
        status_report,
    )

    config = _load(config_path)
    path = sqlite_file(config.database.url)
    with _schema_checked():  # the revision is checked as the database is read
        if path is None:
            report = status_report(_engine(config, check=False), datetime.now(UTC))
        else:
            report = status_from_file(path, datetime.now(UTC))
    if as_json:
        typer.echo(json.dumps(report))
        return
    # Imported here: only the text output needs the French labels.
    from mailbot.desk.status_text import status_lines  # noqa: PLC0415

    for line in status_lines(report):
        typer.echo(line)


# --------------------------------------------------------------------------- replay


@app.command()
def replay(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Journal ids (default: all quarantined).")
    ] = None,
    quarantine: Annotated[
        bool, typer.Option("--quarantine", help="Replay quarantined messages.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Also replay a processed message (nothing is sent twice)."),
    ] = False,
    config_path: ConfigOpt = DEFAULT_CONFIG,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document on stdout, no progress bar.")
    ] = False,
) -> None:
    """Run journaled messages again (quarantined ones by default); a progress bar on a
    terminal."""
    # Imported here: keeps `mailbot --help` fast.
    from imapclient.exceptions import IMAPClientError  # noqa: PLC0415

    from mailbot.cli_admin import replay_each  # noqa: PLC0415
    from mailbot.config import ConfigError  # noqa: PLC0415
    from mailbot.loop.daemon import Daemon, quarantined_ids  # noqa: PLC0415

    config = _load(config_path)
    engine = _engine(config)
    daemon = Daemon(config, engine, build_ingest(config, engine))
    targets = list(ids or [])
    if not targets:
        if not quarantine:
            typer.echo(
                "Rien à rejouer : indiquez les numéros des courriels du journal ou --quarantine.",
                err=True,
            )
            raise typer.Exit(2)
        targets = quarantined_ids(engine)
    try:
        config.mailbox_password()
        daemon.mailbox.connect()
    except (ConfigError, IMAPClientError, OSError, EOFError) as err:
        typer.echo(
            f"Boîte aux lettres injoignable ({err}) : les courriels rejoués restent dans le "
            f"dossier « {config.mailbox.folders.quarantine} ».",
            err=True,
        )
        daemon.mailbox.client = None
    try:
        failed = replay_each(daemon, targets, force=force, as_json=as_json)
    finally:
        daemon.mailbox.close()
    raise typer.Exit(1 if failed else 0)


# --------------------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade(config_path: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Create or upgrade the schema to the code's revision."""
    # Imported here: keeps `mailbot --help` fast.
    from storage.migrate import upgrade  # noqa: PLC0415

    config = _load(config_path)
    upgrade(config.database.url)
    typer.echo("Database schema is up to date.")


# --------------------------------------------------------------------------- log


@app.command("log")
def log_cmd(
    follow: Annotated[
        bool, typer.Option("-f", "--follow", help="Keep printing new lines.")
    ] = False,
    case: Annotated[str | None, typer.Option("--case", help="Only this case reference.")] = None,
    config_path: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Print the workflow log (like tail -f with -f)."""
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.wflog import follow as follow_lines  # noqa: PLC0415
    from mailbot.wflog import line_case  # noqa: PLC0415

    config = _load(config_path)
    path = Path(config.log.file)
    if not follow:
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if case is None or line_case(line) == case:
                    typer.echo(line)
        return
    try:
        for line in follow_lines(path, case, from_start=True):
            typer.echo(line)
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
