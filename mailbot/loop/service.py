"""`mailbot run`: the daemon, its scheduler, and — in the embedded default — the local mail
system and the portal stand-in in the same process."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from mailbot.config import Config
from mailbot.loop.daemon import Daemon

log = logging.getLogger(__name__)


def demo_users(config: Config) -> dict[str, str]:
    """The demo mailboxes: the generic address, every reviewer, the admins, two requesters."""
    domain = config.devmail.domain
    password = config.devmail.password
    users = {config.instance.generic_address: password}
    for group in config.reviewers.groups.values():
        users.update({m: password for m in group.members})
    users.update({a: password for a in config.admins.addresses})
    users[f"mairie@{domain}"] = password
    users[f"prestataire@{domain}"] = password
    # the people a demo annex lists get mailboxes too, so their invitations can be read
    users[f"agent.stationnement@{domain}"] = password
    users[f"responsable.si@{domain}"] = password
    return {u: p for u, p in users.items() if u.endswith("@" + domain)}


def start_devmail(config: Config) -> Any:
    from mailbot.dev.devmail import DevMailThread

    dm = config.devmail
    users = demo_users(config)
    thread = DevMailThread(
        Path(dm.root), dm.domain, users, imap_port=dm.imap_port, smtp_port=dm.smtp_port
    )
    thread.start()
    print(
        f"\nLocal mail system for the demo domain {dm.domain!r}:\n"
        f"  IMAP 127.0.0.1:{dm.imap_port} (no TLS), SMTP 127.0.0.1:{dm.smtp_port} (no TLS)\n"
        f"  user name: the full address; password of every mailbox: {dm.password!r}\n"
        f"  mailboxes: {', '.join(sorted(users))}\n"
        "  Thunderbird: Account Settings > Add Mail Account, 'Configure manually',\n"
        "  incoming IMAP 127.0.0.1 port "
        f"{dm.imap_port} 'No SSL' 'Normal password', outgoing SMTP port {dm.smtp_port}.\n",
        flush=True,
    )
    return thread


def start_portal(config: Config, engine: Engine) -> threading.Thread:
    import uvicorn

    from mailbot.loop.outbox import OutboxPortalMailer
    from portal_stub.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config, engine, mailer=OutboxPortalMailer(config, engine)),
            host=config.portal.listen_host,
            port=config.portal.listen_port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, name="portal", daemon=True)
    thread.start()
    print(f"Portal stand-in: {config.portal.base_url}/connexion\n", flush=True)
    return thread


def start_scheduler(config: Config, engine: Engine, daemon: Daemon) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="Europe/Paris")
    scheduler.add_job(
        daemon.runner.sweep_timers,
        "interval",
        seconds=config.timers.sweep_interval_seconds,
        id="timers",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        daemon.drain_outbox, "interval", seconds=30, id="outbox", max_instances=1, coalesce=True
    )
    try:
        from portal_stub.notifications import send_daily_digest
        from storage.db import session_scope

        def digest() -> None:
            with session_scope(engine) as session:
                count = send_daily_digest(session, config, datetime.now(UTC))
            daemon.runner.wflog.write(None, "digest_sent", {"mails": count})

        scheduler.add_job(digest, "cron", hour=7, minute=0, id="digest", coalesce=True)
    except ImportError:  # pragma: no cover - a deployment with a real portal
        pass
    scheduler.start()
    return scheduler


def serve_forever(config: Config, engine: Engine, daemon: Daemon) -> None:
    try:
        devmail = start_devmail(config) if config.devmail.enabled else None
    except OSError as err:
        raise SystemExit(
            f"The local mail system cannot start ({err}): is another `make run` running?"
        ) from None
    if config.devmail.enabled:
        start_portal(config, engine)
    scheduler = start_scheduler(config, engine, daemon)

    def _stop(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signum)
        daemon.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"mailbot is watching {config.mailbox.user}; workflow log: {config.log.file}", flush=True)
    try:
        daemon.run_forever()
    finally:
        scheduler.shutdown(wait=False)
        if devmail is not None:
            devmail.stop()
