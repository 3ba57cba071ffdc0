"""`mailbot run`'s scheduler: timers and outbox retries; the daily digest is a recurring job."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mailbot.cli import build_ingest
from mailbot.config import load_config
from mailbot.dev.embedded import demo_users
from mailbot.loop import triage_model
from mailbot.loop.daemon import Daemon
from mailbot.loop.scheduler import start_scheduler
from storage.db import make_engine
from storage.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent


def test_scheduler_runs_timers_and_outbox_and_the_daemon_knows_the_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILBOT_SECRET", "scheduler-test-secret-0123456789")
    text = (
        (ROOT / "config.toml")
        .read_text(encoding="utf-8")
        .replace('url = "sqlite:///var/mailbot.db"', f'url = "sqlite:///{tmp_path}/m.db"')
        .replace('file = "var/log/workflow.log"', f'file = "{tmp_path}/w.log"')
    )
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    config = load_config(tmp_path / "config.toml")
    upgrade(config.database.url)
    engine = make_engine(config.database.url)
    daemon = Daemon(config, engine, build_ingest(config, engine))
    scheduler = start_scheduler(config, daemon)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"timers", "portal", "outbox", "triage_model"}  # no digest here
        assert "hour='6', minute='30'" in str(jobs["triage_model"].trigger)
        time.sleep(0.5)  # the start-up run waits for the daemon's first turn (start-up)
        assert str(engine.url) not in triage_model._models
        daemon.fetched.set()  # what the daemon's loop does after its first turn
        deadline = time.monotonic() + 10
        while str(engine.url) not in triage_model._models and time.monotonic() < deadline:
            time.sleep(0.05)  # the start-up run, in the scheduler's thread
        model = triage_model._models.get(str(engine.url))
        assert model is not None and set(model.labels) == {
            "accueil",
            "desta",
            "antai",
            "out_of_scope",
        }
        # recurring jobs of the daemon's turns
        by_name = {job["name"]: job for job in daemon.jobs.report()}
        assert set(by_name) == {"digest", "weekly_summary", "purge"}
        assert "7 h 00" in by_name["digest"]["schedule"]
        assert "lundi" in by_name["weekly_summary"]["schedule"]
        assert (
            jobs["timers"].trigger.interval.total_seconds() == config.timers.sweep_interval_seconds
        )
    finally:
        scheduler.shutdown(wait=False)
        engine.dispose()


def test_demo_mailboxes_cover_every_role() -> None:
    config = load_config(ROOT / "config.toml")
    users = demo_users(config)
    assert config.instance.generic_address in users
    assert all(m in users for g in config.reviewers.groups.values() for m in g.members)
    assert all(a in users for a in config.admins.addresses)
    assert {"mairie@demo.test", "prestataire@demo.test"} <= set(users)
