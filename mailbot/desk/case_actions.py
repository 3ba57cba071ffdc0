"""What an admin does to a case, from the desk or from `mailbot cases …` (one path for both):
reassign it, or decide for a reviewer. A decision is the text a reviewer would have written
(« APPROUVER 1,3 », « REFUSER motif », an answer with its directives, « CORRIGER … »…), read by
the same parser into the same `ReviewerReply` (`mailbot.loop.events.admin_reply`) and decided
by the case's workflow through the same `Decider`: the hold, the previews and the
confirmations (mailed to the admin) are those of a reviewer's mail. The admin was
authenticated by the desk's sign-in or `--as`; every action adds a `desk_action` line with
`by=<admin>` to the log and the case's timeline."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from mailbot.config import Config
from mailbot.loop import cases
from mailbot.loop.context import build_context
from mailbot.loop.effects import Decider, Pending
from mailbot.loop.events import admin_reply
from mailbot.portal import Portal
from mailbot.wflog import WorkflowLog
from storage.db import session_scope
from storage.models import Case
from workflows import invitation_admin, invitation_notice
from workflows.core import CaseView, Context, Decision, LogLine
from workflows.reassign import reassign, refusal

SUBSCRIPTION_ACTIONS = ("approve", "refuse", "complete")
QUESTION_ACTIONS = ("answer", "publish", "cancel", "close", "correct", "withdraw")
# Actions of the desk's own (not a reviewer's command): decided by a pure function.
DESK_ACTIONS = ("reassign", "notify_bounce", "resend_invitation", "revoke_invitation")
ACTIONS = (*DESK_ACTIONS, *SUBSCRIPTION_ACTIONS, *QUESTION_ACTIONS)

# Log events that say the workflow did not do what was asked (the admin got a help mail).
NOT_DONE = frozenset({"review_help", "decision_ignored", "hold_refused", "answer_already_sent"})
PROBLEMS = {
    "missing_reason": "un refus demande un motif",
    "missing_text": "indiquez ce qui manque",
    "nothing_to_decide": "le dossier n’attend pas de décision",
    "unknown_command": "la décision n’a pas été comprise",
    "hold_over": "la réponse est déjà partie\u00a0: utilisez «\u00a0Corriger\u00a0»",
    "nothing_held": "aucune réponse n’est en attente",
    "empty_correction": "la correction est vide",
    "nothing_published": "aucune réponse n’est en ligne",
    "already_closed": "le dossier est déjà clos",
    "command_on_question": "une question attend une réponse rédigée",
    "unknown_group": "ce groupe n’existe pas",
}


class ActionRefused(Exception):
    """The action cannot be done; the message is French, for the admin."""


@dataclass
class Outcome:
    """What the workflow did: its log lines (event, fields), and whether the action was done
    (`problem`: why not, in French)."""

    ref: str
    action: str
    admin: str
    lines: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    problem: str | None = None

    @property
    def done(self) -> bool:
        return self.problem is None


def parse_people(value: str) -> tuple[int, ...]:
    """« 1,3 », « 1 et 3 », « 1 3 » → (1, 3); empty → () (everyone)."""
    numbers = [int(n) for n in re.findall(r"\d+", value)]
    if value.strip() and not numbers:
        raise ActionRefused("Indiquez les numéros des personnes, par exemple «\u00a01,3\u00a0».")
    return tuple(sorted(set(numbers)))


def reviewer_text(
    action: str,
    text: str = "",
    people: Sequence[int] = (),
    space: str | None = None,
    publish: bool = True,
) -> str:
    """The text a reviewer would have written for `action` (CONTRACTS.md, reviewer commands)."""
    body = text.strip()
    if action == "approve":
        return "APPROUVER " + ",".join(map(str, people)) if people else "APPROUVER"
    if action in ("refuse", "complete"):
        verb = "REFUSER" if action == "refuse" else "COMPLÉTER"
        if not body:
            raise ActionRefused(
                "Indiquez le motif du refus." if action == "refuse" else "Indiquez ce qui manque."
            )
        return f"{verb} {body}"
    if action == "answer":
        if not body:
            raise ActionRefused("La réponse est vide.")
        head = [f"ESPACE : {space.upper()}"] if space else []
        head += [] if publish else ["NE PAS PUBLIER"]
        return "\n".join([*head, "", body]) if head else body
    verbs = {
        "publish": "PUBLIER",
        "cancel": "ANNULER",
        "close": "CLASSER",
        "correct": "CORRIGER",
        "withdraw": "RETIRER",
    }
    if action == "correct" and not body:
        raise ActionRefused("La correction est vide.")
    return f"{verbs[action]}\n{body}" if body else verbs[action]


@dataclass
class CaseActions:
    """Acting on cases with mailbot's engine and portal (the desk's and the CLI's)."""

    config: Config
    engine: Engine
    portal: Portal
    secret: bytes
    wflog: WorkflowLog
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def run(self, ref: str, admin: str, action: str, **args: Any) -> Outcome:
        """Do `action` on case `ref` as `admin` (one transaction), then write the log."""
        if action not in ACTIONS:
            raise ActionRefused(f"Action inconnue : {action}.")
        admin = admin.strip().lower()
        if admin not in {a.lower() for a in self.config.admins.addresses}:
            raise ActionRefused(f"{admin} n’est pas un administrateur ([admins] addresses).")
        decider = Decider(self.config, self.portal, self.clock, self.secret)
        pending = Pending()
        now = self.clock()
        with session_scope(self.engine) as session:
            case = cases.get_case(session, ref, for_update=True)
            if case is None:
                raise ActionRefused(f"Le dossier {ref} n’existe pas.")
            _check_kind(case.kind, action)
            done = Decision(log=(LogLine("desk_action", {"action": action, "by": admin}),))
            if action in DESK_ACTIONS:
                decision = self._desk_decision(session, case, admin, now, decider, action, args)
                decider.apply(session, case, decision.then(done), pending)
            else:
                event = admin_reply(admin, reviewer_text(action, **args), case.kind)
                decider.decide(session, case, event, pending)
                decider.apply(session, case, done, pending)
        pending_lines = [(event, fields) for _ref, event, fields in pending.lines]
        pending.flush(self.wflog, now)
        return _outcome(ref, action, admin, pending_lines)

    def _desk_decision(
        self,
        session: Session,
        case: Case,
        admin: str,
        now: datetime,
        decider: Decider,
        action: str,
        args: dict[str, Any],
    ) -> Decision:
        ctx = build_context(
            self.config, session, self.portal, case.kind, None, case, now, decider.handles
        )
        view = cases.view(case)
        if action != "reassign":
            return _invitation_decision(view, ctx, admin, action, args)
        group, reviewer = args.get("group") or None, args.get("reviewer") or None
        reviewer = reviewer.strip().lower() if reviewer else None
        why = refusal(view, ctx, group, reviewer)
        if why is not None:
            raise ActionRefused(why)
        return reassign(view, ctx, admin, group, reviewer, args.get("note"))


