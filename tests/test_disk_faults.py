"""Real disk faults under a running daemon (SQLite on a small tmpfs of its own): the disk
fills up, then the database turns read-only. The daemon waits, quarantines nothing, leaves
the mail in the INBOX, and resumes when the fault is fixed, with gapless case numbers."""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from harness import Bot, make_bot
from mailservers import MailEnv, count_folder
from sqlalchemy import Engine, event
from test_db_faults import case_numbers, daemon_thread, journal, question, wait_until

pytestmark = pytest.mark.integration


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)  # noqa: S603


@contextmanager
def small_disk(megabytes: int = 16) -> Iterator[Path]:
    """A tmpfs of its own (the tests run as root, like CI); unmounted afterwards."""
    where = Path(tempfile.mkdtemp(prefix="mailbot-disk-"))
    mount("-t", "tmpfs", "-o", f"size={megabytes}m,mode=0755", "tmpfs", str(where))
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)  # noqa: S603


def fill(disk: Path) -> Path:
    """Fill the file system to the last byte (unbuffered writes, smaller and smaller)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as err:
                assert err.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def count(env: MailEnv, folder: str) -> int:
    """Messages in one of the bot's folders."""
    return count_folder(env.dovecot, env.bot.address, env.bot.password, folder)


def disk_bot(env: MailEnv, disk: Path) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-test-"))  # the log stays writable
    return make_bot(
        env, f"sqlite:///{disk}/mailbot.db", workdir, **{"database.retry_max_seconds": 0.5}
    )


def assert_all_processed_in_order(bot: Bot, env: MailEnv, total: int) -> None:
    assert (count(env, "INBOX"), count(env, "Quarantine"), count(env, "Ignored")) == (0, 0, 0)
    assert count(env, "Processed") == total
    rows = journal(bot.engine)
    assert len(rows) == total and {r.fate for r in rows} == {"processed"}
    numbers = case_numbers(bot.engine)
    assert [numbers[r.message_id or ""] for r in rows] == list(range(1, total + 1))


def test_a_full_disk_is_waited_out_and_nothing_is_lost(mail_env: MailEnv) -> None:
    env = mail_env
    with small_disk() as disk:
        bot = disk_bot(env, disk)
        with daemon_thread(bot) as errors:
            for number in range(1, 4):
                question(env, number)
            wait_until(lambda: count(env, "Processed") == 3, 30, "three mails processed")
            filler = fill(disk)
            for number in range(4, 7):
                question(env, number)
            wait_until(lambda: count(env, "INBOX") == 3, 15, "the new mail in the INBOX")
            wait_until(lambda: any(r.fate for r in journal(bot.engine)), 5, "the journal")
            # The daemon keeps trying while the disk is full; nothing leaves the INBOX.
            wait_until(lambda: bot.daemon.outage.down, 20, "the outage to be noticed")
            assert count(env, "INBOX") == 3 and count(env, "Quarantine") == 0
            filler.unlink()
            wait_until(lambda: count(env, "Processed") == 6, 40, "the rest processed")
        bot.engine.dispose()
        assert not errors
        assert_all_processed_in_order(bot, env, 6)


class ReadOnlySwitch:
    """SQLite's own read-only mode on every connection the daemon checks out while `on`
    (`PRAGMA query_only`: writes fail with SQLITE_READONLY, "attempt to write a readonly
    database", as on a file the daemon's user may not write). A remount read-only is refused
    while the daemon holds the file open, and root writes through file modes."""

    def __init__(self, engine: Engine) -> None:
        self.on = False
        event.listen(engine, "checkout", self._checkout)

    def _checkout(self, dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        dbapi_conn.execute(f"PRAGMA query_only = {int(self.on)}")


def test_a_read_only_database_is_waited_out_and_nothing_is_lost(mail_env: MailEnv) -> None:
    env = mail_env
    with small_disk() as disk:
        bot = disk_bot(env, disk)
        switch = ReadOnlySwitch(bot.engine)
        with daemon_thread(bot) as errors:
            for number in range(1, 3):
                question(env, number)
            wait_until(lambda: count(env, "Processed") == 2, 30, "two mails processed")
            switch.on = True
            bot.engine.dispose()  # every connection from now on is read-only
            for number in range(3, 6):
                question(env, number)
            wait_until(lambda: bot.daemon.outage.down, 20, "the outage to be noticed")
            assert count(env, "Processed") == 2 and count(env, "Quarantine") == 0
            wait_until(lambda: count(env, "INBOX") == 3, 15, "the new mail in the INBOX")
            switch.on = False
            wait_until(lambda: count(env, "Processed") == 5, 40, "the rest processed")
        bot.engine.dispose()
        assert not errors
        assert_all_processed_in_order(bot, env, 5)
