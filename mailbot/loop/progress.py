"""A progress bar for long CLI commands (replaying many mails, exports, purges, imports).

`Progress(label, total, quiet=as_json)` shows a rich bar on a terminal and nothing otherwise:
not with `--json` (`quiet=True`), not when stdout is not a terminal (a pipe, a file, cron), not
with `TERM=dumb`. Lines a command prints while it runs go through `Progress.echo`, which writes
them above the bar when it is shown and plainly otherwise, so output stays the same in a pipe.

    with Progress("Relecture des courriels", len(ids), quiet=as_json) as bar:
        for journal_id in ids:
            ...
            bar.echo(f"{journal_id}: processed")
            bar.advance()
"""

from __future__ import annotations

import os
import sys
from types import TracebackType
from typing import IO

from rich import progress as rich_progress
from rich.console import Console

MIN_ITEMS = 2  # a single item needs no bar


def shows_progress(quiet: bool = False, stream: IO[str] | None = None) -> bool:
    """Whether a bar would be drawn: a terminal on stdout, not `quiet`, not `TERM=dumb`."""
    out = stream or sys.stdout
    isatty = getattr(out, "isatty", None)
    tty = bool(isatty and isatty())
    return tty and not quiet and os.environ.get("TERM", "") != "dumb"


class Progress:
    def __init__(
        self, label: str, total: int, *, quiet: bool = False, stream: IO[str] | None = None
    ) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self.enabled = total >= MIN_ITEMS and shows_progress(quiet, stream)
        self._bar: rich_progress.Progress | None = None
        self._task: rich_progress.TaskID | None = None

    def __enter__(self) -> Progress:
        if self.enabled:
            console = Console(file=self.stream or sys.stdout)
            self._bar = rich_progress.Progress(
                rich_progress.TextColumn("{task.description}"),
                rich_progress.BarColumn(),
                rich_progress.MofNCompleteColumn(),
                rich_progress.TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def advance(self, steps: int = 1) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, steps)

    def echo(self, line: str, *, err: bool = False) -> None:
        """Print a line of the command's own output: above the bar when it is shown (errors
        too: a second stream would break the bar), else on stdout, or stderr with `err`."""
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
            return
        target = sys.stderr if err else (self.stream or sys.stdout)
        print(line, file=target, flush=True)
