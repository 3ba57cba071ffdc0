"""`mailbot portal`: serve the portal stand-in, add an admin account, add a document.

Mounted by mailbot's CLI as `app.add_typer(portal_app, name="portal")`, which also gives it
the mailer for the portal's own mail (`use_mailer`): the stand-in does not import mailbot's
outbox.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine
from sqlmodel import select

from mailbot.config import Config, ConfigError, load_config
from mailbot.portal import PortalMailer
from portal_stub.models import PortalAccount, PortalDocument
from portal_stub.security import DEFAULT_HASHER, temporary_password
from storage.db import make_engine, session_scope
from storage.schema import SchemaOutdated, check_schema
from workflows.core import SPACES

portal_app = typer.Typer(
    help="Le portail de démonstration « Espace collectivités ».", no_args_is_help=False
)
admin_app = typer.Typer(help="Comptes administrateurs du portail.")
document_app = typer.Typer(help="Documents des espaces du portail.")
portal_app.add_typer(admin_app, name="admin")
portal_app.add_typer(document_app, name="document")

ConfigOption = Annotated[
    Path, typer.Option("--config", help="Fichier de configuration (par défaut ./config.toml).")
]
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024

MailerFactory = Callable[[Config, Engine], PortalMailer]
_mailer_factory: MailerFactory | None = None


def use_mailer(factory: MailerFactory) -> None:
    """Set how `serve` builds the portal's mailer (mailbot's CLI gives its outbox)."""
    global _mailer_factory
    _mailer_factory = factory


def _open(config_path: Path) -> tuple[Config, Engine]:
    try:
        config = load_config(config_path)
        engine = make_engine(config.database.url)
        check_schema(engine)
    except (ConfigError, SchemaOutdated) as err:
        typer.echo(f"Erreur : {err}", err=True)
        raise typer.Exit(2) from None
    return config, engine


@portal_app.callback(invoke_without_command=True)
def serve(ctx: typer.Context, config_path: ConfigOption = Path("config.toml")) -> None:
    """Serve the portal on portal.listen_host:listen_port (without a sub-command)."""
    if ctx.invoked_subcommand is not None:
        return
    # Imported here: uvicorn and the web app load only when serving, not for the other commands.
    import uvicorn  # noqa: PLC0415

    from portal_stub.app import create_app  # noqa: PLC0415

    config, engine = _open(config_path)
    if _mailer_factory is None:
        typer.echo("Erreur : aucun envoi de courriel n’est branché sur le portail.", err=True)
        raise typer.Exit(2)
    try:
        app = create_app(config, engine, mailer=_mailer_factory(config, engine))
    except ConfigError as err:
        typer.echo(f"Erreur : {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"Portail servi sur http://{config.portal.listen_host}:{config.portal.listen_port} "
        f"(liens des courriels : {config.portal.base_url})"
    )
    # No access log: reset links carry their token in the path (RFC 3986 paths end up in logs).
    uvicorn.run(
        app, host=config.portal.listen_host, port=config.portal.listen_port, access_log=False
    )


@admin_app.command("add")
def admin_add(
    email: Annotated[str, typer.Argument(help="Adresse électronique (identifiant).")],
    first_name: Annotated[str, typer.Option("--prenom", help="Prénom.")] = "",
    last_name: Annotated[str, typer.Option("--nom", help="Nom.")] = "",
    config_path: ConfigOption = Path("config.toml"),
) -> None:
    """Create an admin account and print its temporary password, once."""
    config, engine = _open(config_path)
    email = email.strip().lower()
    if "@" not in email:
        typer.echo("Erreur : l’identifiant doit être une adresse électronique.", err=True)
        raise typer.Exit(2)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        account = session.exec(select(PortalAccount).where(PortalAccount.email == email)).first()
        if account is not None:
            account.is_admin = True
            account.spaces = list(SPACES)
            session.add(account)
            typer.echo(
                f"Le compte {email} existait : il est désormais administrateur. Son mot de "
                "passe ne change pas (« Mot de passe oublié ? » permet d’en choisir un autre)."
            )
            return
        password = temporary_password()
        expires = now + timedelta(days=config.timers.invitation_expiry_days)
        session.add(
            PortalAccount(
                email=email,
                first_name=first_name,
                last_name=last_name,
                organisation="Ministère de l’Intérieur",
                spaces=list(SPACES),
                password_hash=DEFAULT_HASHER.hash(password),
                must_change_password=True,
                temp_password_expires_at=expires,
                is_admin=True,
                created_at=now,
            )
        )
    typer.echo(f"Compte administrateur créé : {email}")
    typer.echo(f"Mot de passe provisoire (affiché une seule fois) : {password}")
    typer.echo(
        f"À changer à la première connexion, avant le {expires:%d/%m/%Y} : "
        f"{config.portal.base_url}/connexion"
    )


@document_app.command("add")
def document_add(
    space: Annotated[str, typer.Argument(help="Espace : accueil, desta ou antai.")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    title: Annotated[str, typer.Option("--title", "--titre", help="Titre affiché.")],
    config_path: ConfigOption = Path("config.toml"),
) -> None:
    """Add a document (stored in the database) to a space."""
    if space not in SPACES:
        typer.echo(f"Erreur : espace inconnu « {space} » (accueil, desta ou antai).", err=True)
        raise typer.Exit(2)
    data = file.read_bytes()
    if len(data) > MAX_DOCUMENT_BYTES:
        typer.echo("Erreur : document trop volumineux (50 Mo au plus).", err=True)
        raise typer.Exit(2)
    _config, engine = _open(config_path)
    content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    with session_scope(engine) as session:
        doc = PortalDocument(
            space=space,
            title=title.strip() or file.name,
            filename=file.name,
            content_type=content_type,
            size=len(data),
            data=data,
            uploaded_at=datetime.now(UTC),
        )
        session.add(doc)
        session.flush()
        doc_id = doc.id
    typer.echo(f"Document n° {doc_id} ajouté à l’espace {space} : {title}")
