"""The subscription workflow, decision by decision, with a fixed clock (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pytest
from workflows_support import (
    ADMINS,
    BLANK,
    GROUPS,
    NOW,
    PARIS,
    REQUESTER,
    XLSX,
    account,
    annex,
    annex_error,
    apply,
    ctx,
    effects_of,
    log_events,
    mail,
    mail_keys,
    opened,
    play,
    reply,
    row,
    sent,
    subscription_data,
    table_mail,
)

from workflows import subscription
from workflows.annex.errors import TEMPLATE_HINT
from workflows.core import (
    AccountsProvisioned,
    CancelTimers,
    CaseView,
    Credential,
    Decision,
    DeliveryFailed,
    Event,
    PortalFailed,
    ProvisionAccounts,
    SetTimer,
    TimerFired,
)
from workflows.text.directives import ReviewerCommand

REF = "ABO-2026-000001"
REVIEWERS = GROUPS["abonnements"]


def under_review(rows: int = 2, **ctx_overrides: object) -> tuple[CaseView, Decision]:
    event = table_mail(rows)
    decision = subscription.start(event, ctx(**ctx_overrides), REF)  # type: ignore[arg-type]
    return opened(decision, event, REF, "subscription"), decision


def approve(case: CaseView, people: tuple[int, ...] | None = None) -> tuple[CaseView, Decision]:
    decision = subscription.decide(
        case, reply(command=ReviewerCommand("APPROUVER", people=people)), ctx()
    )
    return apply(case, decision), decision


def credential(n: int, password: str | None = "Tmp-pass-4821") -> Credential:
    return Credential(
        email=f"personne{n}@ville-exemple.fr",
        temporary_password=password,
        expires_at=NOW + timedelta(days=30),
        spaces=("accueil", "desta"),
        created=password is not None,
    )


def invited(rows: int = 2) -> CaseView:
    case, _ = under_review(rows)
    case, _ = approve(case)
    creds = tuple(credential(n) for n in range(1, rows + 1))
    return apply(case, subscription.decide(case, AccountsProvisioned(creds), ctx()))


# --------------------------------------------------------------------------- a new request


def test_valid_annex_acknowledges_notifies_each_reviewer_and_sets_timers() -> None:
    _case, decision = under_review(2)
    assert decision.state == "under_review" and decision.closed is False
    assert decision.updates["group"] == "abonnements"
    (ack,) = sent(decision, "subscription_ack")
    assert ack.to == (REQUESTER,) and ack.auto and ack.in_reply_to == "<m1@ville-exemple.fr>"
    assert ack.key == "ack"
    assert [p["email"] for p in ack.context["people"]] == [
        "personne1@ville-exemple.fr",
        "personne2@ville-exemple.fr",
    ]
    notes = sent(decision, "subscription_notify")
    assert [n.to for n in notes] == [(m,) for m in REVIEWERS]
    assert [n.reviewer for n in notes] == list(REVIEWERS)
    assert all(n.attachments == (XLSX,) for n in notes)
    assert [p["number"] for p in notes[0].context["people"]] == [1, 2]
    timers = {t.name: t.due_at for t in effects_of(decision, SetTimer)}
    # Tuesday 10 November 2026 + 2 business days, 11 November being a holiday: Friday 13.
    assert timers == {
        "reminder": datetime(2026, 11, 13, 9, 30, tzinfo=PARIS),
        "escalation": datetime(2026, 11, 18, 9, 30, tzinfo=PARIS),
    }
    assert log_events(decision) == ["case_opened", "notification_sent"]
    assert decision.log[0].fields == {
        "kind": "subscription",
        "state": "under_review",
        "group": "abonnements",
        "people": 2,
    }


def test_notification_flags_existing_accounts_open_requests_and_personal_mailboxes() -> None:
    event = mail(
        annex_data=annex([row(1), row(2), row(3, email="chloe.x@gmail.com")]),
        attachments=(XLSX,),
    )
    context = ctx(
        existing_accounts={"personne1@ville-exemple.fr": account("personne1@ville-exemple.fr")},
        open_requests={"personne2@ville-exemple.fr": "ABO-2026-000007"},
    )
    notify = sent(subscription.start(event, context, REF), "subscription_notify")[0]
    first, second, third = notify.context["people"]
    assert first["existing_account"] == {
        "organisation": "Commune voisine",
        "spaces_label": "Accueil",
    }
    assert second["open_request"] == "ABO-2026-000007"
    assert third["personal_mailbox"] is True
    assert notify.context["notable_count"] == 3


def test_invalid_annex_lists_every_error_and_waits_for_the_table() -> None:
    errors = [
        annex_error(5, "siren", "SIREN", "12345678", "n'est pas un numéro SIREN valide"),
        annex_error(5, "email", "Courriel", "jean@", "n'est pas une adresse électronique valide"),
        annex_error(7, "last_name", "Nom", "", "est obligatoire"),
    ]
    event = mail(annex_data=annex([row(1)], errors=errors), attachments=(XLSX,))
    decision = subscription.start(event, ctx(), REF)
    assert decision.state == "incomplete" and not decision.closed
    (invalid,) = sent(decision)
    assert invalid.template == "subscription_invalid" and invalid.auto
    listed = [e["message"] for r in invalid.context["rows"] for e in r["errors"]]
    assert listed == [e["message"] for e in errors]
    assert [r["row"] for r in invalid.context["rows"]] == [5, 7]
    assert invalid.context["error_count"] == 3
    assert not effects_of(decision, SetTimer)
    assert decision.log[-1].event == "annex_invalid" and decision.log[-1].fields["errors"] == 3


def test_unusable_table_gives_the_general_reason() -> None:
    event = mail(annex_data=annex(error="Le fichier n'est pas un tableur."), attachments=(XLSX,))
    (invalid,) = sent(subscription.start(event, ctx(), REF))
    assert invalid.context["error"] == "Le fichier n'est pas un tableur."
    assert invalid.context["rows"] == []


def test_a_table_refused_for_its_shape_comes_with_the_blank_template() -> None:
    missing = (
        "Il manque les colonnes obligatoires « SIREN » et « Courriel » dans l'en-tête du "
        f"tableau (ligne 1). {TEMPLATE_HINT}"
    )
    event = mail(annex_data=annex(error=missing), attachments=(XLSX,))
    (invalid,) = sent(subscription.start(event, ctx(), REF))
    assert invalid.context["error"] == missing and invalid.context["template_attached"]
    assert [a.filename for a in invalid.attachments] == [subscription.BLANK_ANNEX_FILENAME]
    assert invalid.attachments[0].data == ctx().blank_annex

    # Without the template at hand, the mail does not promise it.
    (bare,) = sent(subscription.start(event, ctx(blank_annex=None), REF))
    assert bare.attachments == () and not bare.context["template_attached"]
    assert "joint" not in bare.context["error"] and "« Courriel »" in bare.context["error"]


def test_a_table_refused_for_its_shape_lists_no_minor_points() -> None:
    missing = f"Il manque la colonne obligatoire « SIREN » (ligne 1). {TEMPLATE_HINT}"
    absent = "La colonne « Espace DESTA » est absente : l'accès à cet espace n'est demandé."
    event = mail(annex_data=annex(error=missing, warnings=[absent]), attachments=(XLSX,))
    (invalid,) = sent(subscription.start(event, ctx(), REF))
    assert invalid.context["warnings"] == []


def test_a_table_refused_for_its_rows_has_no_template_attached() -> None:
    bad = mail(annex_data=annex(errors=[annex_error(5, "siren", "SIREN", "1", "invalide")]))
    (invalid,) = sent(subscription.start(bad, ctx(), REF))
    assert invalid.attachments == () and not invalid.context["template_attached"]
    (general,) = sent(subscription.start(mail(annex_data=annex(error="Illisible.")), ctx(), REF))
    assert general.attachments == ()


def test_intent_without_annex_sends_the_blank_template() -> None:
    decision = subscription.start(mail("Bonjour, comment obtenir un accès ?"), ctx(), REF)
    assert decision.state == "incomplete"
    (reply_mail,) = sent(decision)
    assert reply_mail.template == "subscription_intent" and reply_mail.auto
    (attachment,) = reply_mail.attachments
    assert attachment.filename == "annexe-demande-abonnement.xlsx" and attachment.data == BLANK
    assert decision.log[0].fields["reason"] == "intent"


def test_corrected_table_in_the_thread_resumes_the_case() -> None:
    bad = mail(annex_data=annex(errors=[annex_error(5, "siren", "SIREN", "1", "invalide")]))
    case = opened(subscription.start(bad, ctx(), REF), bad, REF, "subscription")
    fixed = table_mail(2, message_id="<m2@ville-exemple.fr>", references=("<m1@ville-exemple.fr>",))
    decision = subscription.decide(case, fixed, ctx())
    assert decision.state == "under_review"
    assert sent(decision, "subscription_ack")[0].context["stage"] == "resumed"
    assert len(sent(decision, "subscription_notify")) == len(REVIEWERS)
    assert {t.name for t in effects_of(decision, SetTimer)} == {"reminder", "escalation"}


def test_text_without_table_on_an_incomplete_case_asks_again() -> None:
    case = opened(subscription.start(mail("Accès ?"), ctx(), REF), mail(), REF, "subscription")
    decision = subscription.decide(case, mail("Je n'ai pas le tableau", message_id="<m2@x>"), ctx())
    assert decision.state is None
    assert sent(decision)[0].template == "subscription_intent"
    assert sent(decision)[0].context["again"] is True


def test_requester_text_under_review_is_forwarded_to_the_reviewers() -> None:
    case, _ = under_review()
    decision = subscription.decide(
        case, mail("Une précision : M. X part en mars.", message_id="<m2@x>"), ctx()
    )
    assert decision.state is None
    forwarded = sent(decision, "subscription_requester_note")
    assert [m.reviewer for m in forwarded] == list(REVIEWERS)
    assert subscription_data(decision.data).notes[-1].text.startswith("Une précision")


def test_a_requesters_thanks_is_kept_but_not_forwarded() -> None:
    case, _ = under_review()
    decision = subscription.decide(case, mail("Merci beaucoup !", message_id="<m2@x>"), ctx())
    assert decision.state is None and sent(decision) == []
    assert [line.event for line in decision.log] == ["followup_thanks"]
    assert subscription_data(decision.data).notes[-1].text == "Merci beaucoup !"
    asks = subscription.decide(case, mail("Merci, où en est-on ?", message_id="<m3@x>"), ctx())
    assert sent(asks, "subscription_requester_note")


def test_faulty_new_table_under_review_keeps_the_previous_one() -> None:
    case, _ = under_review()
    bad = mail(
        annex_data=annex(errors=[annex_error(5, "siren", "SIREN", "1", "invalide")]),
        message_id="<m3@x>",
    )
    decision = subscription.decide(case, bad, ctx())
    assert decision.state is None
    assert sent(decision)[0].context["previous_table_kept"] is True
    assert len(subscription_data(decision.data).people) == 2


# --------------------------------------------------------------------------- reviewer commands


def test_approve_requests_the_accounts_and_confirms() -> None:
    case, _ = under_review(2)
    decision = subscription.decide(case, reply(command=ReviewerCommand("APPROUVER")), ctx())
    assert decision.state == "approved" and not decision.closed
    (provision,) = effects_of(decision, ProvisionAccounts)
    assert [p.email for p in provision.people] == [
        "personne1@ville-exemple.fr",
        "personne2@ville-exemple.fr",
    ]
    assert provision.people[0].spaces == ("accueil", "desta")
    assert provision.expires_at == NOW + timedelta(days=30)
    assert CancelTimers(("reminder", "escalation")) in decision.effects
    (confirmation,) = sent(decision, "review_confirmation")
    assert confirmation.to == ("relecteur.abonnements@demo.test",)
    (taken,) = sent(decision, "review_taken")  # the group's other member
    assert taken.to == ("second.abonnements@demo.test",) and taken.context["action"] == "approve"
    assert confirmation.context["action"] == "approve"
    assert confirmation.in_reply_to == "<r1@interieur.example>"
    assert decision.updates["assignee"] == "relecteur.abonnements@demo.test"
    assert ("accounts_requested", {"people": 2}) in [(x.event, x.fields) for x in decision.log]


def test_accounts_provisioned_sends_invitations_and_tells_the_requester() -> None:
    case, _ = under_review(2)
    case, _ = approve(case)
    creds = (credential(1), credential(2, password=None))
    decision = subscription.decide(case, AccountsProvisioned(creds), ctx())
    assert decision.state == "invited" and decision.closed is False
    (invite,) = sent(decision, "invitation")
    assert invite.sensitive is True
    assert invite.to == ("personne1@ville-exemple.fr",)
    assert invite.context["password"] == "Tmp-pass-4821"
    assert invite.context["login_url"] == "https://portail.example.gouv.fr/connexion"
    assert invite.context["password_guide_url"].endswith("/documents/fiches/mot-de-passe")
    assert invite.context["mini_guide_url"].endswith("/documents/fiches/mini-guide")
    (existing,) = sent(decision, "invitation_new_spaces")
    assert existing.sensitive is False and "password" not in existing.context
    (result,) = sent(decision, "subscription_result")
    assert result.to == (REQUESTER,)
    assert [p["email"] for p in result.context["invited"]] == ["personne1@ville-exemple.fr"]
    assert [p["email"] for p in result.context["existing"]] == ["personne2@ville-exemple.fr"]
    assert result.in_reply_to == "<m1@ville-exemple.fr>"
    timers = {t.name: t.due_at for t in effects_of(decision, SetTimer)}
    assert timers == {
        "invitation_reminder": NOW + timedelta(days=7),
        "invitation_expiry": NOW + timedelta(days=30),
    }
    assert "Tmp-pass-4821" not in repr(decision.log) and "Tmp-pass-4821" not in repr(decision.data)
    assert ("invitation_sent", {"to": "personne1@ville-exemple.fr"}) in [
        (x.event, x.fields) for x in decision.log
    ]


def test_partial_approval_invites_some_and_tells_the_requester_who_was_refused() -> None:
    case, _ = under_review(3)
    case, decision = approve(case, (1, 3))
    (provision,) = effects_of(decision, ProvisionAccounts)
    assert [p.email for p in provision.people] == [
        "personne1@ville-exemple.fr",
        "personne3@ville-exemple.fr",
    ]
    assert sent(decision)[0].context["action"] == "approve_some"
    assert [p["number"] for p in sent(decision)[0].context["refused"]] == [2]
    result_decision = subscription.decide(
        case, AccountsProvisioned((credential(1), credential(3))), ctx()
    )
    assert len(sent(result_decision, "invitation")) == 2
    (result,) = sent(result_decision, "subscription_result")
    assert [p["email"] for p in result.context["refused"]] == ["personne2@ville-exemple.fr"]


def test_approving_an_unknown_number_decides_nothing() -> None:
    case, _ = under_review(3)
    decision = subscription.decide(
        case, reply(command=ReviewerCommand("APPROUVER", people=(2, 5))), ctx()
    )
    assert decision.state is None and decision.data is None
    assert not effects_of(decision, ProvisionAccounts)
    (help_mail,) = sent(decision)
    assert help_mail.template == "review_help"
    assert help_mail.context["problem"] == "bad_numbers" and help_mail.context["numbers"] == [5]
    assert help_mail.context["people_count"] == 3


def test_refuse_with_a_reason_closes_and_tells_the_requester() -> None:
    case, _ = under_review()
    command = ReviewerCommand("REFUSER", text="La commune n'a pas délibéré.")
    decision = subscription.decide(case, reply(command=command), ctx())
    assert decision.state == "refused" and decision.closed is True
    (refusal,) = sent(decision, "subscription_refused")
    assert (
        refusal.to == (REQUESTER,) and refusal.context["reason"] == "La commune n'a pas délibéré."
    )
    assert refusal.in_reply_to == "<m1@ville-exemple.fr>"
    assert sent(decision, "review_confirmation")[0].context["action"] == "refuse"
    assert CancelTimers(("reminder", "escalation")) in decision.effects
    review = subscription_data(decision.data).decision
    assert review is not None and review.verb == "REFUSER"


def test_refuse_without_a_reason_asks_for_one() -> None:
    case, _ = under_review()
    decision = subscription.decide(case, reply(command=ReviewerCommand("REFUSER")), ctx())
    assert decision.state is None
    assert sent(decision)[0].context["problem"] == "missing_reason"


def test_complete_asks_the_requester_and_their_reply_goes_back_to_review() -> None:
    case, _ = under_review()
    command = ReviewerCommand("COMPLÉTER", text="Merci d'indiquer le SIREN de l'EPCI.")
    decision = subscription.decide(case, reply(command=command), ctx())
    assert decision.state == "needs_info" and not decision.closed
    (question,) = sent(decision, "subscription_needs_info")
    assert question.to == (REQUESTER,) and question.context["text"] == command.text
    case = apply(case, decision)
    answer = mail("Le SIREN est 243100518.", message_id="<m2@ville-exemple.fr>")
    resumed = subscription.decide(case, answer, ctx())
    assert resumed.state == "under_review"
    notes = sent(resumed, "subscription_notify")
    assert [n.key for n in notes] == [f"notify:{m}:2" for m in REVIEWERS]
    assert notes[0].context["notes"][-1]["text"] == "Le SIREN est 243100518."
    assert notes[0].context["info_requests"][-1]["text"] == command.text
    assert sent(resumed, "subscription_ack")[0].context["stage"] == "reply"


def test_complete_then_a_new_table_replaces_the_people() -> None:
    case, _ = under_review(2)
    command = ReviewerCommand("COMPLÉTER", text="Ajoutez la DSP.")
    case = apply(case, subscription.decide(case, reply(command=command), ctx()))
    decision = subscription.decide(case, table_mail(3, message_id="<m2@x>"), ctx())
    assert decision.state == "under_review"
    assert len(subscription_data(decision.data).people) == 3


@pytest.mark.parametrize(
    ("command", "problem"),
    [(ReviewerCommand("AIDE"), None), (None, "unknown_command")],
)
def test_help_or_unknown_text_gets_the_help_and_changes_nothing(
    command: ReviewerCommand | None, problem: str | None
) -> None:
    case, _ = under_review()
    decision = subscription.decide(case, reply("Je regarde ça demain", command=command), ctx())
    assert decision.state is None and decision.data is None
    (help_mail,) = sent(decision)
    assert help_mail.template == "review_help"
    assert help_mail.context["problem"] == problem
    assert "APPROUVER" in help_mail.context["help_text"]


@pytest.mark.parametrize(
    "second",
    [
        ReviewerCommand("APPROUVER"),
        ReviewerCommand("REFUSER", text="Non."),
        ReviewerCommand("COMPLÉTER", text="Quoi ?"),
    ],
)
def test_a_second_decision_changes_nothing_and_the_reviewer_is_told(
    second: ReviewerCommand,
) -> None:
    case, _ = under_review()
    case, _ = approve(case)
    late = reply(command=second, reviewer="second.abonnements@demo.test", message_id="<r2@x>")
    decision = subscription.decide(case, late, ctx(now=NOW + timedelta(hours=2)))
    assert decision.state is None and decision.data is None
    assert not effects_of(decision, ProvisionAccounts)
    (told,) = sent(decision)
    assert told.template == "review_already_decided"
    assert told.to == ("second.abonnements@demo.test",)
    assert told.context["decided_by"] == "relecteur.abonnements@demo.test"
    assert told.context["decided_at"] == NOW.isoformat()
    assert told.context["outcome"] == "APPROUVER"
    assert decision.log[-1].fields["reason"] == "already_decided"


def test_refused_case_stays_closed_on_a_late_command() -> None:
    case, _ = under_review()
    case = apply(
        case,
        subscription.decide(case, reply(command=ReviewerCommand("REFUSER", text="Non.")), ctx()),
    )
    decision = subscription.decide(
        case, reply(command=ReviewerCommand("APPROUVER"), message_id="<r3@x>"), ctx()
    )
    assert decision.closed is True and decision.state is None


# --------------------------------------------------------------------------- timers


def test_reminder_goes_to_each_reviewer_with_their_token() -> None:
    case, _ = under_review()
    decision = subscription.decide(case, TimerFired("reminder", {"round": 1}), ctx())
    reminders = sent(decision, "subscription_reminder")
    assert [r.reviewer for r in reminders] == list(REVIEWERS)
    assert [r.key for r in reminders] == [f"reminder:{m}:1" for m in REVIEWERS]
    assert log_events(decision) == ["reminder_sent"]


def test_escalation_alerts_the_admins() -> None:
    case, _ = under_review()
    decision = subscription.decide(case, TimerFired("escalation", {"round": 1}), ctx())
    (alert,) = sent(decision)
    assert alert.template == "subscription_escalation" and alert.to == ADMINS
    assert alert.context["members"] == list(REVIEWERS)
    assert log_events(decision) == ["escalated"]


@pytest.mark.parametrize("kind", ["reminder", "escalation"])
def test_review_timers_after_a_decision_or_from_an_old_round_do_nothing(kind: str) -> None:
    case, _ = under_review()
    assert not sent(subscription.decide(case, TimerFired(kind, {"round": 0}), ctx()))
    case, _ = approve(case)
    decision = subscription.decide(case, TimerFired(kind, {"round": 1}), ctx())
    assert not sent(decision) and log_events(decision) == ["timer_stale"]


@dataclass(frozen=True)
class ActivatedAccount:
    email: str
    organisation: str | None
    spaces: tuple[str, ...]
    first_login_at: datetime | None


def test_invitation_reminder_goes_to_people_who_have_not_logged_in() -> None:
    case = invited(2)
    logged_in = ActivatedAccount("personne2@ville-exemple.fr", None, ("accueil",), NOW)
    context = ctx(now=NOW + timedelta(days=7), existing_accounts={logged_in.email: logged_in})  # type: ignore[dict-item]
    decision = subscription.decide(case, TimerFired("invitation_reminder"), context)
    (reminder,) = sent(decision)
    assert reminder.template == "invitation_reminder"
    assert reminder.to == ("personne1@ville-exemple.fr",)
    assert "password" not in reminder.context
    invitations = subscription_data(decision.data).invitations
    assert invitations["personne2@ville-exemple.fr"].status == "used"
    assert decision.state is None


def test_invitation_expiry_closes_the_case() -> None:
    case = invited(2)
    decision = subscription.decide(
        case, TimerFired("invitation_expiry"), ctx(now=NOW + timedelta(days=30))
    )
    assert decision.state == "closed" and decision.closed is True
    invitations = subscription_data(decision.data).invitations
    assert {r.status for r in invitations.values()} == {"expired"}
    assert decision.log[-1].event == "invitations_closed"


def test_only_existing_accounts_closes_at_once() -> None:
    case, _ = under_review(1)
    case, _ = approve(case)
    decision = subscription.decide(
        case, AccountsProvisioned((credential(1, password=None),)), ctx()
    )
    assert decision.state == "closed" and decision.closed is True
    assert not effects_of(decision, SetTimer)


# --------------------------------------------------------------------------- failures, keys


def test_failed_invitation_alerts_the_admins() -> None:
    case = invited(2)
    failure = DeliveryFailed("personne1@ville-exemple.fr", "invitation", "550 5.1.1 unknown user")
    decision = subscription.decide(case, failure, ctx())
    (alert,) = sent(decision)
    assert alert.template == "delivery_failed_alert" and alert.to == ADMINS
    assert alert.context["recipient"] == "personne1@ville-exemple.fr"
    assert alert.context["template"] == "invitation"
    data = subscription_data(decision.data)
    assert data.invitations["personne1@ville-exemple.fr"].status == "failed"
    assert [(f.to, f.template) for f in data.failures] == [
        ("personne1@ville-exemple.fr", "invitation")
    ]
    assert log_events(decision) == ["delivery_failed"]


def test_failed_acknowledgement_is_only_logged() -> None:
    case, _ = under_review()
    decision = subscription.decide(
        case, DeliveryFailed(REQUESTER, "subscription_ack", "550"), ctx()
    )
    assert not sent(decision) and log_events(decision) == ["delivery_failed"]


def test_mail_keys_are_unique_over_a_whole_case_and_stable_on_replay() -> None:
    case, decision = under_review(3)
    events: list[Event] = [
        TimerFired("reminder", {"round": 1}),
        reply(command=ReviewerCommand("COMPLÉTER", text="Précisez."), message_id="<r1@x>"),
        mail("Voici.", message_id="<m2@x>"),
        reply(command=None, message_id="<r2@x>"),
        reply(command=ReviewerCommand("APPROUVER", people=(1, 2)), message_id="<r3@x>"),
        AccountsProvisioned((credential(1), credential(2))),
        TimerFired("invitation_reminder"),
        reply(command=ReviewerCommand("APPROUVER"), message_id="<r4@x>"),
    ]
    case, steps = play(case, events, subscription.decide)
    for step in steps:
        again = subscription.decide(step.case, step.event, ctx())
        assert mail_keys(again) == mail_keys(step.decision)
    keys = mail_keys(decision, *(step.decision for step in steps))
    assert len(keys) == len(set(keys)), keys
    assert case.state == "invited"


def test_closed_flag_follows_the_state() -> None:
    case, _ = under_review()
    case = replace(case, state="refused")
    decision = subscription.decide(case, mail("Pourquoi ?", message_id="<m9@x>"), ctx())
    assert decision.closed is True and decision.state is None


def test_accounts_that_the_portal_cannot_create_leave_the_case_approved_and_alert_the_admins() -> (
    None
):
    case, _ = under_review(2)
    case, _ = approve(case)
    failed = PortalFailed(kind="create_accounts", reason="ConnectionError: portail injoignable")
    decision = subscription.decide(case, failed, ctx())
    assert decision.state is None and decision.data is None  # still approved, nothing lost
    (alert,) = sent(decision, "portal_failed_alert")
    assert alert.to == ctx().admins
    assert alert.context["operation_label"] == "création des comptes"
    assert "aucune invitation" in alert.context["consequence"]
    assert [(x.event, x.fields["operation"]) for x in decision.log] == [
        ("portal_failed", "create_accounts")
    ]
    assert not sent(decision, "invitation")


@pytest.mark.parametrize(
    ("written", "suggestion", "example"),
    [
        ("Ok mais il manque la délibération", "COMPLÉTER Il manque la délibération",
         "COMPLÉTER Il manque la délibération"),
        ("Validé sauf le 2", "APPROUVER 1,3", "APPROUVER 1,3"),
        ("Je ne valide pas", "REFUSER <motif>",
         "REFUSER La délibération de la collectivité n'est pas jointe."),
    ],
)  # fmt: skip
def test_a_reply_that_is_no_command_gets_the_help_quoting_it(
    written: str, suggestion: str, example: str
) -> None:
    case, _ = under_review(3)
    decision = subscription.decide(case, reply(f"Bonjour,\n{written}\n\nCordialement"), ctx())
    assert decision.state is None and decision.data is None
    (help_mail,) = sent(decision)
    assert help_mail.template == "review_help"
    assert help_mail.context["problem"] == "unknown_command"
    assert help_mail.context["written"] == written
    assert help_mail.context["suggestion"] == suggestion
    assert help_mail.context["suggested_verb"] == suggestion.split()[0]
    assert help_mail.context["example"] == example


def test_aide_gets_the_help_without_a_suggestion() -> None:
    case, _ = under_review(3)
    decision = subscription.decide(case, reply("AIDE", command=ReviewerCommand("AIDE")), ctx())
    (help_mail,) = sent(decision)
    assert help_mail.context["problem"] is None and help_mail.context["suggestion"] is None
