"""`mailbot jobs`: the recurring jobs (`mailbot.loop.jobs`) with their last and next run, in
Paris time (`--json` for scripts); `mailbot jobs run NAME` runs one now.

The service's modules are imported inside the functions: `mailbot --help` mounts this group
without loading the loop, the portal or the database layer.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workflows.calendar import french_datetime, in_paris

if TYPE_CHECKING:
    from mailbot.loop.jobs import JobRunner

jobs_app = typer.Typer(
    help="Les tâches planifiées (récapitulatif quotidien…) : dernière et prochaine exécution.",
    invoke_without_command=True,
    add_completion=False,
)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Fichier de configuration.")]
DEFAULT_CONFIG = Path("config.toml")


NBSP = "\u00a0"


def _typo(text: str) -> str:
    """French typography: a non-breaking space inside « » and before « : », « ; »."""
    for plain, tight in (("« ", "«" + NBSP), (" »", NBSP + "»"), (" :", NBSP + ":")):
        text = text.replace(plain, tight)
    return text.replace(" ;", NBSP + ";")


def _runner(config_path: Path) -> JobRunner:
    # Imported here: keeps `mailbot --help` fast (the CLI's helpers, the loop, the portal).
    from mailbot.cli import _engine, _load  # noqa: PLC0415
    from mailbot.loop.jobs import JobRunner, recurring_jobs  # noqa: PLC0415
    from mailbot.wflog import WorkflowLog  # noqa: PLC0415
    from mailbot.wiring import portal_for  # noqa: PLC0415

    config = _load(config_path)
    engine = _engine(config)
    wflog = WorkflowLog(config.log.file, config.log.format)
    return JobRunner(engine, recurring_jobs(config, portal_for(config, engine)), wflog)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else in_paris(value).isoformat(timespec="seconds")


def _as_json(entry: dict[str, Any]) -> dict[str, Any]:
    out = dict(entry)
    for key in ("last_run", "last_slot", "next_run"):
        out[key] = _iso(entry[key])
    return out


def _as_text(entry: dict[str, Any]) -> str:
    last = entry["last_run"]
    if last is None:
        last_text = "jamais"
    else:
        last_text = f"le {french_datetime(last)} (résultat : {entry['last_result']})"
    if entry["due"]:
        when = french_datetime(entry["next_run"])
        next_text = f"dès le prochain passage du service (prévue le {when})"
    else:
        next_text = f"le {french_datetime(entry['next_run'])}"
    return _typo(
        f"{entry['name']} : {entry['label']}\n"
        f"  quand : {entry['schedule']}\n"
        f"  dernière exécution : {last_text}\n"
        f"  prochaine exécution : {next_text}"
    )


def _guarded(work: Any) -> Any:
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.cli import _database_unavailable  # noqa: PLC0415

    try:
        return work()
    except Exception as err:
        _database_unavailable(err)  # one line and exit 75 on a database fault
        raise


@jobs_app.callback()
def jobs(
    ctx: typer.Context,
    config_path: ConfigOpt = DEFAULT_CONFIG,
    as_json: Annotated[bool, typer.Option("--json", help="Un document JSON.")] = False,
) -> None:
    """Liste les tâches planifiées avec leur dernière et leur prochaine exécution (heure de
    Paris)."""
    if ctx.invoked_subcommand is not None:
        return
    runner = _runner(config_path)
    entries = _guarded(runner.report)
    if as_json:
        typer.echo(json.dumps([_as_json(e) for e in entries], ensure_ascii=False))
    else:
        typer.echo("\n\n".join(_as_text(e) for e in entries))
    runner.engine.dispose()


@jobs_app.command("run")
def run_job(
    name: Annotated[str, typer.Argument(help="Nom de la tâche (voir « mailbot jobs »).")],
    config_path: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Exécute une tâche tout de suite ; elle compte pour son dernier horaire prévu."""
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.loop.jobs import UnknownJob  # noqa: PLC0415

    runner = _runner(config_path)
    try:
        count = _guarded(lambda: runner.run_now(name))
    except UnknownJob:
        known = ", ".join(sorted(runner.jobs))
        typer.echo(_typo(f"Tâche inconnue : « {name} ». Tâches existantes : {known}."), err=True)
        raise typer.Exit(2) from None
    except typer.Exit:
        raise  # a database fault, already told in one line (exit 75)
    except Exception as err:  # the job's own failure: rolled back, still due
        typer.echo(
            _typo(f"La tâche « {name} » a échoué ; rien n'a été enregistré : {err}"), err=True
        )
        raise typer.Exit(1) from None
    finally:
        runner.engine.dispose()
    typer.echo(
        _typo(
            f"Tâche « {name} » exécutée (résultat : {count}). Les courriels qu'elle a préparés "
            "partent au prochain passage du service (mailbot run)."
        )
    )
