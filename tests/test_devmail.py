"""The embedded mail system (pymap IMAP + aiosmtpd SMTP) spoken to by real clients."""

from __future__ import annotations

import email
import email.policy
import logging
import os
import smtplib
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from mailbot.dev.devmail import DevMailThread

DOMAIN = "demo.test"
BOT = "bot@demo.test"
ALICE = "alice@demo.test"
USERS = {BOT: "bot-pw", ALICE: "alice-pw", "mairie@commune.test": "mairie-pw"}


def _raw(
    sender: str, to: str, subject: str = "Question", message_id: str = "<q1@demo.test>"
) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
        "Date: Mon, 02 Mar 2026 10:00:00 +0100\r\n\r\nBonjour,\r\nune question.\r\n"
    ).encode()


@pytest.fixture
def mail(tmp_path: Path) -> Iterator[DevMailThread]:
    with DevMailThread(tmp_path / "devmail", DOMAIN, dict(USERS), imap_port=0, smtp_port=0) as mail:
        yield mail


def _login(mail: DevMailThread, address: str) -> IMAPClient:
    client = IMAPClient(mail.host, port=mail.imap_port, ssl=False, timeout=10)
    client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.login(address, USERS[address])
    return client


def _send(mail: DevMailThread, sender: str, rcpts: list[str], raw: bytes) -> None:
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        smtp.sendmail(sender, rcpts, raw)


def _fetch_all(client: IMAPClient, folder: str = "INBOX") -> list[bytes]:
    client.select_folder(folder)
    uids = client.search(["ALL"])
    fetched = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
    return [fetched[uid][b"BODY[]"] for uid in sorted(fetched)]


def _parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_mail_sent_over_smtp_is_read_over_imap_byte_for_byte(mail: DevMailThread) -> None:
    raw = _raw(ALICE, BOT)
    _send(mail, ALICE, [BOT], raw)

    with _login(mail, BOT) as client:
        (body,) = _fetch_all(client)
        flags = client.get_flags(client.search(["ALL"]))

    headers, _, original = body.partition(b"\r\nReceived: ")
    assert headers == f"Return-Path: <{ALICE}>\r\nDelivered-To: {BOT}".encode()
    assert original.split(b"\r\n", 2)[2] == raw  # Received: spans two lines
    assert all(b"\\Seen" not in f for f in flags.values())  # BODY.PEEK


def test_sub_address_is_delivered_to_the_base_mailbox(mail: DevMailThread) -> None:
    tagged = "bot+b-Tok3n@demo.test"
    _send(mail, ALICE, [tagged], _raw(ALICE, tagged))

    with _login(mail, BOT) as client:
        (body,) = _fetch_all(client)

    assert _parse(body)["Delivered-To"] == tagged


@pytest.mark.parametrize("address", ["nobody@demo.test", "nobody@commune.test", "Nobody@DEMO.test"])
def test_unknown_address_of_a_served_domain_is_refused_at_rcpt(
    mail: DevMailThread, address: str
) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        _send(mail, ALICE, [address], _raw(ALICE, address))

    assert refused.value.recipients[address][0] == 550


def test_users_of_other_domains_and_any_case_are_local(mail: DevMailThread) -> None:
    _send(mail, "Bot@Demo.Test", ["MAIRIE@commune.test"], _raw(BOT, "mairie@commune.test"))

    with _login(mail, "mairie@commune.test") as client:
        assert len(_fetch_all(client)) == 1


def test_only_inbox_exists_until_a_client_creates_folders_and_moves_mail(
    mail: DevMailThread,
) -> None:
    for n in range(3):
        _send(mail, ALICE, [BOT], _raw(ALICE, BOT, message_id=f"<m{n}@demo.test>"))

    with _login(mail, BOT) as client:
        initial = [name for _, _, name in client.list_folders()]
        client.create_folder("Processed")
        client.select_folder("INBOX")
        first = client.search(["HEADER", "Message-ID", "<m0@demo.test>"])
        client.move(first, "Processed")
        inbox = _fetch_all(client)
        processed = _fetch_all(client, "Processed")

    assert initial == ["INBOX"]
    assert len(inbox) == 2
    assert [_parse(raw)["Message-ID"] for raw in processed] == ["<m0@demo.test>"]


