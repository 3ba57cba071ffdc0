"""How failed sign-ins slow an attacker down without locking the owner out (pure, no I/O).

Two counters are kept for every attempt, and both must allow it:

- **Per identifier typed** (an account or not, so the answer reveals nothing): the first
  `FREE_FAILURES` wrong passwords cost nothing; each later one makes the next attempt wait
  `BASE_DELAY` doubled per failure, never more than `MAX_DELAY`. There is no lock: the owner
  waits one minute at worst, while a guesser gets at most 1,440 tries a day on an account
  (a password the policy accepts needs far more). The count is forgotten after `FORGET_AFTER`
  without a failure, and cleared by a successful sign-in or a password reset.
- **Per client address** (a whole town hall behind one NAT shares it): `ADDRESS_LIMIT` failures
  within one `ADDRESS_WINDOW` (counted from the window's first failure) block the address
  until `ADDRESS_WINDOW` after the failure that reached the limit. Normal use (a few typos per
  person) never reaches it; one machine trying many identifiers does.

The portal keeps these states in its database, the admin's desk in its process's memory.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

FREE_FAILURES = 5
BASE_DELAY = timedelta(seconds=1)
MAX_DELAY = timedelta(minutes=1)
FORGET_AFTER = timedelta(hours=24)
ADDRESS_LIMIT = 30
ADDRESS_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class ThrottleState:
    """The failures counted for one identifier or one address. `since` is the last failure for
    an identifier, the start of the current window for an address."""

    failures: int = 0
    since: datetime | None = None
    wait_until: datetime | None = None


def refused_until(state: ThrottleState | None, now: datetime) -> datetime | None:
    """The instant before which an attempt is refused without checking the password."""
    if state is None or state.wait_until is None or state.wait_until <= now:
        return None
    return state.wait_until


def identifier_delay(failures: int) -> timedelta:
    """The wait imposed after the `failures`-th failure in a row on one identifier."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(BASE_DELAY * (1 << min(failures - FREE_FAILURES, 20)), MAX_DELAY)


def identifier_failed(state: ThrottleState | None, now: datetime) -> ThrottleState:
    """The identifier's state after one more wrong password."""
    state = state or ThrottleState()
    last = state.since
    failures = 0 if last is None or now - last >= FORGET_AFTER else state.failures
    failures += 1
    delay = identifier_delay(failures)
    return ThrottleState(failures, now, now + delay if delay else None)


def address_failed(state: ThrottleState | None, now: datetime) -> ThrottleState:
    """The address's state after one more failure from it."""
    state = state or ThrottleState()
    start = state.since
    if start is None or now - start >= ADDRESS_WINDOW:
        state = ThrottleState(0, now)  # a new window
    failures = state.failures + 1
    if failures >= ADDRESS_LIMIT:
        return ThrottleState(0, None, now + ADDRESS_WINDOW)
    return replace(state, failures=failures)


def seconds_left(until: datetime, now: datetime) -> int:
    """Whole seconds to wait (at least one), for the page and the Retry-After header."""
    return max(1, -int(-(until - now).total_seconds() // 1))
