"""The portal boundary (CONTRACTS.md): the stand-in reaches mailbot only through
`mailbot.portal` (the protocol and the mailer interface) and `mailbot.config`."""

from __future__ import annotations

import ast
from pathlib import Path

PORTAL_STUB = Path(__file__).resolve().parent.parent / "portal_stub"
ALLOWED = {"mailbot.portal", "mailbot.config"}
# Being moved out of the stand-in (to mailbot) by another change: drop them from here then.
MOVING_OUT = {"notifications.py", "admin.py"}


def mailbot_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found |= {n for n in names if n == "mailbot" or n.startswith("mailbot.")}
    return found


def test_portal_stub_imports_only_the_boundary_modules_of_mailbot() -> None:
    files = sorted(p for p in PORTAL_STUB.glob("*.py") if p.name not in MOVING_OUT)
    assert len(files) > 5
    offending = {p.name: sorted(mailbot_imports(p) - ALLOWED) for p in files}
    assert {name: mods for name, mods in offending.items() if mods} == {}