def test_copy_keeps_the_whole_message(mail: DevMailThread) -> None:
    _send(mail, ALICE, [BOT], _raw(ALICE, BOT))

    with _login(mail, BOT) as client:
        client.create_folder("Quarantine")
        client.select_folder("INBOX")
        client.copy(client.search(["ALL"]), "Quarantine")
        (original,) = _fetch_all(client)
        (copy,) = _fetch_all(client, "Quarantine")

    assert copy == original


def test_appended_message_is_served_with_crlf_and_headers_unfolded(mail: DevMailThread) -> None:
    references = " ".join(f"<ref{n}@a.rather.long.domain.example>" for n in range(8))
    raw = f"Subject: Relance\nReferences: {references}\n\nligne 1\nligne 2\n".encode()

    with _login(mail, BOT) as client:
        client.append("INBOX", raw)
        (body,) = _fetch_all(client)

    assert body == raw.replace(b"\n", b"\r\n")


def test_idle_client_is_told_of_a_new_message(mail: DevMailThread) -> None:
    with _login(mail, BOT) as client:
        client.select_folder("INBOX")
        client.idle()
        _send(mail, ALICE, [BOT], _raw(ALICE, BOT))
        responses: list[object] = []
        deadline = time.monotonic() + 10
        while (1, b"EXISTS") not in responses and time.monotonic() < deadline:
            responses += client.idle_check(timeout=1)
        client.idle_done()

    assert (1, b"EXISTS") in responses


def test_mail_to_another_domain_bounces_to_the_local_sender(mail: DevMailThread) -> None:
    original = _raw(BOT, "requester@mairie.example", "Votre demande", "<sent-1@demo.test>")
    _send(mail, "bot+b-abc@demo.test", ["requester@mairie.example"], original)

    with _login(mail, BOT) as client:
        (body,) = _fetch_all(client)
    bounce = _parse(body)
    human, report, headers = bounce.iter_parts()

    assert bounce["Return-Path"] == "<>"
    assert bounce["Delivered-To"] == "bot+b-abc@demo.test"
    assert bounce["From"].addresses[0].addr_spec == "MAILER-DAEMON@demo.test"
    assert bounce.get_content_type() == "multipart/report"
    assert bounce.get_param("report-type") == "delivery-status"
    assert "Message non remis" in bounce["Subject"]
    assert "requester@mairie.example" in human.get_content()
    assert report.get_content_type() == "message/delivery-status"
    fields = report.as_string()
    assert "Final-Recipient: rfc822; requester@mairie.example" in fields
    assert "Action: failed" in fields
    assert "Status: 5.4.4" in fields
    assert headers.get_content_type() == "text/rfc822-headers"
    assert "Message-ID: <sent-1@demo.test>" in headers.get_content()


