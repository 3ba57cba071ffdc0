"""`mailbot export` and `mailbot purge`: the admins' reports and the retention of personal data
from the command line (the same as the desk's « Statistiques » download and the daily `purge`
job). Messages for the admins are in French; `--json` prints one JSON document and nothing
else. On a terminal (and without `--json`) a progress bar (rich) shows the work.

The service's modules are imported inside the functions: `mailbot --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from mailbot.config import Config
    from mailbot.portal import Portal

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Fichier de configuration.")]
DEFAULT_CONFIG = Path("config.toml")
NBSP = "\u00a0"


def _fr(text: str) -> str:
    """French typography: a non-breaking space inside « » and before « : » and « ; »."""
    for plain, tight in (("« ", "«" + NBSP), (" »", NBSP + "»"), (" :", NBSP + ":")):
        text = text.replace(plain, tight)
    return text.replace(" ;", NBSP + ";")


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        typer.echo(_fr(f"{option} : « {value} » n’est pas une date (AAAA-MM-JJ)."), err=True)
        raise typer.Exit(2) from None


def _interactive(as_json: bool) -> bool:
    return not as_json and sys.stdout.isatty()


@contextmanager
def progress_bar(show: bool, label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on a terminal; a silent callback otherwise. The callback takes the
    number of steps just done."""
    if not show or total == 0:
        yield lambda _n: None
        return
    # Imported here: rich loads only when a bar is drawn.
    from rich.progress import Progress  # noqa: PLC0415

    with Progress(transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _context(config_path: Path) -> tuple[Config, Engine]:
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.cli import _engine, _load  # noqa: PLC0415

    config = _load(config_path)
    return config, _engine(config)


def _portal(config: Config, engine: Engine) -> Portal | None:
    """The service's portal (for the accounts' first login); None when the secrets are not
    in the environment (the export is made without that column's values)."""
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.cli import build_ingest  # noqa: PLC0415
    from mailbot.config import ConfigError  # noqa: PLC0415

    try:
        return build_ingest(config, engine).portal
    except ConfigError as err:
        typer.echo(
            _fr(f"Portail non consulté (première connexion non renseignée) : {err}"), err=True
        )
        return None


def export(
    out: Annotated[Path, typer.Argument(help="Classeur à écrire (.xlsx).")],
    since: Annotated[str, typer.Option("--since", help="Premier jour (AAAA-MM-JJ, Paris).")],
    until: Annotated[
        str | None, typer.Option("--until", help="Dernier jour inclus (défaut : aujourd’hui).")
    ] = None,
    config_path: ConfigOpt = DEFAULT_CONFIG,
    as_json: Annotated[bool, typer.Option("--json", help="Un document JSON.")] = False,
) -> None:
    """Exporte les dossiers, les personnes et comptes créés et les questions-réponses publiées
    d’une période dans un classeur xlsx (en-têtes en français)."""
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.desk.export import SHEETS, Period, collect, write_export  # noqa: PLC0415
    from storage.db import session_scope  # noqa: PLC0415
    from workflows.calendar import paris_day  # noqa: PLC0415

    now = datetime.now(UTC)
    period = Period(_day(since, "--since"), _day(until, "--until") if until else paris_day(now))
    if period.until < period.since:
        typer.echo("--until : la date de fin précède la date de début.", err=True)
        raise typer.Exit(2)
    if out.suffix.lower() != ".xlsx":
        typer.echo(_fr(f"« {out} » : le fichier doit se terminer par .xlsx."), err=True)
        raise typer.Exit(2)
    config, engine = _context(config_path)
    portal = _portal(config, engine)
    with session_scope(engine) as session:
        rows = collect(session, period, now, portal)
    total = sum(len(r) for r in rows.values())
    with progress_bar(_interactive(as_json), "Écriture du classeur", total) as step:
        write_export(out, rows, lambda _sheet, _n: step(1))
    engine.dispose()
    counts = {title: len(rows[title]) for title in SHEETS}
    if as_json:
        payload = {"file": str(out), "since": str(period.since), "until": str(period.until)}
        typer.echo(json.dumps({**payload, "sheets": counts}, ensure_ascii=False))
        return
    detail = ", ".join(f"{title} : {n}" for title, n in counts.items())
    typer.echo(
        _fr(
            f"Export écrit dans « {out} » (du {period.since:%d/%m/%Y} au "
            f"{period.until:%d/%m/%Y}) — {detail}."
        )
    )


def _describe(item: dict[str, Any]) -> str:
    # Imported here: keeps `mailbot --help` fast.
    from workflows.calendar import french_date  # noqa: PLC0415

    day = french_date(datetime.fromisoformat(item["since"]))
    number = "" if item["kind"] == "case" else f" n° {item['id']}"
    if item["case_ref"]:
        return _fr(f"{item['action']}{number} — dossier {item['case_ref']}, clos le {day}")
    return _fr(f"{item['action']}{number} — hors dossier, du {day}")


def purge(
    config_path: ConfigOpt = DEFAULT_CONFIG,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Liste ce qui serait effacé, sans rien effacer.")
    ] = False,
    admin: Annotated[
        str | None, typer.Option("--as", help="L’administrateur qui efface (journalisé).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Un document JSON.")] = False,
) -> None:
    """Efface les données personnelles arrivées au terme de leur durée de conservation
    (section «\u00a0retention\u00a0» de la configuration)\u00a0; --dry-run les liste seulement."""
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.loop import retention  # noqa: PLC0415
    from mailbot.wflog import WorkflowLog  # noqa: PLC0415
    from storage.db import session_scope  # noqa: PLC0415

    config, engine = _context(config_path)
    if not dry_run and (admin is None or admin.lower() not in config.admins.addresses):
        typer.echo(
            _fr("Pour effacer, indiquez --as ADRESSE (une adresse de [admins] addresses)."),
            err=True,
        )
        raise typer.Exit(2)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        if dry_run:
            items = retention.plan(session, retention.periods_of(config), now)
        else:
            total = len(retention.plan(session, retention.periods_of(config), now))
            with progress_bar(_interactive(as_json), "Effacement des données", total) as step:
                actor = admin.lower() if admin else None
                items = retention.purge(session, config, now, actor, lambda _item: step(1))
    engine.dispose()
    summary = retention.purge_summary(items)
    if not dry_run:
        wflog = WorkflowLog(config.log.file, config.log.format)
        wflog.write(None, "retention_purge", {"by": admin, **summary}, now)
    if as_json:
        listing = [item.to_json() for item in items]
        typer.echo(json.dumps({"dry_run": dry_run, "summary": summary, "items": listing}))
        return
    _print_purge(items, summary, dry_run)


def _n(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count <= 1 else plural}"


def _print_purge(items: list[Any], summary: dict[str, int], dry_run: bool) -> None:
    if not items:
        typer.echo("Rien n’est arrivé au terme de sa durée de conservation.")
        return
    for item in items:
        typer.echo(_describe(item.to_json()))
    cases = _n(summary["case"], "dossier", "dossiers")
    inbound = _n(summary["journal"], "courriel reçu", "courriels reçus")
    outbound = _n(summary["outbox"], "courriel envoyé", "courriels envoyés")
    if dry_run:
        text = (
            f"À effacer : {cases} à anonymiser, {inbound} et {outbound} à vider. "
            "Rien n’a été modifié (--dry-run)."
        )
    else:
        done = _n(summary["case"], "dossier anonymisé", "dossiers anonymisés")
        text = f"Effacé : {done} ; contenu brut vidé pour {inbound} et {outbound}."
    typer.echo(_fr(text))
