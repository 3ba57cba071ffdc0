"""The admin's commands beside `mailbot.cli`: `mailbot health`, and `mailbot quarantine
list|delete` to review the mail set aside (replay is `mailbot replay`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from mailbot.loop.daemon import Daemon

quarantine_app = typer.Typer(
    help="Mail set aside: list it with its reason, delete it after review.",
    no_args_is_help=True,
)
ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Configuration file.")]
DEFAULT_CONFIG = Path("config.toml")


# What became of a replayed mail, in French (the JSON keeps the stored fate).
REPLAY_FATES = {
    "processed": "traité",
    "ignored": "ignoré",
    "quarantined": "de nouveau en quarantaine",
}


@quarantine_app.command("list")
def list_command(
    config_path: ConfigOpt = DEFAULT_CONFIG,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The quarantined mail, oldest first, with the reason in French."""
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.cli import _engine, _load  # noqa: PLC0415
    from mailbot.loop.quarantine import listing  # noqa: PLC0415
    from storage.db import session_scope  # noqa: PLC0415

    config = _load(config_path)
    with session_scope(_engine(config)) as session:
        rows = listing(session)
    if as_json:
        typer.echo(json.dumps({"quarantine": rows}, ensure_ascii=False))
        return
    if not rows:
        typer.echo("La quarantaine est vide.")
    for row in rows:
        typer.echo(
            f"{row['journal']:>6}  {row['received_at']}  {row['sender'] or 'expéditeur inconnu'}"
            f"  « {row['subject'] or '(sans objet)'} »\n        motif : {row['reason']}"
        )


@quarantine_app.command("delete")
def delete_command(
    ids: Annotated[list[int], typer.Argument(help="Journal ids of quarantined mail.")],
    admin: Annotated[str, typer.Option("--as", help="The admin who deletes (logged).")],
    config_path: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Delete quarantined mail after review: its copy in the Quarantine folder and its raw
    bytes; the journal keeps its date, sender and subject, and who deleted it."""
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.cli import _engine, _load, build_ingest  # noqa: PLC0415
    from mailbot.loop.daemon import Daemon  # noqa: PLC0415
    from mailbot.loop.mailbox import CONNECTION_ERRORS  # noqa: PLC0415
    from mailbot.loop.quarantine import request_discard  # noqa: PLC0415
    from storage.db import session_scope  # noqa: PLC0415

    config = _load(config_path)
    if admin.lower() not in config.admins.addresses:
        typer.echo(f"--as {admin} : ce n’est pas une adresse de [admins] addresses.", err=True)
        raise typer.Exit(2)
    engine = _engine(config)
    refused = []
    with session_scope(engine) as session:
        for journal_id in ids:
            if not request_discard(session, journal_id, admin.lower()):
                refused.append(journal_id)
    daemon = Daemon(config, engine, build_ingest(config, engine))
    try:
        daemon.mailbox.connect()
    except CONNECTION_ERRORS as err:
        typer.echo(
            f"Boîte aux lettres injoignable ({err}) : le service supprimera les copies.", err=True
        )
        daemon.mailbox.client = None
    try:
        for journal_id in daemon.discard_requested():
            typer.echo(f"{journal_id} : supprimé")
    finally:
        daemon.mailbox.close()
    for journal_id in refused:
        typer.echo(f"{journal_id} : pas en quarantaine, laissé tel quel", err=True)
    raise typer.Exit(1 if refused else 0)


def health(
    config_path: ConfigOpt = DEFAULT_CONFIG,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Database, IMAP, SMTP, last poll, outbox, quarantine, instances. Exit 0 ok, 1 degraded,
    2 down, 3 configuration or environment unusable."""
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.loop.health import command  # noqa: PLC0415

    raise typer.Exit(command(str(config_path), as_json, typer.echo))


def replay_each(daemon: Daemon, targets: list[int], *, force: bool, as_json: bool) -> int:
    """`mailbot replay`: run each message again, a line per message (or one JSON document
    with `--json`), a progress bar on a terminal. Returns how many failed."""
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.loop.progress import Progress  # noqa: PLC0415

    failed, results = 0, []
    with Progress("Courriels rejoués", len(targets), quiet=as_json) as bar:
        for journal_id in targets:
            result: dict[str, Any] = {"journal": journal_id}
            try:
                [outcome] = daemon.replay([journal_id], force=force)
            except LookupError as err:
                result["error"] = str(err)
                line, err_line = f"{journal_id} : {err}", True
            else:
                result.update(fate=outcome.fate, kind=outcome.kind, case_ref=outcome.case_ref)
                fate = REPLAY_FATES.get(outcome.fate, outcome.fate)
                line = f"{journal_id} : {fate}" + (
                    f" — {outcome.case_ref}" if outcome.case_ref else ""
                )
                err_line = False
            results.append(result)
            failed += "error" in result or result.get("fate") == "quarantined"
            if not as_json:
                bar.echo(line.rstrip(), err=err_line)
            bar.advance()
    if as_json:
        typer.echo(json.dumps({"replayed": results}, ensure_ascii=False))
    return failed
