"""glibc's allocator in the long-running daemon (issue 13: peak memory).

glibc gives each new thread an allocation arena of its own, up to eight per core. Memory freed
in one arena is never reused by another thread's allocations, and the daemon runs about ten
threads: the sender and its SMTP lanes, the annex prefetch, the scheduler. During a drain of
8,000 mails, the free space scattered over these arenas grew to 16 MB while the memory in use
stayed near 25 MB (`mallinfo2`, docs/benchmarks.md, "Issue 13, seventh pass").

Two arenas are enough for a process whose threads mostly wait on sockets and SQLite; the
interpreter's lock serialises the rest. This is the setting that glibc reads from
`MALLOC_ARENA_MAX` at start-up: an operator who sets that variable keeps their value.
"""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8  # glibc's <malloc.h>
DAEMON_ARENAS = 2


def limit_arenas(count: int = DAEMON_ARENAS) -> bool:
    """Cap glibc's arenas at `count` for the threads started from now on. True when the cap
    was set; False on another C library or when `MALLOC_ARENA_MAX` is set already."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    return bool(mallopt(M_ARENA_MAX, count))
