"""`mailbot annex`: write the blank annex, read a filled one (CONTRACTS.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mailbot.annex.container import file_subject
from mailbot.annex.reader import AnnexLimits, exit_code, parse_annex_bytes, too_big_error
from mailbot.annex.template import build_template
from mailbot.config import ConfigError, load_limits

annex_app = typer.Typer(
    help="L'annexe de demande d'abonnement : modèle vierge et lecture d'un tableau rempli.",
    no_args_is_help=True,
    add_completion=False,
)


def limits_for(config: Path | None) -> AnnexLimits:
    """`--config PATH`, else ./config.toml when present, else the defaults: the `[limits]`
    the daemon reads, validated by the same model (`mailbot.config.LimitsConfig`)."""
    if config is None and Path("config.toml").is_file():
        config = Path("config.toml")
    try:
        return AnnexLimits.from_config(load_limits(config))
    except ConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from exc


def _read_bounded(path: Path, limit: int) -> bytes:
    """At most limit + 1 bytes: enough to know a file is too large without loading it all."""
    with path.open("rb") as handle:
        return handle.read(limit + 1)


@annex_app.command()
def template(
    out: Annotated[Path, typer.Argument(help="Fichier .xlsx à écrire.", dir_okay=False)],
) -> None:
    """Écrit le tableau vierge officiel (feuilles « Demande » et « Mode d'emploi »)."""
    out.write_bytes(build_template())
    typer.echo(f"Modèle écrit dans {out}.", err=True)


@annex_app.command()
def parse(
    file: Annotated[Path, typer.Argument(help="Le tableau reçu (.xlsx, .xlsm, .ods, .xls, .csv).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Un objet JSON sur la sortie standard.")
    ] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="Fichier de configuration TOML.")
    ] = None,
) -> None:
    """Lit et valide un tableau d'abonnement. Sortie 0 : valide ; 1 : erreurs de lignes ;
    2 : tableau inutilisable."""
    limits = limits_for(config)
    try:
        data = _read_bounded(file, limits.max_file_bytes)
    except OSError:
        result: dict[str, Any] = {
            "format": None,
            "sheet": None,
            "rows": [],
            "errors": [],
            "warnings": [],
            "error": f"{file_subject(file.name)} est introuvable ou ne peut pas être ouvert.",
        }
    else:
        result = parse_annex_bytes(data, file.name, limits)
        if len(data) > limits.max_file_bytes:  # only the first bytes were read: say the size
            size = file.stat().st_size
            result["error"] = too_big_error(file.name, size, limits.max_file_bytes).french
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        typer.echo(summary(result))
    raise typer.Exit(exit_code(result))


def summary(result: dict[str, Any]) -> str:
    """A readable French account of the result, for a person at a terminal."""
    lines: list[str] = []
    if result["error"]:
        lines.append(f"Tableau inutilisable : {result['error']}")
    else:
        where = f", feuille « {result['sheet']} »" if result["sheet"] else ""
        people = len(result["rows"])
        lines.append(
            f"Tableau lu ({result['format']}{where}) : {people} personne(s) valide(s), "
            f"{len(result['errors'])} erreur(s)."
        )
        for row in result["rows"]:
            spaces = ", ".join(s.upper() if s != "accueil" else "Accueil" for s in row["spaces"])
            lines.append(
                f"  ligne {row['row']} : {row['first_name']} {row['last_name']} <{row['email']}>"
                f" — {row['organisation']} — espaces : {spaces}"
            )
        lines.extend(f"  ✗ {error['message']}" for error in result["errors"])
    lines.extend(f"  ! {warning}" for warning in result["warnings"])
    return "\n".join(lines)
