"""Starting the local mail system of `make run` with the demo mailboxes."""

from __future__ import annotations

from pathlib import Path

from mailbot.config import Config
from mailbot.dev.devmail import DevMailThread


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


def start_devmail(config: Config) -> DevMailThread:
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
