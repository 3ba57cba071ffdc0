"""The relay's health, without a server: one line when delivery stops and one when it resumes
per outage, and probes paced by an exponential backoff bounded by the downtime."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from mailbot.loop.smtp_health import SmtpHealth

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def health(events: list[tuple[str, Mapping[str, Any]]]) -> SmtpHealth:
    return SmtpHealth(
        2, 300, listener=lambda e, f: events.append((e, dict(f))), rng=random.Random(7)
    )


def test_one_line_per_outage_with_its_downtime() -> None:
    events: list[tuple[str, Mapping[str, Any]]] = []
    h = health(events)
    assert h.may_connect(T0) and h.succeeded(T0) is None  # up: nothing to say
    for s in range(0, 40, 2):
        h.failed(T0 + timedelta(seconds=s), "refused")
    assert [e for e, _ in events] == ["smtp_down"]
    assert h.succeeded(T0 + timedelta(seconds=42)) == timedelta(seconds=42)
    assert events[-1] == ("smtp_up", {"downtime_seconds": 42.0, "failed_connections": 20})
    h.failed(T0 + timedelta(seconds=50), "timeout")
    h.succeeded(T0 + timedelta(seconds=51))
    assert [e for e, _ in events] == ["smtp_down", "smtp_up", "smtp_down", "smtp_up"]


def test_probes_start_at_the_base_and_stay_within_a_quarter_of_the_downtime() -> None:
    h = health([])
    now = T0
    h.failed(now, "refused")
    probes = []
    while now < T0 + timedelta(hours=2):
        wait = h.seconds_to_probe(now)
        assert not h.may_connect(now + timedelta(seconds=wait * 0.99 - 0.01))
        now += timedelta(seconds=wait)
        assert h.may_connect(now)  # the probe is due: one caller gets it...
        assert not h.may_connect(now)  # ...not two
        h.failed(now, "refused")
        probes.append(now)
    gaps = [(b - a).total_seconds() for a, b in pairwise(probes)]
    assert 1.5 <= (probes[0] - T0).total_seconds() <= 2
    assert max(gaps) <= 300
    assert all(
        g <= max(2.0, (p - T0).total_seconds() / 4) for g, p in zip(gaps, probes, strict=False)
    )
    assert len(probes) < 60  # two hours down: a probe every ~2 minutes on average, not every 2 s
