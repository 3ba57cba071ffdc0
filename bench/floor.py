"""The I/O floor: what any mail robot must do for the corpus, and nothing more.

Fetch every INBOX mail (UID FETCH BODY.PEEK[] in batches of 100), parse it, send as many mails
as mailbot does (an acknowledgement to the sender and a notification to a reviewer for each
mail that is not automatic) over one reused aiosmtplib connection, and MOVE the batch to
Processed. No database, no classification, no templates.
"""

from __future__ import annotations

import asyncio
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr

import aiosmtplib
from imapclient import IMAPClient

BATCH = 100


def _reply(to: str, sender: str, subject: str, in_reply_to: str) -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = f"Accusé de réception : {subject}"
    msg["In-Reply-To"] = in_reply_to
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content("Votre message a bien été reçu.")
    return msg


async def _floor(
    host: str, imap_port: int, smtp_port: int, user: str, password: str, reviewer: str
) -> tuple[int, int, float]:
    start = time.perf_counter()
    imap = IMAPClient(host, port=imap_port, ssl=False)
    imap.login(user, password)
    if not imap.folder_exists("Processed"):
        imap.create_folder("Processed")
    imap.select_folder("INBOX")
    smtp = aiosmtplib.SMTP(hostname=host, port=smtp_port, use_tls=False, start_tls=False)
    await smtp.connect()
    uids = imap.search(["ALL"])
    fetched = sent = 0
    for first in range(0, len(uids), BATCH):
        batch = uids[first : first + BATCH]
        for data in imap.fetch(batch, ["BODY.PEEK[]"]).values():
            msg = message_from_bytes(data[b"BODY[]"], policy=policy.default)
            fetched += 1
            if msg.get("Auto-Submitted", "no") != "no":
                continue
            sender = parseaddr(str(msg["From"]))[1]
            subject = str(msg["Subject"] or "")
            for to in (sender, reviewer):
                await smtp.send_message(_reply(to, user, subject, str(msg["Message-ID"])))
                sent += 1
        imap.move(batch, "Processed")
    await smtp.quit()
    imap.logout()
    return fetched, sent, time.perf_counter() - start


def run_floor(
    host: str, imap_port: int, smtp_port: int, user: str, password: str, reviewer: str
) -> tuple[int, int, float]:
    """(mails fetched, mails sent, seconds)."""
    return asyncio.run(_floor(host, imap_port, smtp_port, user, password, reviewer))
