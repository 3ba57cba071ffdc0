"""`mailbot run` as real subprocesses (started, SIGKILLed, restarted) and the checks made after
a kill: every mail in exactly one folder, acknowledgements, case numbers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path

from harness import Bot, annex_xlsx, compose, parse, person
from mailservers import MailEnv
from sqlmodel import Session, col, select

from storage.models import Case, InboundMessage, InstanceLease, OutboxMail

ACK_TEMPLATES = ("question_ack", "subscription_ack")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FOLDERS = ("INBOX", "Processed", "Ignored", "Quarantine")


@dataclass
class Daemon:
    """One `mailbot run` subprocess; its stderr (the log) goes to a file."""

    bot: Bot
    name: str
    proc: subprocess.Popen[bytes] = field(init=False)
    stderr_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.stderr_path = self.bot.workdir / f"{self.name}.stderr"
        cmd = [sys.executable, "-m", "mailbot", "run", "--config", str(self.bot.config_path)]
        with self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(  # noqa: S603 - our own command
                cmd,
                env=self.bot.subprocess_env(),
                stdout=subprocess.DEVNULL,
                stderr=err,
                cwd=self.bot.workdir,
            )

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, text: str, timeout: float = 30, poll: float = 0.05) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.stderr:
            assert self.proc.poll() is None, f"{self.name} exited:\n{self.stderr[-3000:]}"
            assert time.monotonic() < deadline, f"{self.name}: no {text!r}:\n{self.stderr[-3000:]}"
            time.sleep(poll)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def lease_holder_pid(bot: Bot) -> int | None:
    with Session(bot.engine) as s:
        row = s.get(InstanceLease, "active")
        return int(row.holder.split(":")[1]) if row is not None else None


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def final_journal(bot: Bot) -> int:
    with Session(bot.engine) as s:
        rows = s.exec(select(InboundMessage)).all()
        return sum(1 for r in rows if r.fate in ("processed", "ignored", "quarantined"))


def sending_ids(bot: Bot) -> set[int]:
    with Session(bot.engine) as s:
        rows = s.exec(select(OutboxMail).where(col(OutboxMail.state) == "sending")).all()
        return {int(r.id or 0) for r in rows}


def outbox_idle(bot: Bot) -> bool:
    with Session(bot.engine) as s:
        rows = s.exec(select(OutboxMail)).all()
        return all(r.state not in ("pending", "sending") for r in rows)


# --------------------------------------------------------------------------- the mails


def mixed_mails(env: MailEnv, count: int) -> list[tuple[str, bytes]]:
    """`count` mails: questions, subscriptions with an annex, auto-replies, bounces; as
    (kind, raw) in the order they are submitted."""
    out: list[tuple[str, bytes]] = []
    annex = annex_xlsx([person(env, "durand")])
    for i in range(count):
        sender = env.requesters[i % 2].address
        kind = ("question", "subscription", "question", "auto_reply", "question", "bounce")[i % 6]
        if kind == "question":
            msg = compose(sender, env.bot.address, f"Question {i}", f"Bonjour, flux CCSP n°{i} ?")
        elif kind == "subscription":
            msg = compose(
                sender,
                env.bot.address,
                f"Demande d'abonnement {i}",
                "Bonjour,\n\nVeuillez trouver ci-joint notre tableau.\n\nCordialement",
                attachments=[("annexe.xlsx", XLSX, annex)],
            )
        elif kind == "auto_reply":
            msg = compose(
                sender,
                env.bot.address,
                f"Réponse automatique : absent {i}",
                "Je suis absent jusqu'au 4 janvier.",
                headers={"Auto-Submitted": "auto-replied"},
            )
        else:
            msg = compose(
                f"MAILER-DAEMON@{env.domain}",
                env.bot.address,
                f"Undelivered Mail Returned to Sender {i}",
                "This is the mail system. Your message could not be delivered.",
                headers={"X-Failed-Recipients": f"nobody-{i}@{env.domain}"},
            )
        out.append((kind, msg.as_bytes()))
    return out


def submit_all(env: MailEnv, mails: list[tuple[str, bytes]]) -> None:
    for _kind, raw in mails:
        mail_from = parseaddr(raw.split(b"\r\n", 1)[0].decode().removeprefix("From: "))[1]
        env.send(mail_from, [env.bot.address], raw)


# --------------------------------------------------------------------------- the checks


def message_ids(raw_mails: list[tuple[str, bytes]]) -> list[str]:
    return [str(parse(raw)["Message-ID"]).strip() for _kind, raw in raw_mails]


def check_folders(env: MailEnv, mails: list[tuple[str, bytes]]) -> None:
    """Every mail is in exactly one folder, none left in the INBOX."""
    seen: Counter[str] = Counter()
    where: dict[str, list[str]] = {}
    for folder in FOLDERS:
        for msg in env.fetch(env.bot, folder):
            mid = str(msg["Message-ID"]).strip()
            seen[mid] += 1
            where.setdefault(mid, []).append(folder)
    expected = message_ids(mails)
    problems = {m: where.get(m, []) for m in expected if seen[m] != 1 or "INBOX" in where[m]}
    assert not problems, f"mails not in exactly one folder (besides the INBOX): {problems}"


def relayed_counts(env: MailEnv) -> Counter[str]:
    return Counter(str(r.message()["Message-ID"]).strip() for r in env.relayed())


def check_acks(bot: Bot, interrupted: set[int]) -> int:
    """Every case's acknowledgement went out once; more only for the rows that were
    `sending` at a kill (`interrupted`). Returns how many were sent twice."""
    relayed = relayed_counts(bot.env)
    with Session(bot.engine) as s:
        cases = s.exec(select(Case)).all()
        acks = s.exec(select(OutboxMail).where(col(OutboxMail.template).in_(ACK_TEMPLATES))).all()
    by_case = {a.case_ref: a for a in acks}
    missing = [
        c.ref for c in cases if c.ref not in by_case or relayed[by_case[c.ref].message_id] < 1
    ]
    assert not missing, f"cases never acknowledged: {missing}"
    twice = [a for a in acks if relayed[a.message_id] > 1]
    unexplained = [a.id for a in twice if a.id not in interrupted]
    assert not unexplained, (
        f"acknowledgements sent twice: {len(twice)}, of which {len(unexplained)} were not "
        f"`sending` at a kill ({unexplained}); rows `sending` at the kills: {len(interrupted)}"
    )
    return len(twice)


def check_case_numbers(bot: Bot, mails: list[tuple[str, bytes]]) -> None:
    """Per kind, the references are 1..n without a gap, in the order the mails arrived."""
    order = {mid: i for i, mid in enumerate(message_ids(mails))}
    with Session(bot.engine) as s:
        cases = s.exec(select(Case)).all()
    for kind in ("question", "subscription"):
        mine = sorted((c for c in cases if c.kind == kind), key=lambda c: c.ref)
        numbers = [int(c.ref.rsplit("-", 1)[1]) for c in mine]
        assert numbers == list(range(1, len(mine) + 1)), f"{kind}: gaps in {numbers}"
        arrival = [order[c.origin_message_id or ""] for c in mine]
        assert arrival == sorted(arrival), f"{kind}: references not in arrival order"


def kill_quietly(daemons: list[Daemon]) -> None:
    for daemon in daemons:
        with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
            if daemon.proc.poll() is None:
                daemon.kill()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