def _invitation_decision(
    view: CaseView, ctx: Context, admin: str, action: str, args: dict[str, Any]
) -> Decision:
    email = str(args.get("person") or "").strip().lower()
    if action == "notify_bounce":
        why = invitation_notice.refusal(view, email)
    else:
        why = invitation_admin.refusal(view, email, action.removesuffix("_invitation"))
    if why is not None:
        raise ActionRefused(why)
    if action == "notify_bounce":
        return invitation_notice.tell_requester(view, ctx, admin, email)
    if action == "resend_invitation":
        return invitation_admin.resend(view, ctx, admin, email)
    return invitation_admin.revoke(view, admin, email)


def _check_kind(kind: str, action: str) -> None:
    if kind == "subscription" and action in QUESTION_ACTIONS:
        raise ActionRefused("Cette action ne concerne que les questions.")
    if kind == "question" and action in SUBSCRIPTION_ACTIONS:
        raise ActionRefused("Cette action ne concerne que les demandes d’abonnement.")


def _outcome(ref: str, action: str, admin: str, lines: list[tuple[str, dict[str, Any]]]) -> Outcome:
    outcome = Outcome(ref, action, admin, lines)
    for event, fields in lines:
        if event in NOT_DONE:
            code = str(fields.get("problem") or fields.get("reason") or event)
            outcome.problem = PROBLEMS.get(code, "le robot n’a pas pu appliquer cette décision")
    return outcome
