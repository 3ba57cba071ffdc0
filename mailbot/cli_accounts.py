"""`mailbot accounts list|show|disable|enable|spaces|reset`: the portal's accounts from the
command line, through `Portal` as the desk (CONTRACTS.md "Admin commands"). Listings take
`--json` (one JSON document on stdout); commands that act take `--as ADDRESS`, one of
`[admins] addresses`, written to the workflow log as `by=`.

Exit codes: 0 done; 1 no such account; 2 a usage, configuration or `--as` error.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from mailbot.config import Config
    from mailbot.portal import AccountInfo, Portal

accounts_app = typer.Typer(
    help="Portal accounts: list, show, disable, enable, spaces, reset.", no_args_is_help=True
)
ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Configuration file.")]
AsOpt = Annotated[
    str, typer.Option("--as", help="The admin who acts: one of [admins] addresses (logged).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]
EmailArg = Annotated[str, typer.Argument(help="The account's e-mail address (its identifier).")]
DEFAULT_CONFIG = Path("config.toml")
STATES = {"disabled": "désactivé", "invited": "invitation en attente", "active": "actif"}


def _open(config_path: Path) -> tuple[Config, Portal]:
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.cli import _engine, _load  # noqa: PLC0415
    from mailbot.wiring import portal_for  # noqa: PLC0415

    config = _load(config_path)
    return config, portal_for(config, _engine(config))


def _admin(config: Config, address: str) -> str:
    admin = address.strip().lower()
    if admin not in {a.strip().lower() for a in config.admins.addresses}:
        typer.echo(
            f"Erreur : --as {address} n’est pas une adresse de [admins] addresses.", err=True
        )
        raise typer.Exit(2)
    return admin


def state_of(account: AccountInfo) -> str:
    if account.disabled_at is not None:
        return "disabled"
    return "invited" if account.invitation_pending else "active"


def as_json(account: AccountInfo) -> dict[str, Any]:
    data = asdict(account)
    data["spaces"] = list(account.spaces)
    data["state"] = state_of(account)
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


def _line(account: AccountInfo) -> str:
    last = account.last_login_at.strftime("%d/%m/%Y %H:%M") if account.last_login_at else "jamais"
    spaces = ",".join(account.spaces)
    return f"{account.email}  {spaces}  dernière connexion : {last}  {STATES[state_of(account)]}"


def _unknown(email: str) -> typer.Exit:
    typer.echo(f"Erreur : aucun compte « {email} ».", err=True)
    return typer.Exit(1)


@accounts_app.command("list")
def list_command(
    query: Annotated[str, typer.Argument(help="Search in addresses, names, organisations.")] = "",
    json_out: JsonOpt = False,
    config_path: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Accounts by address, with their spaces, last login and state."""
    _config, portal = _open(config_path)
    accounts = portal.list_accounts(query, limit=100_000)
    if json_out:
        typer.echo(json.dumps({"accounts": [as_json(a) for a in accounts]}, ensure_ascii=False))
        return
    if not accounts:
        typer.echo("Aucun compte." if not query else f"Aucun compte pour « {query} ».")
    for account in accounts:
        typer.echo(_line(account))


@accounts_app.command("show")
def show_command(
    email: EmailArg, json_out: JsonOpt = False, config_path: ConfigOpt = DEFAULT_CONFIG
) -> None:
    """One account."""
    _config, portal = _open(config_path)
    account = portal.account(email)
    if account is None:
        raise _unknown(email)
    if json_out:
        typer.echo(json.dumps(as_json(account), ensure_ascii=False))
        return
    for key, value in as_json(account).items():
        typer.echo(f"{key}: {value}")


def _act(config_path: Path, email: str, admin_address: str, action: str, **extra: Any) -> None:
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.config import ConfigError  # noqa: PLC0415
    from mailbot.desk.audit import action_key, log_admin_action  # noqa: PLC0415
    from mailbot.portal import UnknownAccount  # noqa: PLC0415

    config, portal = _open(config_path)
    admin = _admin(config, admin_address)
    email = email.strip().lower()
    if action == "reset":
        try:  # the invitation goes through the outbox, which needs the secret: check first
            config.secret()
        except ConfigError as err:
            typer.echo(f"Configuration error: {err}", err=True)
            raise typer.Exit(2) from None
    key = action_key("cli")
    try:
        if action in ("disable", "enable"):
            account = portal.set_account_disabled(email, action == "disable", key, admin)
        elif action == "spaces":
            account = portal.set_account_spaces(email, extra["spaces"], key, admin)
        else:
            days = config.timers.invitation_expiry_days
            expires = datetime.now().astimezone() + timedelta(days=days)
            account = portal.reset_account(email, expires, key, admin)
    except UnknownAccount:
        raise _unknown(email) from None
    fields = {"account": email, **({"spaces": ",".join(extra["spaces"])} if extra else {})}
    log_admin_action(config, f"account_{action}", admin, **fields)
    typer.echo(_line(account))


@accounts_app.command("disable")
def disable_command(email: EmailArg, admin: AsOpt, config_path: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Disable an account: it no longer signs in, its sessions end (nothing is deleted)."""
    _act(config_path, email, admin, "disable")


@accounts_app.command("enable")
def enable_command(email: EmailArg, admin: AsOpt, config_path: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Enable a disabled account again."""
    _act(config_path, email, admin, "enable")


@accounts_app.command("spaces")
def spaces_command(
    email: EmailArg,
    admin: AsOpt,
    spaces: Annotated[
        list[str] | None, typer.Argument(help="desta, antai (Accueil always; none: Accueil only).")
    ] = None,
    config_path: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Grant exactly these spaces (Accueil always)."""
    # Imported here: keeps `mailbot --help` fast.
    from workflows.core import SPACES  # noqa: PLC0415

    chosen = [s.strip().lower() for s in spaces or []]
    unknown = [s for s in chosen if s not in SPACES]
    if unknown:
        typer.echo(f"Erreur : espace inconnu « {unknown[0]} » (accueil, desta ou antai).", err=True)
        raise typer.Exit(2)
    _act(config_path, email, admin, "spaces", spaces=chosen)


@accounts_app.command("reset")
def reset_command(email: EmailArg, admin: AsOpt, config_path: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Send the invitation again with a new temporary password (the old one stops working)."""
    _act(config_path, email, admin, "reset")
