"""The annex worker: a long-lived child process that reads untrusted spreadsheets, one job at a
time, for the daemon (`mailbot.annex.pool` starts and recycles it).

It imports openpyxl, python-calamine and defusedxml once, tells the kernel to kill it when the
thread that started it dies (`PR_SET_PDEATHSIG`), says it is ready, then serves jobs from its
stdin until EOF (the daemon closed the pipe, or died). Each job runs under its own address-space
and CPU limits (`resource.setrlimit`), lifted again between jobs; the parent enforces the
wall-clock timeout. A memory breach asks the parent to recycle the worker; any crash (SIGABRT
from a Rust allocation failure, SIGXCPU) only ends this process.

Framing on the pipes: a request is `!II` (header length, data length), the JSON header, the
bytes; an answer is `!I` (length) and a JSON object `{"result": …, "recycle": bool}`. A request
with `"values_copy": true` also gets the reviewers' values-only workbook
(`mailbot.annex.safecopy`), base64, under the result's `values_copy` key. The ready
signal is the single byte `READY`.
"""

from __future__ import annotations

import base64
import ctypes
import json
import math
import os
import resource
import signal
import sys
from dataclasses import fields
from typing import Any, BinaryIO

# Imported once per worker so that a job does not pay for them: this module only ever runs in
# the sandboxed child, never in the daemon.
import defusedxml  # noqa: F401
import email_validator  # noqa: F401 - the rules import it when first used
import openpyxl  # noqa: F401
import phonenumbers  # noqa: F401 - the rules import it when first used
import python_calamine  # noqa: F401

from mailbot.annex.container import file_subject
from mailbot.annex.pool import ANSWER, READY, REQUEST
from mailbot.annex.reader import AnnexLimits, memory_error, read_and_validate, result_skeleton
from mailbot.annex.safecopy import values_only_xlsx
from mailbot.annex.template import build_template

_PR_SET_PDEATHSIG = 1


# A worker that holds more than this after a job (a large table leaves the heap grown, and
# CPython rarely gives it back) is replaced, so the daemon's tree keeps a flat footprint.
RECYCLE_RSS_BYTES = 150 * 1024 * 1024
_KEPT: list[bytearray] = []  # the "bloat" fault's allocation, kept as a fragmented heap would


def resident_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def die_with_parent(parent_pid: int) -> None:
    """SIGKILL when the parent's spawning thread ends; exit at once if it is already gone."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(0)


def _read_exact(stream: BinaryIO, size: int) -> bytes | None:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _set_soft(kind: int, soft: int) -> None:
    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        soft = hard if soft == resource.RLIM_INFINITY else min(soft, hard)
    resource.setrlimit(kind, (soft, hard))


def _inject(fault: str | None, limits: AnnexLimits) -> None:
    """Test-only misbehaviour on request ("abort", "hang", "memory", "bloat")."""
    if fault == "abort":
        os.abort()
    if fault == "hang":
        while True:
            pass
    if fault == "memory":
        bytearray(limits.memory_mb * 2 * 1024 * 1024)
    if fault == "bloat":
        _KEPT.append(bytearray(RECYCLE_RSS_BYTES))


def run_job(request: dict[str, Any], data: bytes) -> tuple[dict[str, Any], bool]:
    """One job under its own limits; returns the contract's object and whether the worker
    must be recycled (a limit breached, or too much memory kept after the job). The job
    `blank_template` writes the official blank annex instead (`mailbot.annex.template`)."""
    if request.get("job") == "blank_template":
        return {"template": base64.b64encode(build_template()).decode("ascii")}, False
    known = {f.name for f in fields(AnnexLimits)}
    limits = AnnexLimits(**{k: v for k, v in request["limits"].items() if k in known})
    fmt, filename = request["format"], request["filename"]
    _set_soft(resource.RLIMIT_CPU, math.ceil(_cpu_seconds() + limits.timeout_seconds) + 1)
    _set_soft(resource.RLIMIT_AS, limits.memory_mb * 1024 * 1024)
    try:
        _inject(request.get("fault"), limits)
        result = read_and_validate(data, fmt, filename, limits)
        if request.get("values_copy") and result.get("rows"):
            # the reviewers' copy, written here with the openpyxl this process already holds
            copy = values_only_xlsx(result["rows"])
            result["values_copy"] = base64.b64encode(copy).decode("ascii")
        return result, resident_bytes() > RECYCLE_RSS_BYTES
    except MemoryError:
        result = result_skeleton(fmt)
        result["error"] = memory_error(file_subject(filename), limits)
        return result, True
    finally:
        _set_soft(resource.RLIMIT_AS, resource.RLIM_INFINITY)
        _set_soft(resource.RLIMIT_CPU, resource.RLIM_INFINITY)


def serve(parent_pid: int) -> int:
    """The worker's loop: ready, then one answer per request until EOF."""
    die_with_parent(parent_pid)
    _set_soft(resource.RLIMIT_CORE, 0)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    stdout.write(READY)
    stdout.flush()
    while True:
        head = _read_exact(stdin, REQUEST.size)
        if head is None:
            return 0
        header_size, data_size = REQUEST.unpack(head)
        header, data = _read_exact(stdin, header_size), _read_exact(stdin, data_size)
        if header is None or data is None:
            return 0
        result, breach = run_job(json.loads(header), data)
        answer = json.dumps({"result": result, "recycle": breach}, ensure_ascii=False)
        payload = answer.encode("utf-8")
        stdout.write(ANSWER.pack(len(payload)) + payload)
        stdout.flush()
