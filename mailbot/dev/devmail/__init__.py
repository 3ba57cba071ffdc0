"""An embedded local mail system for `make run` and `mailbot demo`: IMAP + SMTP in one process.

IMAP is pymap's maildir backend; SMTP is aiosmtpd writing straight into the same maildirs.
Plain text on loopback, one password per address, only INBOX at first. It is a demo mailbox a
real client (Thunderbird) can use, not a production server: see docs/mail-servers.md.

Modules: `system` (the servers and their lifecycle), `delivery` (the SMTP policy, local
delivery, bounces), `pymap_fixes` (what pymap 0.36.7 needs to serve real clients).
"""

from mailbot.dev.devmail.delivery import build_bounce
from mailbot.dev.devmail.system import DevMailSystem, DevMailThread

__all__ = ["DevMailSystem", "DevMailThread", "build_bounce"]
