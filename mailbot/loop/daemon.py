"""The daemon loop: drain the INBOX, the outbox and the due timers, then wait for new mail.

    journal (a few mails per commit) → process (one transaction: fate + decision) → MOVE

A crash anywhere leaves the message in the INBOX; seen again, the journal recognises it (by
its bytes) and it is only moved (invariant 2). The connection is re-opened with exponential
backoff when the server drops it. A database fault anywhere in a turn is waited out
(`mailbot.loop.outage`): the turn is tried again with backoff on a fresh connection pool.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine, update
from sqlmodel import col, select

from mailbot.annex.pool import annex_pool
from mailbot.config import Config
from mailbot.loop import smtp_pool
from mailbot.loop.delivery import DeliveryReport, deliver_pending
from mailbot.loop.faults import InfrastructureDown, is_database_fault
from mailbot.loop.ingest import Ingest, Outcome
from mailbot.loop.jobs import JobRunner, recurring_jobs
from mailbot.loop.journal import JOURNAL_GROUP
from mailbot.loop.lease import Lease, LeaseLost, record_poll
from mailbot.loop.mailbox import CONNECTION_ERRORS, Mailbox
from mailbot.loop.outage import Outage
from mailbot.loop.quarantine import discard_requested
from mailbot.loop.sender import DOWN_TICK_SECONDS, IDLE_SECONDS, OutboxSender
from mailbot.loop.sending import seconds_to_next_due
from mailbot.loop.smtp_health import SmtpHealth
from storage.db import session_scope
from storage.models import InboundMessage

log = logging.getLogger(__name__)

# Fault injection for the crash-safety tests: MAILBOT_FAULT=after_commit_before_move makes the
# process die right after a message's decision is committed and before its MOVE;
# MAILBOT_FAULT=after_claim_before_send right after an outbox row is claimed `sending`.
FAULT_ENV = "MAILBOT_FAULT"
# Committed messages MOVEd together (the size of a FETCH batch).
MOVE_BATCH = 50


def _fault(point: str) -> None:
    if os.environ.get(FAULT_ENV) == point:
        log.error("fault injection: exiting at %s", point)
        os._exit(70)


class Daemon:
    def __init__(
        self,
        config: Config,
        engine: Engine,
        ingest: Ingest,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.engine = engine
        self.ingest = ingest
        self.clock = clock
        self.mailbox = Mailbox(config)
        self.stop_event = threading.Event()
        self.fetched = threading.Event()  # the first turn is done (start-up work waits for it)
        self.outage = Outage(config)
        self.unmarked: set[int] = set()
        self.lease = Lease(engine, config.lease)
        self.smtp_health = SmtpHealth(
            config.smtp.connect_backoff_base_seconds,
            config.smtp.connect_backoff_max_seconds,
            listener=lambda event, fields: ingest.wflog.write(None, event, fields, self.clock()),
        )
        self.jobs = JobRunner(
            engine, recurring_jobs(config, ingest.portal), ingest.wflog, lambda: self.clock()
        )
        self._draining = threading.Lock()
        self.sender = OutboxSender(self._sender_drain, self.outbox_wait, self.stop_event)
        # The sender woken after each decision (run --once starts one of its own).
        self.active_sender = self.sender
        self.background = DeliveryReport()  # what sender threads delivered

    # ------------------------------------------------------------------ steps

    def fate_folder(self, fate: str) -> str:
        folders = self.config.mailbox.folders
        return {"processed": folders.processed, "ignored": folders.ignored}.get(
            fate, folders.quarantine
        )

    def drain_inbox(self) -> list[Outcome]:
        """Messages journaled a group at a time (`loop/journal.py`), each decided and committed,
        then MOVEd a batch at a time (one UID MOVE per fate folder, one journal update)."""
        outcomes = []
        mb = self.mailbox
        uids = mb.inbox_uids()
        to_move: dict[str, list[int]] = {}
        committed: list[int] = []
        for group in self.ingest.prefetch.groups(mb.fetch(uids), JOURNAL_GROUP):
            self.lease.check()  # a process that lost the lease fetches and moves nothing more
            journaled = self.ingest.journal_many([(raw, mb.uidvalidity, uid) for uid, raw in group])
            for (uid, _raw), (journal_id, final) in zip(group, journaled, strict=True):
                self.lease.check()
                if final:
                    outcome = self._fate_of(journal_id)
                    log.info("uid %s already processed (%s): moving only", uid, outcome.fate)
                else:
                    outcome = self.ingest.process(journal_id)
                self.active_sender.wake()  # its mail leaves while the next message is read
                _fault("after_commit_before_move")
                to_move.setdefault(self.fate_folder(outcome.fate), []).append(uid)
                committed.append(journal_id)
                outcomes.append(outcome)
                if len(committed) >= MOVE_BATCH:
                    self._move_batch(to_move, committed)
        self._move_batch(to_move, committed)
        return outcomes

    def _move_batch(self, to_move: dict[str, list[int]], committed: list[int]) -> None:
        """MOVE the committed messages to their folders, then note it in the journal."""
        for folder, uids in to_move.items():
            self.mailbox.move_many(uids, folder)
        self.unmarked.update(committed)
        to_move.clear()
        committed.clear()
        if self.unmarked:
            self._mark_moved()

    def _fate_of(self, journal_id: int) -> Outcome:
        with session_scope(self.engine) as session:
            row = session.get(InboundMessage, journal_id)
            assert row is not None
            return Outcome(row.fate, row.kind, row.rule, row.case_ref)

    def _mark_moved(self, journal_id: int | None = None) -> None:
        """Note the MOVE in the journal; kept in memory until written (a database fault
        between the MOVE and this write must not leave the row unmarked)."""
        if journal_id is not None:
            self.unmarked.add(journal_id)
        with session_scope(self.engine) as session:  # one UPDATE: the rows are not loaded
            marked = col(InboundMessage.id).in_(sorted(self.unmarked))
            session.execute(update(InboundMessage).where(marked).values(moved=True))
        self.unmarked.clear()

    def replay_requested(self) -> list[Outcome]:
        """Journal rows an admin asked to replay (the portal's admin view sets fate=replay)."""
        with session_scope(self.engine) as session:
            ids = [
                int(r.id)
                for r in session.exec(
                    select(InboundMessage).where(InboundMessage.fate == "replay")
                ).all()
                if r.id is not None
            ]
        return self.replay(ids)

    def discard_requested(self) -> list[int]:
        """Quarantined mail an admin deleted after review (`mailbot.loop.quarantine`)."""
        copy = self.mailbox.discard if self.mailbox.client is not None else None
        return discard_requested(self.engine, self.config, copy, self.ingest.wflog, self.clock())

    def replay(self, ids: list[int], *, force: bool = False) -> list[Outcome]:
        """Run journal entries again; a message that now succeeds leaves the Quarantine folder
        for the folder of its new fate (when the mailbox is connected)."""
        outcomes = []
        for journal_id in ids:
            outcome = replay(self.engine, self.ingest, journal_id, force=force)
            outcomes.append(outcome)
            if outcome.fate == "quarantined" or self.mailbox.client is None:
                continue
            with session_scope(self.engine) as session:
                row = session.get(InboundMessage, journal_id)
                message_id = row.message_id if row is not None else None
            if message_id:
                quarantine = self.config.mailbox.folders.quarantine
                self.mailbox.refile(quarantine, message_id, self.fate_folder(outcome.fate))
        return outcomes

    def drain_outbox(self) -> DeliveryReport:
        """Send what is due (nothing when another thread of this process is already at it)."""
        if not self._draining.acquire(blocking=False):
            return DeliveryReport()
        kept = smtp_pool.current()  # the sender thread's loop and connections
        try:
            sending = deliver_pending(
                self.engine,
                self.config,
                now=self.clock,
                on_failure=self.ingest.on_delivery_failure,
                health=self.smtp_health,
                on_claimed=lambda _row: _fault("after_claim_before_send"),
                pool=kept.pool if kept is not None else None,
            )
            return kept.run(sending) if kept is not None else asyncio.run(sending)
        finally:
            self._draining.release()

    def _sender_drain(self) -> None:
        """The sender thread's drain: only while this process holds the lease, and a database
        fault is the outage's to report (the main loop waits it out), not a traceback."""
        if not self.lease.active:
            return
        try:
            report = self.drain_outbox()
        except Exception as err:
            if not is_database_fault(err):
                raise
            self.outage.noticed(err)
            return
        self.background.sent += report.sent
        self.background.retried += report.retried
        self.background.failed += report.failed

    def outbox_wait(self) -> float:
        """Seconds the outbox sender may sleep: until a row is due or a lease runs out, and
        while the relay is down until its next probe (looked at every second)."""
        now = self.clock()
        due = seconds_to_next_due(self.engine, now)
        if due is None:
            return IDLE_SECONDS
        if self.smtp_health.down:
            due = max(due, self.smtp_health.seconds_to_probe(now))
            return min(due, DOWN_TICK_SECONDS)
        return min(due, IDLE_SECONDS)

    def run_once(self) -> dict[str, int]:
        """Drain the mailbox, the due timers and jobs, and the outbox, then return (`run --once`).
        Another active instance raises `InstanceBusy`; a database fault raises
        `InfrastructureDown` (one line; the mail stays in the INBOX)."""
        try:
            self.lease.acquire_or_raise()  # InstanceBusy when another instance is active
            try:
                return self._run_once()
            finally:
                self.lease.release()
        except Exception as err:
            if not is_database_fault(err):
                raise
            self.engine.dispose()
            raise InfrastructureDown(err) from None

    def _run_once(self) -> dict[str, int]:
        """The outbox is delivered by a sender thread while mail is ingested; the last drain
        here sends what is left and returns when its last mail is accepted."""
        annex_pool().warm(self.ingest.annex_limits)  # workers start while IMAP connects
        done = threading.Event()
        self.background = DeliveryReport()
        self.active_sender = OutboxSender(self._sender_drain, self.outbox_wait, done)
        self.active_sender.start()
        try:
            self.mailbox.connect()
            try:
                outcomes = self.drain_inbox()
                record_poll(self.engine, self.lease.holder)
                replays = self.replay_requested()
                self.discard_requested()
            finally:
                self.mailbox.close()
            fired = self.ingest.sweep_timers()
            self.ingest.sweep_quarantine_alerts()
            jobs = self.jobs.run_due()
            operations = self.ingest.run_portal_operations()
        finally:
            done.set()
            self.active_sender.join()
            self.active_sender = self.sender
        report = self.drain_outbox()
        return {
            "messages": len(outcomes),
            "replayed": len(replays),
            "timers": fired,
            "jobs": len(jobs),
            "portal": operations.done,
            "sent": report.sent + self.background.sent,
            "retried": report.retried + self.background.retried,
            "failed": report.failed + self.background.failed,
        }

    # ------------------------------------------------------------------ forever

    def turn(self) -> None:
        """One pass over everything due: the INBOX, replay requests, timers, recurring jobs
        (the digest), portal operations and the outbox. A process that lost the lease does none
        of it."""
        self.lease.check()
        if self.unmarked:
            self._mark_moved()
        self.drain_inbox()
        record_poll(self.engine, self.lease.holder)
        self.replay_requested()
        self.discard_requested()
        self.ingest.sweep_timers()
        self.ingest.sweep_quarantine_alerts()
        self.jobs.run_due()
        self.ingest.run_portal_operations()
        self.drain_outbox()

    def guarded_turn(self) -> float | None:
        """A turn; on a database fault, the seconds to wait before the next one."""
        try:
            self.turn()
        except Exception as err:
            if not is_database_fault(err):
                raise
            self.engine.dispose()  # the next turn reconnects (pool_pre_ping checks it)
            return self.outage.fault(err)
        self.outage.healthy()
        return None

    def run_forever(self) -> None:
        self.sender.start()
        backoff = 1.0
        cfg = self.config.mailbox
        while self.lease.wait_active(self.stop_event):  # standby until this one may act
            try:
                self.mailbox.connect()
                log.info("connected to %s:%s as %s", cfg.host, cfg.port, cfg.user)
                annex_pool().warm(self.ingest.annex_limits)  # after the connection (start-up)
                backoff = 1.0
                while not self.stop_event.is_set():
                    delay = self.guarded_turn()
                    self.fetched.set()
                    if delay is not None:
                        self.stop_event.wait(delay)
                    elif self.mailbox.cfg.idle and self.mailbox.has_idle:
                        # Re-issued well before the 29 minutes of RFC 2177 §3, and sooner when
                        # timers or the outbox need a turn.
                        self.mailbox.wait(min(cfg.idle_renew_seconds, 30), self.stop_event.is_set)
                    else:
                        self.mailbox.wait(cfg.poll_interval_seconds, self.stop_event.is_set)
            except LeaseLost as err:
                log.warning("%s: standing by again", err)
                self.mailbox.close()
                self.mailbox.client = None
            except CONNECTION_ERRORS as err:
                log.warning("mailbox connection lost (%s); retrying in %.0f s", err, backoff)
                self.mailbox.close()
                self.mailbox.client = None
                if self.stop_event.wait(backoff):
                    break
                backoff = min(backoff * 2, cfg.reconnect_max_seconds)
        self.mailbox.close()
        self.lease.release()
        self.sender.join()

    def stop(self) -> None:
        self.stop_event.set()
        self.sender.wake()

    def when_active(self, job: Callable[[], object]) -> Callable[[], None]:
        """A scheduler job that runs only while this process holds the lease."""

        def run() -> None:
            if self.lease.active:
                job()

        return run


class AlreadyProcessed(LookupError):
    """A processed mail is replayed only when forced (and even then effects keep their keys:
    nothing is sent twice, no second case is opened)."""


def replay(engine: Engine, ingest: Ingest, journal_id: int, *, force: bool = False) -> Outcome:
    """Run a journaled message again (after a fix): its fate is reset, then processed."""
    with session_scope(engine) as session:
        row = session.get(InboundMessage, journal_id)
        if row is None:
            raise LookupError(f"aucun courriel n° {journal_id} dans le journal")
        if row.fate in ("delete", "deleted"):  # its bytes are gone (an admin's deletion)
            raise LookupError(f"le courriel n° {journal_id} a été supprimé après examen")
        if row.fate == "processed" and not force:
            raise AlreadyProcessed(
                f"le courriel n° {journal_id} a déjà été traité "
                f"({row.case_ref or 'sans dossier'}) : pour le rejouer, ajoutez --force"
            )
        row.fate = "replay"  # kept until processed: a fault meanwhile leaves the request
        row.replays += 1
        session.add(row)
    ingest.wflog.write(None, "replay", {"journal": journal_id})
    return ingest.process(journal_id)


def quarantined_ids(engine: Engine) -> list[int]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(InboundMessage)
            .where(InboundMessage.fate == "quarantined")
            .order_by(col(InboundMessage.id))
        ).all()
        return [int(r.id) for r in rows if r.id is not None]
