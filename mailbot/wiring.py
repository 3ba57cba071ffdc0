"""The one module that wires mailbot to its portal and, in the embedded default, to the local
mail system: everything else in mailbot reaches the portal only through `mailbot.portal`.

A deployment with a real portal replaces `portal_for` (and serves no stand-in); nothing in
`workflows/` or `mailbot/loop/` changes.

The imports of the service are inside the functions: the CLI imports this module to mount
`mailbot portal`, and `mailbot --help` should not load the whole service to do so (the
stand-in's commands and the outbox that sends their mail are loaded then anyway: imported
at the top).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from mailbot.config import Config
from mailbot.loop.outbox import OutboxPortalMailer
from mailbot.portal import Portal
from portal_stub.cli import portal_app, use_mailer

if TYPE_CHECKING:
    import typer
    from sqlalchemy import Engine
    from starlette.types import ASGIApp

    from mailbot.loop.daemon import Daemon
    from mailbot.loop.ingest import Ingest


def portal_for(config: Config, engine: Engine) -> Portal:
    """The portal mailbot works with: the stand-in, in the same database (its own tables and
    its own transactions)."""
    # Imported here: the stand-in's service loads only when a portal is needed.
    from portal_stub.service import StubPortal  # noqa: PLC0415

    mailer = OutboxPortalMailer(config, engine)  # the invitation an admin's reset sends again
    return StubPortal(engine, config.portal.base_url, mailer=mailer)


def build_ingest(config: Config, engine: Engine, secret: bytes | None = None) -> Ingest:
    # Imported here: the loop loads only when mailbot runs, not for `mailbot --help`.
    from mailbot.loop.ingest import Ingest  # noqa: PLC0415
    from mailbot.wflog import WorkflowLog  # noqa: PLC0415

    wflog = WorkflowLog(config.log.file, config.log.format)
    return Ingest(config, engine, wflog, portal_for(config, engine), secret=secret)


def portal_server_app(config: Config, engine: Engine) -> ASGIApp:
    """The stand-in and the admin's desk on one server: `/admin` and below go to the desk
    (mailbot's own app), `/healthz` to the health report, everything else to the stand-in."""
    # Imported here: the web apps load only when the portal is served.
    from mailbot.desk.app import create_desk_app, with_desk  # noqa: PLC0415
    from mailbot.desk.healthz import create_healthz_app  # noqa: PLC0415
    from portal_stub.app import DSFR_DIST, create_app  # noqa: PLC0415

    portal = portal_for(config, engine)
    desk = create_desk_app(config, engine, lambda _session: portal, dsfr_dir=DSFR_DIST)
    stand_in = create_app(config, engine, mailer=OutboxPortalMailer(config, engine))
    return with_desk(desk, stand_in, create_healthz_app(config, engine))


def stand_in_cli() -> typer.Typer:
    """`mailbot portal`: the stand-in's own commands, its mail through mailbot's outbox."""
    use_mailer(OutboxPortalMailer)
    return portal_app


def start_portal(config: Config, engine: Engine) -> threading.Thread:
    # Imported here: uvicorn loads only when the portal is served.
    import uvicorn  # noqa: PLC0415

    server = uvicorn.Server(
        uvicorn.Config(
            portal_server_app(config, engine),
            host=config.portal.listen_host,
            port=config.portal.listen_port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, name="portal", daemon=True)
    thread.start()
    print(
        f"Portal stand-in: {config.portal.base_url}/connexion\n"
        f"Admin's desk: {config.portal.base_url}/admin\n",
        flush=True,
    )
    return thread


def serve(config: Config, engine: Engine, daemon: Daemon) -> None:
    """`mailbot run`: the daemon and its scheduler; in the embedded default also the local
    mail system and the portal stand-in, in the same process."""
    # Imported here: the scheduler loads only when serving.
    from mailbot.loop.scheduler import serve_forever, start_scheduler  # noqa: PLC0415

    devmail = None
    if config.devmail.enabled:
        # Imported here: the embedded mail system (pymap) loads only when enabled.
        from mailbot.dev.embedded import start_devmail  # noqa: PLC0415

        try:
            devmail = start_devmail(config)
        except OSError as err:
            raise SystemExit(
                f"The local mail system cannot start ({err}): is another `make run` running?"
            ) from None
        start_portal(config, engine)
    scheduler = start_scheduler(config, daemon)
    try:
        serve_forever(daemon, scheduler)
    finally:
        if devmail is not None:
            devmail.stop()
