"""Start-up of the one-shot commands: wall time of `mailbot --help`, `mailbot inspect FILE
--json`, `mailbot status` and `mailbot health` (median of several runs; hyperfine is not
installed here). `health` logs in to the bench's Dovecot and greets its relay: its time
includes both round trips."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAIL = ROOT / "tests" / "fixtures" / "mail" / "apple_mail_intent.eml"


def _median(command: list[str], cwd: Path, env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)  # noqa: S603
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def startup(config: Path, env: dict[str, str], runs: int = 7) -> None:
    mailbot = [sys.executable, "-m", "mailbot"]
    commands = {
        "mailbot --help": [*mailbot, "--help"],
        "mailbot inspect FILE --json": [*mailbot, "inspect", str(MAIL), "--json"],
        "mailbot status": [*mailbot, "status", "--config", str(config)],
        "mailbot health": [*mailbot, "health", "--config", str(config)],
        "python -c pass (interpreter alone)": [sys.executable, "-c", "pass"],
    }
    print(f"## Start-up (median of {runs})")
    print("| command | seconds |")
    print("|---|---|")
    for name, command in commands.items():
        print(f"| `{name}` | {_median(command, config.parent, env, runs):.2f} |", flush=True)
