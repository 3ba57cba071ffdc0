"""Command groups of `mailbot` loaded only when they are run or listed: the portal stand-in
(Starlette, the portal's tables), the demo (the embedded mail system) and the annex readers
cost start-up that `mailbot inspect`, `status` or `run` do not need. `mailbot --help` lists
them without importing them: a group's line is its help below, a command's line the docstring
of its function, read from the module's source."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
from pathlib import Path
from typing import Any

import typer
from typer import _click as click  # the click that typer vendors and its groups expect
from typer.core import TyperCommand, TyperGroup

# name → (module, attribute, help); the attribute is a Typer app, a function returning one,
# or a command function (help "": its docstring).
LAZY: dict[str, tuple[str, str, str]] = {
    "annex": ("mailbot.annex.cli", "annex_app", "The subscription annex (spreadsheet)."),
    "portal": ("mailbot.wiring", "stand_in_cli", "The portal stand-in."),
    "demo": ("mailbot.dev.demo", "demo", ""),
    "health": ("mailbot.cli_admin", "health", ""),
    "quarantine": ("mailbot.cli_admin", "quarantine_app", "Mail set aside: list, delete."),
    "accounts": ("mailbot.cli_accounts", "accounts_app", "Portal accounts (admins)."),
    "cases": ("mailbot.desk.cli_cases", "cases_app", "Cases: list, show, act (admins)."),
    "export": ("mailbot.desk.cli_reports", "export", ""),
    "purge": ("mailbot.desk.cli_reports", "purge", ""),
    "jobs": (
        "mailbot.jobs_cli",
        "jobs_app",
        "Les tâches planifiées (récapitulatif quotidien…) : dernière et prochaine exécution.",
    ),
}


def _load(name: str) -> click.Command:
    module, attribute, help_text = LAZY[name]
    target: Any = getattr(importlib.import_module(module), attribute)
    if callable(target) and not isinstance(target, typer.Typer) and attribute.endswith("_cli"):
        target = target()
    if isinstance(target, typer.Typer):
        group = typer.Typer()
        group.add_typer(target, name=name, help=help_text)
        command = typer.main.get_group(group).commands[name]
    else:
        single = typer.Typer()
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    for sub in _subcommands(command):  # the group's own listing, as the root's (`_one_line`)
        _one_line(sub)
    return command


def _subcommands(command: click.Command) -> list[click.Command]:
    """Every command below `command`, however deep (its groups' commands)."""
    below = list(getattr(command, "commands", {}).values())
    return [c for sub in below for c in (sub, *_subcommands(sub))]


def _docstring(module: str, function: str) -> str | None:
    """The docstring of a top-level function of `module`, read from its source without
    importing it (as `inspect.getdoc` gives it); None when it cannot be read that way."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            return ast.get_docstring(node)
    return None


def _listed(name: str) -> click.Command:
    """What `--help` shows of a lazy command: its name and help, nothing imported. Falls back
    to the command itself when its help cannot be read from the source."""
    module, attribute, help_text = LAZY[name]
    if not help_text:
        doc = _docstring(module, attribute)
        if doc is None:
            return _load(name)
        help_text = doc
    return TyperCommand(name, help=help_text)


def _one_line(command: click.Command) -> click.Command:
    """The command with its listing line (`short_help`) made of its help's first paragraph on
    one line: typer's rich listing keeps a docstring's line breaks as they are in the source
    ("… 1 degraded,⏎ 2 down …"); the command's own `--help` is left as it is."""
    if command.short_help is None and command.help:
        first = inspect.cleandoc(command.help).split("\n\n")[0]
        command.short_help = " ".join(first.split())
    return command


class LazyGroup(TyperGroup):
    """The root group: the commands of `cli.py`, and the `LAZY` ones imported on demand."""

    _listing = False  # True while the help lists the commands

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in LAZY if n not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY and cmd_name not in self.commands:
            try:
                if self._listing:
                    return _one_line(_listed(cmd_name))
                self.commands[cmd_name] = _load(cmd_name)
            except ImportError:  # pragma: no cover - an optional part not installed
                return None
        command = super().get_command(ctx, cmd_name)
        return _one_line(command) if self._listing and command is not None else command
