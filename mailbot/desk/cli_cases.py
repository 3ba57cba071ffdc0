"""`mailbot cases …`: the desk's « Dossiers » on the command line. `list` and `show` read
(`--json`: one JSON document on stdout); the acting commands take `--as ADDRESS`, one of
`[admins] addresses`, recorded in the log and the case's timeline, and go through the same
path as the desk (`mailbot.desk.case_actions`). Exit 0 done, 1 refused or not done (the
reason on stderr, in French), 2 usage or configuration error."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer

if TYPE_CHECKING:
    from mailbot.desk.case_actions import Outcome

cases_app = typer.Typer(
    help="Cases: list, show, and act on them as an admin.", no_args_is_help=True
)
ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Configuration file.")]
DEFAULT_CONFIG = Path("config.toml")
PARIS = ZoneInfo("Europe/Paris")
AsOpt = Annotated[str, typer.Option("--as", help="The admin who acts (one of [admins]).")]
RefArg = Annotated[str, typer.Argument(help="Case reference, e.g. Q-2026-000123.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]


def _default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _dump(document: Any) -> None:
    typer.echo(json.dumps(document, ensure_ascii=False, default=_default))


def _when(value: datetime | None) -> str:
    """Paris time, as the desk shows it (a naive value is UTC, as stored)."""
    if value is None:
        return "—"
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(PARIS).strftime("%Y-%m-%d %H:%M")


@cases_app.command("list")
def list_command(
    kind: Annotated[str, typer.Option(help="subscription or question")] = "",
    state: Annotated[str, typer.Option(help="A state, e.g. under_review, held")] = "",
    space: Annotated[str, typer.Option(help="accueil, desta or antai")] = "",
    reviewer: Annotated[str, typer.Option(help="Assigned to, or member of its group")] = "",
    overdue: Annotated[bool, typer.Option("--overdue", help="Only cases past due")] = False,
    search: Annotated[str, typer.Option("--search", "-q", help="Text search")] = "",
    config_path: ConfigOpt = DEFAULT_CONFIG,
    as_json: JsonOpt = False,
) -> None:
    """The cases, most recent first, with their state in French."""
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.cli import _engine, _load  # noqa: PLC0415
    from mailbot.desk.casebook import Filters, list_cases  # noqa: PLC0415
    from storage.db import session_scope  # noqa: PLC0415

    config = _load(config_path)
    filters = Filters(kind, state, space, reviewer, overdue, search)
    with session_scope(_engine(config)) as session:
        rows = list_cases(session, config, filters, datetime.now(UTC))
    if as_json:
        _dump({"cases": rows})
        return
    if not rows:
        typer.echo("Aucun dossier ne correspond.")
    for r in rows:
        late = "  EN RETARD" if r["overdue"] else ""
        typer.echo(
            f"{r['ref']:<16} {r['state_label']:<36} {_when(r['created_at'])}  "
            f"{r['requester']}  «\u00a0{r['subject'][:60]}\u00a0»{late}"
        )


@cases_app.command("show")
def show_command(
    ref: RefArg, config_path: ConfigOpt = DEFAULT_CONFIG, as_json: JsonOpt = False
) -> None:
    """One case: its timeline, its annex, its people and their accounts."""
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.cli import _engine, _load, build_ingest  # noqa: PLC0415
    from mailbot.desk.casebook import case_detail  # noqa: PLC0415
    from storage.db import session_scope  # noqa: PLC0415

    config = _load(config_path)
    engine = _engine(config)
    portal = build_ingest(config, engine).portal
    with session_scope(engine) as session:
        detail = case_detail(session, portal, ref.strip().upper(), datetime.now(UTC))
    if detail is None:
        typer.echo(f"Le dossier {ref} n’existe pas.", err=True)
        raise typer.Exit(1)
    if as_json:
        _dump(detail)
        return
    _print_detail(detail)


def _print_detail(d: dict[str, Any]) -> None:
    typer.echo(f"{d['ref']} — {d['kind_label']} — {d['state_label']}")
    typer.echo(f"Demandeur\u00a0: {d['requester']}  Objet\u00a0: «\u00a0{d['subject']}\u00a0»")
    typer.echo(f"Groupe : {d['group'] or '—'}  Relecteur : {d['assignee'] or '—'}")
    typer.echo("\nHistorique :")
    for item in d["timeline"]:
        who = f" — {item['who']}" if item["who"] else ""
        typer.echo(f"  {_when(item['at'])}  {item['title']}{who}")
        if item["type"] in ("in", "out"):
            for line in (item["text"] or "").strip().splitlines()[:40]:
                typer.echo(f"      | {line}")
        elif item["text"]:
            typer.echo(f"      {item['text']}")
    typer.echo("\nPersonnes :")
    for p in d["people"]:
        account = "compte : " + (", ".join(p["account"]["spaces"]) if p["account"] else "aucun")
        invitation = f"  invitation : {p['invitation']['status']}" if p["invitation"] else ""
        number = f"{p['number']}. " if p["number"] else ""
        typer.echo(f"  {number}{p['name'] or ''} <{p['email']}>  {account}{invitation}")


def _act(config_path: Path, ref: str, admin: str, action: str, **args: Any) -> None:
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.cli import _engine, _load, build_ingest  # noqa: PLC0415
    from mailbot.desk.case_actions import ActionRefused, CaseActions  # noqa: PLC0415

    config = _load(config_path)
    if admin.strip().lower() not in {a.lower() for a in config.admins.addresses}:
        typer.echo(f"--as {admin}\u00a0: ce n’est pas une adresse de [admins] addresses.", err=True)
        raise typer.Exit(2)
    engine = _engine(config)
    ingest = build_ingest(config, engine)
    actions = CaseActions(config, engine, ingest.portal, ingest.secret, ingest.wflog)
    try:
        outcome = actions.run(ref.strip().upper(), admin, action, **args)
    except ActionRefused as refused:
        typer.echo(str(refused), err=True)
        raise typer.Exit(1) from None
    _report(outcome)


def _report(outcome: Outcome) -> None:
    events = ", ".join(event for event, _fields in outcome.lines)
    if not outcome.done:
        typer.echo(f"{outcome.ref}\u00a0: rien n’a été fait ({outcome.problem}).", err=True)
        raise typer.Exit(1)
    typer.echo(f"{outcome.ref} : {outcome.action} fait par {outcome.admin} ({events}).")


@cases_app.command("reassign")
def reassign_command(
    ref: RefArg,
    admin: AsOpt,
    group: Annotated[str, typer.Option(help="Reviewer group (as configured)")] = "",
    reviewer: Annotated[str, typer.Option(help="One reviewer's address")] = "",
    note: Annotated[str, typer.Option(help="A note for the reviewers")] = "",
    config_path: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Give the case to another group, or to one reviewer (they are notified)."""
    _act(config_path, ref, admin, "reassign", group=group, reviewer=reviewer, note=note)


