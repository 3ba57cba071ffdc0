"""The one module that wires mailbot to its portal and, in the embedded default, to the local
mail system: everything else in mailbot reaches the portal only through `mailbot.portal`.

A deployment with a real portal replaces `portal_factory` (and serves no stand-in); nothing
in `workflows/` or `mailbot/loop/` changes.
"""

from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session
from starlette.types import ASGIApp

from mailbot.config import Config
from mailbot.desk.app import create_desk_app, with_desk
from mailbot.loop.daemon import Daemon
from mailbot.loop.effects import PortalFactory
from mailbot.loop.ingest import Ingest
from mailbot.loop.notices import send_daily_digest
from mailbot.loop.scheduler import serve_forever, start_scheduler
from mailbot.wflog import WorkflowLog
from portal_stub.app import DSFR_DIST, create_app
from portal_stub.service import StubPortal
from storage.db import session_scope


def portal_factory(config: Config) -> PortalFactory:
    def factory(session: Session) -> StubPortal:
        return StubPortal(session, config.portal.base_url)

    return factory


def build_ingest(config: Config, engine: Engine, secret: bytes | None = None) -> Ingest:
    wflog = WorkflowLog(config.log.file, config.log.format)
    return Ingest(config, engine, wflog, portal_factory(config), secret=secret)


class DailyDigest:
    """The 07:00 digest of new Q&A for the people who chose it (`mailbot.loop.notices`)."""

    def __init__(self, config: Config, engine: Engine, portal: PortalFactory) -> None:
        self.config = config
        self.engine = engine
        self.portal = portal

    def __call__(self, now: datetime) -> int:
        with session_scope(self.engine) as session:
            return send_daily_digest(session, self.config, self.portal(session), now)


def daily_digest(config: Config, engine: Engine) -> DailyDigest:
    return DailyDigest(config, engine, portal_factory(config))


def portal_server_app(config: Config, engine: Engine) -> ASGIApp:
    """The stand-in and the admin's desk on one server: `/admin` and below go to the desk
    (mailbot's own app), everything else to the stand-in."""
    desk = create_desk_app(config, engine, portal_factory(config), dsfr_dir=DSFR_DIST)
    return with_desk(desk, create_app(config, engine))


def start_portal(config: Config, engine: Engine) -> threading.Thread:
    # Imported here: only the embedded default serves the stand-in (and uvicorn is slow to load).
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
    devmail = None
    if config.devmail.enabled:
        # The embedded mail system is loaded only when it is asked for.
        from mailbot.dev.embedded import start_devmail  # noqa: PLC0415

        try:
            devmail = start_devmail(config)
        except OSError as err:
            raise SystemExit(
                f"The local mail system cannot start ({err}): is another `make run` running?"
            ) from None
        start_portal(config, engine)
    scheduler = start_scheduler(config, daemon, daily_digest(config, engine))
    try:
        serve_forever(daemon, scheduler)
    finally:
        if devmail is not None:
            devmail.stop()
