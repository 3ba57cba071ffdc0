"""The rooms of docs/architecture.md, checked: who may import whom, module sizes, and the
number of top-level modules in `mailbot/`. Imports inside functions count too."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("mailbot", "workflows", "storage", "portal_stub")
MAX_LINES = 400
MAX_TOP_LEVEL_MODULES = 12


def modules(package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        rel = path.relative_to(ROOT).with_suffix("")
        yield ".".join(p for p in rel.parts if p != "__init__"), path


def imported(path: Path) -> set[str]:
    """Every module name imported anywhere in the file (absolute imports only)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


ALL = [(name, path) for package in PACKAGES for name, path in modules(package)]


@pytest.mark.parametrize(("name", "path"), ALL, ids=[n for n, _ in ALL])
def test_imports_follow_the_rooms(name: str, path: Path) -> None:
    deps = imported(path)
    if under(name, "workflows"):
        assert not {d for d in deps if under(d, "mailbot", "storage", "portal_stub")}
    if under(name, "mailbot") and name != "mailbot.wiring":
        assert not {d for d in deps if under(d, "portal_stub")}, "only mailbot.wiring does"
    if under(name, "mailbot.loop", "mailbot.mail", "mailbot.annex", "mailbot.desk"):
        assert not {d for d in deps if under(d, "mailbot.dev", "mailbot.wiring")}
    if under(name, "mailbot.loop", "mailbot.mail", "mailbot.annex"):
        assert not {d for d in deps if under(d, "mailbot.desk", "mailbot.cli")}
    if under(name, "mailbot") and not under(name, "mailbot.dev", "mailbot.wiring", "mailbot.cli"):
        assert not {d for d in deps if under(d, "mailbot.dev")}
    if under(name, "portal_stub"):
        mailbot_deps = {d for d in deps if under(d, "mailbot")}
        allowed = {"mailbot.portal", "mailbot.config"}
        assert {d for d in mailbot_deps if not under(d, *allowed)} == set()
        # mailbot's own tables are mailbot's business
        forbidden = {"Case", "CaseEvent", "InboundMessage", "OutboxMail", "Timer"}
        assert not {d for d in deps if d in {f"storage.models.{t}" for t in forbidden}}
    if under(name, "storage"):
        assert not {d for d in deps if under(d, "mailbot", "workflows")}


@pytest.mark.parametrize(("name", "path"), ALL, ids=[n for n, _ in ALL])
def test_modules_stay_small(name: str, path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines < MAX_LINES, f"{name}: {lines} lines"


def test_mailbot_top_level_stays_small() -> None:
    top = [p for p in (ROOT / "mailbot").glob("*.py") if p.name not in ("__init__.py",)]
    assert len(top) <= MAX_TOP_LEVEL_MODULES, sorted(p.name for p in top)
