"""The warm annex sandbox, on the daemon's side: a small pool of long-lived worker processes
(`mailbot.annex.worker`) that read untrusted spreadsheets, so that no spreadsheet is ever parsed
in the daemon's process and no annex pays for a new interpreter and its imports.

- Workers are started with `subprocess` (`python -I -c …`, never `fork` of the threaded daemon)
  from one long-lived thread, because `PR_SET_PDEATHSIG` fires when the *thread* that started
  the child ends: the workers die with the daemon, even on `kill -9`. Their stdin is a pipe
  that only the daemon holds, so they also end at EOF when it closes.
- A job gets the worker's whole attention and a wall-clock deadline enforced here: past it, the
  worker is killed. Its memory and CPU limits are set by the worker around the job.
- A worker is replaced after a crash, a timeout, a limit breach, or `worker_max_jobs` jobs; its
  replacement is started in the background. With `workers = 0` each job gets a fresh child
  (the pre-pool behaviour).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import select
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from mailbot.annex.container import file_subject
from workflows.annex.rules import AnnexError

if TYPE_CHECKING:
    from mailbot.annex.reader import AnnexLimits

log = logging.getLogger(__name__)

READY = b"R"
REQUEST = struct.Struct("!II")  # header length, data length
ANSWER = struct.Struct("!I")  # answer length
_ROOT = Path(__file__).resolve().parents[2]  # holds the mailbot and workflows packages
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from mailbot.annex.worker import serve; raise SystemExit(serve(int(sys.argv[2])))"
)
_START_SECONDS = 60.0
_STDERR_KEPT = 4000


def unreadable_error(subject: str, english: str) -> AnnexError:
    return AnnexError(
        "unreadable",
        f"{subject} est illisible : sa lecture a échoué (fichier endommagé, trop volumineux ou "
        "mal formé). Merci de l'enregistrer à nouveau depuis votre tableur et de nous le "
        "renvoyer.",
        english,
    )


def timeout_error(subject: str, seconds: float) -> AnnexError:
    return AnnexError(
        "timeout",
        f"{subject} n'a pas pu être lu dans le temps imparti ({seconds:g} s) : il est trop "
        "volumineux ou mal formé. Merci de nous renvoyer le tableau enregistré à nouveau, une "
        "ligne par personne.",
        f"child timed out after {seconds} s",
    )


class WorkerDied(Exception):
    def __init__(self, returncode: int) -> None:
        super().__init__(f"child exited with {returncode}")
        self.returncode = returncode


class Worker:
    """One sandboxed child process and its pipes."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.jobs = 0
        self.stderr = b""
        self._stdin = cast(IO[bytes], proc.stdin).fileno()
        self._stdout = cast(IO[bytes], proc.stdout).fileno()
        self._stderr = cast(IO[bytes], proc.stderr).fileno()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @classmethod
    def start(cls) -> Worker:
        command = [sys.executable, "-I", "-c", _BOOTSTRAP, str(_ROOT), str(os.getpid())]
        proc = subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={"LC_ALL": "C.UTF-8", "PATH": os.defpath},
            bufsize=0,
        )
        worker = cls(proc)
        try:
            ready = worker._read(len(READY), time.monotonic() + _START_SECONDS)
        except (TimeoutError, WorkerDied) as exc:
            worker.kill()
            raise OSError(f"annex worker did not start: {exc}; {worker.stderr!r}") from exc
        if ready != READY:
            worker.kill()
            raise OSError(f"annex worker said {ready!r} instead of ready")
        return worker

    def _died(self) -> WorkerDied:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # closed its stdout but lives on: not ours to keep
            self.kill()
            code = self.proc.wait()
        return WorkerDied(code)

    def _read(self, size: int, deadline: float) -> bytes:
        """Exactly `size` bytes of stdout before the deadline, keeping the tail of stderr."""
        out = bytearray()
        poller = select.poll()
        poller.register(self._stdout, select.POLLIN)
        poller.register(self._stderr, select.POLLIN)
        while len(out) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            for fd, _ in poller.poll(remaining * 1000):
                chunk = os.read(fd, size - len(out) if fd == self._stdout else 65536)
                if fd == self._stderr:
                    if not chunk:
                        poller.unregister(fd)
                    self.stderr = (self.stderr + chunk)[-_STDERR_KEPT:]
                elif not chunk:
                    raise self._died()
                else:
                    out += chunk
        return bytes(out)

    def job(self, request: dict[str, Any], data: bytes, timeout: float) -> dict[str, Any]:
        """Send one job and wait for its answer; raises WorkerDied, TimeoutError, ValueError."""
        header = json.dumps(request).encode("utf-8")
        view = memoryview(REQUEST.pack(len(header), len(data)) + header + data)
        self.jobs += 1
        try:
            while view:
                view = view[os.write(self._stdin, view) :]
        except BrokenPipeError:
            raise self._died() from None
        deadline = time.monotonic() + timeout
        (size,) = ANSWER.unpack(self._read(ANSWER.size, deadline))
        answer = json.loads(self._read(size, deadline))
        if not isinstance(answer, dict):
            raise ValueError("not an object")
        return answer

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


