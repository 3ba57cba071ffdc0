"""The admin's side of cases, pure: every state has a French label, and a reassignment
notifies the new reviewers and says so in the `reassigned` line the triage learns from."""

from __future__ import annotations

import pytest
from test_workflow_question import ask
from test_workflow_subscription import invited, under_review
from workflows_support import apply, ctx, effects_of, log_events, sent

from workflows import subscription
from workflows.core import DeliveryFailed, LogLine, SetTimer
from workflows.invitation_notice import bounced, tell_requester
from workflows.invitation_notice import refusal as notice_refusal
from workflows.labels import KIND_LABELS, state_choices, state_label
from workflows.reassign import reassign, refusal
from workflows.states import CaseKind, QuestionState, SubscriptionState

ADMIN = "admin.stationnement@demo.test"


@pytest.mark.parametrize("member", [*SubscriptionState, *QuestionState], ids=str)
def test_every_state_has_a_french_label(member: SubscriptionState | QuestionState) -> None:
    kind = CaseKind.SUBSCRIPTION if isinstance(member, SubscriptionState) else CaseKind.QUESTION
    label = state_label(kind, member.value)
    assert label != member.value and label[0].isupper()


def test_labels_the_admins_asked_for() -> None:
    assert state_label("subscription", "under_review") == "En attente de relecture"
    assert state_label("subscription", "needs_info") == "Pièces demandées"
    assert state_label("subscription", "invited") == "Invitations envoyées"
    assert state_label("question", "held") == "Réponse en attente de publication"
    assert state_label("subscription", "closed") == "Clos"
    assert state_label("question", "unknown-state") == "unknown-state"
    assert set(KIND_LABELS) == set(CaseKind)
    values = [v for v, _label in state_choices()]
    assert "new" not in values and len(values) == len(set(values))
    labels = [label for _v, label in state_choices()]
    assert len(labels) == len(set(labels)), "two states would read the same in the filter"


def test_reassigning_a_question_to_a_group_notifies_its_members() -> None:
    case, _ = ask()
    assert case.group == "desta"
    decision = reassign(case, ctx(), ADMIN, group="antai", note="Plutôt pour l’ANTAI.")
    assert decision.updates == {"group": "antai", "space": "antai", "assignee": None}
    (notify,) = sent(decision, "question_notify")
    assert notify.to == ("relecteur.antai@demo.test",) and notify.reviewer == notify.to[0]
    assert notify.context["transferred_by"] == ADMIN
    assert notify.context["transfer_note"] == "Plutôt pour l’ANTAI."
    assert {t.name for t in effects_of(decision, SetTimer)} == {"reminder", "escalation"}
    line = decision.log[0]
    assert line == LogLine(
        "reassigned",
        {"from": "desta", "to": "antai", "reviewer": "-", "by": ADMIN, "space": "antai"},
    )


def test_reassigning_to_one_reviewer_notifies_only_them() -> None:
    case, _ = under_review()
    second = "second.abonnements@demo.test"
    decision = reassign(case, ctx(), ADMIN, reviewer=second)
    assert decision.updates == {"group": "abonnements", "assignee": second}
    (notify,) = sent(decision, "subscription_notify")
    assert notify.to == (second,) and notify.reviewer == second
    assert log_events(decision)[0] == "reassigned"
    assert decision.log[0].fields["by"] == ADMIN


def test_what_cannot_be_reassigned_is_said_in_french() -> None:
    case, _ = ask()
    assert refusal(case, ctx(), "inconnu", None) == (
        "Le groupe «\u00a0inconnu\u00a0» n’existe pas dans la configuration."
    )
    assert refusal(case, ctx(), None, "personne@ailleurs.fr") is not None
    assert refusal(case, ctx(), None, None) == "Indiquez un groupe ou un relecteur."
    assert refusal(case, ctx(), "antai", None) is None


def test_the_requester_is_told_of_a_bounced_invitation_by_name() -> None:
    case = invited(2)
    email = "personne2@ville-exemple.fr"
    assert bounced(case) == []
    assert notice_refusal(case, email) == (
        f"Aucune invitation non distribuée pour {email} dans ce dossier."
    )
    failed = DeliveryFailed(email, "invitation", "550 5.1.1 Utilisateur inconnu")
    case = apply(case, subscription.decide(case, failed, ctx()))
    assert bounced(case) == [email] and notice_refusal(case, email) is None
    decision = tell_requester(case, ctx(), ADMIN, email)
    assert decision.state is None and decision.data is None
    (mail,) = sent(decision, "invitation_bounced")
    assert mail.to == (case.requester,) and mail.key == f"bounced:{email}"
    assert mail.context["person"]["email"] == email
    assert mail.context["reason"] == "550 5.1.1 Utilisateur inconnu"
    assert decision.log[0].fields == {"to": case.requester, "person": email, "by": ADMIN}
