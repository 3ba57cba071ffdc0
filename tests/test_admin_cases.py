"""The admin's side of cases, pure: every state has a French label, and a reassignment
notifies the new reviewers and says so in the `reassigned` line the triage learns from."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_workflow_question import answered, ask
from test_workflow_subscription import invited, under_review
from workflows_support import (
    NOW,
    apply,
    ctx,
    effects_of,
    log_events,
    question_data,
    reply,
    sent,
    subscription_data,
)

from workflows import invitation_admin, question, subscription
from workflows.core import (
    Credential,
    DeliveryFailed,
    InvitationReissued,
    InvitationRevoked,
    LogLine,
    Publish,
    Published,
    ReissueInvitation,
    RevokeInvitation,
    SetTimer,
)
from workflows.invitation_admin import refusal as resend_refusal
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


def test_resending_an_invitation_mails_a_new_password_and_restarts_the_timers() -> None:
    case = invited(2)
    email = "personne1@ville-exemple.fr"
    assert resend_refusal(case, email, "resend") is None
    decision = invitation_admin.resend(case, ctx(), ADMIN, email)
    (effect,) = effects_of(decision, ReissueInvitation)
    assert effect.email == email and effect.expires_at == NOW + timedelta(days=30)
    assert decision.log[0] == LogLine("invitation_resend_requested", {"to": email, "by": ADMIN})
    later = NOW + timedelta(days=40)
    cred = Credential(email, "Tmp-Neuf-9999", later, ("accueil",), False, reissued=True)
    result = subscription.decide(case, InvitationReissued(cred), ctx())
    (mail,) = sent(result, "invitation")
    assert mail.sensitive and mail.to == (email,) and mail.context["password"] == "Tmp-Neuf-9999"
    assert {t.name for t in effects_of(result, SetTimer)} == {
        "invitation_reminder",
        "invitation_expiry",
    }
    case = apply(case, result)
    record = subscription_data(case.data).invitations[email]
    assert record.status == "sent" and record.expires_at == later.isoformat()
    # the account is in use by then: nothing is mailed, the invitation counts as used
    in_use = subscription.decide(
        case, InvitationReissued(Credential(email, None, None, (), False)), ctx()
    )
    assert sent(in_use) == [] and log_events(in_use) == ["invitation_not_resent"]


def test_revoking_the_last_pending_invitation_closes_the_case() -> None:
    case = invited(1)
    email = "personne1@ville-exemple.fr"
    decision = invitation_admin.revoke(case, ADMIN, email)
    assert effects_of(decision, RevokeInvitation) == [RevokeInvitation(email)]
    case = apply(case, subscription.decide(case, InvitationRevoked(email), ctx()))
    assert case.state == "closed"
    assert subscription_data(case.data).invitations[email].status == "revoked"
    assert resend_refusal(case, email, "revoke") is not None  # nothing pending any more
    assert resend_refusal(case, email, "resend") is None  # but it may be sent again
    assert resend_refusal(case, "inconnu@x.fr", "resend") == (
        "Aucune invitation n’a été envoyée à inconnu@x.fr dans ce dossier."
    )


def test_a_withdrawn_answer_is_published_again_as_a_new_version() -> None:
    case, _ = ask()
    case, _ = answered(case)
    desta = "relecteur.desta@demo.test"
    case = apply(case, question.decide(case, reply("RETIRER", reviewer=desta), ctx()))
    assert question_data(case.data).withdrawn_at is not None
    again = question.decide(case, reply("PUBLIER", reviewer=ADMIN, message_id=None), ctx())
    (publish,) = effects_of(again, Publish)
    data = question_data(case.data)
    assert publish.answer == data.published_answer and publish.space == "desta"
    assert log_events(again)[-1] == "republish_submitted" and again.state == "publishing"
    case = apply(case, again)
    url = "https://portail.example.gouv.fr/espaces/desta/questions/Q-2026-000042"
    online = question.decide(case, Published(url, 2), ctx())
    assert sent(online, "question_answer") == []  # the asker already has this answer
    case = apply(case, online)
    data = question_data(case.data)
    assert case.state == "answered" and data.withdrawn_at is None
    assert [p.version for p in data.publications] == [1, 2]
    # PUBLIER on an answer still online changes nothing (the help mail says so)
    assert log_events(question.decide(case, reply("PUBLIER", reviewer=desta), ctx()))[-1] == (
        "review_help"
    )