class AnnexPool:
    """At most `limits.workers` workers; a caller waits for a free one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._idle: list[Worker] = []
        self._live = 0  # idle, busy and starting workers
        self._spawner: ThreadPoolExecutor | None = None

    def _submit_start(self) -> Any:
        with self._cond:
            if self._spawner is None:  # the one thread that starts every worker
                self._spawner = ThreadPoolExecutor(1, thread_name_prefix="annex-spawner")
            return self._spawner.submit(Worker.start)

    def warm(self, limits: AnnexLimits) -> None:
        """Start workers in the background up to the pool's size."""
        with self._cond:
            missing = max(limits.workers - self._live, 0)
            self._live += missing
        for _ in range(missing):
            self._submit_start().add_done_callback(self._started)

    def _started(self, future: Any) -> None:
        with self._cond:
            if future.exception() is not None:
                log.error("annex worker failed to start: %s", future.exception())
                self._live -= 1
            else:
                self._idle.append(future.result())
            self._cond.notify_all()

    def _checkout(self, limits: AnnexLimits) -> Worker:
        with self._cond:
            while True:
                while self._idle:
                    worker = self._idle.pop()
                    if worker.proc.poll() is None:
                        return worker
                    log.warning("annex worker %s died while idle", worker.pid)
                    worker.kill()
                    self._live -= 1
                if self._live < max(limits.workers, 1):
                    self._live += 1
                    break
                self._cond.wait()
        try:
            return cast(Worker, self._submit_start().result())
        except BaseException:
            with self._cond:
                self._live -= 1
                self._cond.notify_all()
            raise

    def _release(self, worker: Worker, keep: bool, limits: AnnexLimits) -> None:
        if worker.stderr:
            log.info(
                "annex worker %s said: %s", worker.pid, worker.stderr.decode("utf-8", "replace")
            )
            worker.stderr = b""
        with self._cond:
            if keep and limits.workers > 0 and worker.jobs < limits.worker_max_jobs:
                self._idle.append(worker)
                self._cond.notify_all()
                return
        worker.kill()
        with self._cond:
            self._live -= 1
            self._cond.notify_all()
        self.warm(limits)  # the replacement, in the background

    def run(self, request: dict[str, Any], data: bytes, limits: AnnexLimits) -> Any:
        """The worker's result for this job; a crash, a timeout or garbage is an AnnexError.
        OSError when no worker can be started (the machine's fault, not the file's)."""
        subject = file_subject(request.get("filename"))
        worker = self._checkout(limits)
        keep = False
        try:
            answer = worker.job(request, data, limits.timeout_seconds)
            keep = answer.get("recycle") is False
            return answer.get("result")
        except TimeoutError:
            raise timeout_error(subject, limits.timeout_seconds) from None
        except WorkerDied as died:
            tail = worker.stderr[-2000:].decode("utf-8", "replace")
            log.warning("annex worker exited with %s: %s", died.returncode, tail)
            raise unreadable_error(subject, str(died)) from None
        except ValueError as exc:
            raise unreadable_error(subject, "child wrote no JSON") from exc
        finally:
            self._release(worker, keep, limits)

    def pids(self) -> list[int]:
        """The idle workers' process ids (for tests and benchmarks)."""
        with self._cond:
            return [w.pid for w in self._idle]

    def close(self) -> None:
        """Stop the idle workers (busy ones end with their job's caller)."""
        with self._cond:
            idle, self._idle = self._idle, []
            self._live -= len(idle)
        for worker in idle:
            worker.kill()


_POOL = AnnexPool()
atexit.register(_POOL.close)


def annex_pool() -> AnnexPool:
    return _POOL