@cases_app.command("approve")
def approve_command(
    ref: RefArg,
    admin: AsOpt,
    people: Annotated[str, typer.Option(help="Only these people, e.g. «\u00a01,3\u00a0»")] = "",
    config_path: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """APPROUVER for the reviewer: everyone, or the people numbered."""
    # Imported here: keeps `mailbot --help` fast.
    from mailbot.desk.case_actions import ActionRefused, parse_people  # noqa: PLC0415

    try:
        numbers = parse_people(people)
    except ActionRefused as refused:
        typer.echo(str(refused), err=True)
        raise typer.Exit(2) from None
    _act(config_path, ref, admin, "approve", people=numbers)


TextArg = Annotated[str, typer.Argument(help="The text (reason, answer…).")]
OptionalText = Annotated[str, typer.Argument(help="An optional text.")]


@cases_app.command("refuse")
def refuse_command(
    ref: RefArg, reason: TextArg, admin: AsOpt, config_path: ConfigOpt = DEFAULT_CONFIG
) -> None:
    """REFUSER with a reason (the requester is told)."""
    _act(config_path, ref, admin, "refuse", text=reason)


@cases_app.command("complete")
def complete_command(
    ref: RefArg, text: TextArg, admin: AsOpt, config_path: ConfigOpt = DEFAULT_CONFIG
) -> None:
    """COMPLÉTER: ask the requester for what is missing."""
    _act(config_path, ref, admin, "complete", text=text)


@cases_app.command("answer")
def answer_command(
    ref: RefArg,
    text: TextArg,
    admin: AsOpt,
    space: Annotated[str, typer.Option(help="accueil, desta or antai")] = "",
    no_publish: Annotated[bool, typer.Option("--no-publish", help="NE PAS PUBLIER")] = False,
    config_path: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Answer a question for the reviewer: held, previewed to the admin, then sent."""
    _act(config_path, ref, admin, "answer", text=text, space=space or None, publish=not no_publish)


def _hold_command(action: str, doc: str) -> None:
    def command(
        ref: RefArg, admin: AsOpt, text: OptionalText = "", config_path: ConfigOpt = DEFAULT_CONFIG
    ) -> None:
        _act(config_path, ref, admin, action, text=text)

    command.__doc__ = doc
    cases_app.command(action)(command)


_hold_command("close", "CLASSER: close a question without an answer (optional message).")
_hold_command("correct", "CORRIGER: a new version of the answer (the asker is mailed).")
_hold_command("withdraw", "RETIRER: unpublish the answer (optional message to the asker).")
_hold_command("publish", "PUBLIER: send a held answer now.")
_hold_command("cancel", "ANNULER: cancel a held answer.")


@cases_app.command("notify-bounce")
def notify_bounce_command(
    ref: RefArg,
    person: Annotated[str, typer.Argument(help="The address whose invitation bounced.")],
    admin: AsOpt,
    config_path: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Tell the requester that this person's invitation could not be delivered."""
    _act(config_path, ref, admin, "notify_bounce", person=person)


@cases_app.command("resend-invitation")
def resend_invitation_command(
    ref: RefArg,
    person: Annotated[str, typer.Argument(help="The invited address.")],
    admin: AsOpt,
    config_path: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Send the invitation again, with a new temporary password (the old one stops working)."""
    _act(config_path, ref, admin, "resend_invitation", person=person)


@cases_app.command("revoke-invitation")
def revoke_invitation_command(
    ref: RefArg,
    person: Annotated[str, typer.Argument(help="The invited address.")],
    admin: AsOpt,
    config_path: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Revoke a pending invitation: its temporary password no longer opens the portal."""
    _act(config_path, ref, admin, "revoke_invitation", person=person)