def test_mail_to_another_domain_from_a_stranger_is_dropped_and_logged(
    mail: DevMailThread, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mailbot.dev.devmail")
    _send(mail, "x@elsewhere.example", ["y@mairie.example"], _raw("x@elsewhere.example", "y"))
    _send(mail, "", ["z@mairie.example"], _raw("MAILER-DAEMON@elsewhere.example", "z"))

    for address in USERS:
        with _login(mail, address) as client:
            assert _fetch_all(client) == []
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 2
    assert "y@mairie.example" in dropped[0]


def test_mailboxes_folders_and_uids_survive_a_restart(tmp_path: Path) -> None:
    root = tmp_path / "devmail"
    with DevMailThread(root, DOMAIN, dict(USERS), imap_port=0, smtp_port=0) as mail:
        _send(mail, ALICE, [BOT], _raw(ALICE, BOT))
        with _login(mail, BOT) as client:
            client.create_folder("Processed")
            before = client.select_folder("INBOX")
            uids_before = client.search(["ALL"])

    with DevMailThread(root, DOMAIN, dict(USERS), imap_port=0, smtp_port=0) as mail:
        _send(mail, ALICE, [BOT], _raw(ALICE, BOT, message_id="<q2@demo.test>"))
        with _login(mail, BOT) as client:
            folders = [name for _, _, name in client.list_folders()]
            after = client.select_folder("INBOX")
            uids_after = client.search(["ALL"])

    assert folders == ["INBOX", "Processed"]
    assert after[b"UIDVALIDITY"] == before[b"UIDVALIDITY"]
    assert uids_after == [*uids_before, uids_before[-1] + 1]


def test_stop_closes_listeners_connections_and_threads(tmp_path: Path) -> None:
    threads_before = threading.active_count()
    mail = DevMailThread(tmp_path / "devmail", DOMAIN, dict(USERS), imap_port=0, smtp_port=0)
    mail.start()
    client = _login(mail, BOT)
    client.select_folder("INBOX")
    client.idle()
    smtp = smtplib.SMTP(mail.host, mail.smtp_port, timeout=10)
    smtp.ehlo()

    mail.stop()

    assert threading.active_count() == threads_before
    for port in (mail.imap_port, mail.smtp_port):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((mail.host, port), timeout=2).close()
    client.idle_check(timeout=5)  # returns at EOF
    with pytest.raises(OSError):  # smtplib's SMTPServerDisconnected is an OSError
        smtp.noop()
    client.shutdown()


@pytest.mark.usefixtures("mail")  # the first system, running on the same root
def test_a_second_system_on_the_same_root_is_refused(tmp_path: Path) -> None:
    second = DevMailThread(tmp_path / "devmail", DOMAIN, dict(USERS), imap_port=0, smtp_port=0)

    with pytest.raises(RuntimeError, match="used by another devmail"):
        second.start()


def test_a_stale_pymap_lock_does_not_block_a_restart(tmp_path: Path) -> None:
    root = tmp_path / "devmail"
    with DevMailThread(root, DOMAIN, dict(USERS), imap_port=0, smtp_port=0):
        pass
    (root / "pymap-etc-passwd.lock").touch()  # as left by a killed process

    with DevMailThread(root, DOMAIN, dict(USERS), imap_port=0, smtp_port=0) as mail:
        with _login(mail, BOT) as client:
            assert client.select_folder("INBOX")[b"EXISTS"] == 0


def test_wrong_password_is_refused_and_added_users_can_log_in(mail: DevMailThread) -> None:
    with IMAPClient(mail.host, port=mail.imap_port, ssl=False) as client:
        with pytest.raises(LoginError):
            client.login(BOT, "wrong")

    mail.add_user("late@demo.test", "late-pw")
    _send(mail, ALICE, ["late@demo.test"], _raw(ALICE, "late@demo.test"))

    with IMAPClient(mail.host, port=mail.imap_port, ssl=False) as client:
        client.login("late@demo.test", "late-pw")
        assert len(_fetch_all(client)) == 1


@pytest.mark.parametrize(("password", "accepted"), [("alice-pw", True), ("wrong", False)])
def test_smtp_auth_accepts_a_local_user_with_its_password(
    mail: DevMailThread, password: str, accepted: bool
) -> None:
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("auth")
        if accepted:
            assert smtp.login(ALICE, password)[0] == 235
        else:
            with pytest.raises(smtplib.SMTPAuthenticationError):
                smtp.login(ALICE, password)


def test_works_when_the_temp_folder_is_on_another_file_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_fs = "/dev/shm"  # a tmpfs, like /tmp on many systems
    assert os.stat(other_fs).st_dev != os.stat(tmp_path).st_dev
    monkeypatch.setattr(tempfile, "tempdir", other_fs)

    with DevMailThread(tmp_path / "devmail", DOMAIN, dict(USERS), imap_port=0, smtp_port=0) as mail:
        with _login(mail, BOT) as client:
            client.create_folder("Processed")
            folders = [name for _, _, name in client.list_folders()]

    assert folders == ["INBOX", "Processed"]
