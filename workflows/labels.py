"""The French words the admins read for what the code names in English: the states of both
workflows and the kinds of case (one mapping, shown by the desk and `mailbot cases`)."""

from __future__ import annotations

from workflows.states import CaseKind, QuestionState, SubscriptionState

KIND_LABELS: dict[str, str] = {
    CaseKind.SUBSCRIPTION: "Abonnement",
    CaseKind.QUESTION: "Question",
}

SUBSCRIPTION_LABELS: dict[SubscriptionState, str] = {
    SubscriptionState.NEW: "Nouveau",
    SubscriptionState.RECEIVED: "Reçu",
    SubscriptionState.INCOMPLETE: "Tableau attendu",
    SubscriptionState.UNDER_REVIEW: "En attente de relecture",
    SubscriptionState.NEEDS_INFO: "Pièces demandées",
    SubscriptionState.APPROVED: "Approuvé, comptes en création",
    SubscriptionState.INVITED: "Invitations envoyées",
    SubscriptionState.REFUSED: "Refusé",
    SubscriptionState.CLOSED: "Clos",
}

QUESTION_LABELS: dict[QuestionState, str] = {
    QuestionState.NEW: "Nouvelle",
    QuestionState.RECEIVED: "Reçue",
    QuestionState.OPEN: "En attente de réponse",
    QuestionState.HELD: "Réponse en attente de publication",
    QuestionState.PUBLISHING: "Réponse en cours de publication",
    QuestionState.ANSWERED: "Répondu, clos",
}


def state_label(kind: str, state: str) -> str:
    """The French label of a stored state (the raw value when it is unknown)."""
    table: dict[str, str] = {}
    if kind == CaseKind.SUBSCRIPTION:
        table = {m.value: label for m, label in SUBSCRIPTION_LABELS.items()}
    elif kind == CaseKind.QUESTION:
        table = {m.value: label for m, label in QUESTION_LABELS.items()}
    return table.get(state, state)


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


def state_choices() -> list[tuple[str, str]]:
    """(value, label) of every state a stored case may be in, for the list's filter; a value
    shared by both kinds is offered once."""
    seen: dict[str, str] = {}
    for member, label in (*SUBSCRIPTION_LABELS.items(), *QUESTION_LABELS.items()):
        if member in (SubscriptionState.NEW, QuestionState.NEW):
            continue  # never stored
        seen.setdefault(member.value, label)
    return list(seen.items())
