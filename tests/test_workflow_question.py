"""The question workflow, decision by decision, with a fixed clock (pure: no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from workflows_support import (
    ADMINS,
    NOW,
    account,
    apply,
    ctx,
    effects_of,
    log_events,
    mail,
    mail_keys,
    opened,
    play,
    question_data,
    reply,
    sent,
    similar,
)

from mailbot.config import TriageRule
from workflows import question
from workflows.calendar import PARIS
from workflows.core import (
    CancelTimers,
    CaseView,
    Decision,
    DeliveryFailed,
    Event,
    MailReceived,
    Publish,
    Published,
    SetTimer,
    TimerFired,
)
from workflows.records import Publication
from workflows.text.directives import ReviewerCommand
from workflows.text.privacy import NAME_MASK, PHONE_MASK
from workflows.text.triage import TriageResult, triage

REF = "Q-2026-000042"
ASKER = "jean.dupont@ville-exemple.fr"
RULES = [
    TriageRule(space="antai", weight=2.0, terms=["antai", "fps", "avis de paiement"]),
    TriageRule(space="desta", weight=2.0, terms=["desta", "ccsp", "interface"]),
    TriageRule(space="accueil", weight=1.5, terms=["décret", "loi"]),
    TriageRule(space="out_of_scope", weight=2.0, terms=["horodateur", "horodateurs", "tarif"]),
]
QUESTION = """Bonjour Madame, Monsieur,

Je suis Jean Dupont. Quand la spécification de l'interface CCSP sera-t-elle publiée ?
Mon numéro : 06 12 34 56 78.

Cordialement,
Jean Dupont
Mairie d'Exemple"""
DESTA = "relecteur.desta@demo.test"
ANSWER = (
    "Bonjour Monsieur Dupont,\n\nElle sera publiée en décembre dans l'espace DESTA.\n\nCordialement"
)
PUBLIC_URL = f"https://portail.example.gouv.fr/espaces/desta/questions/{REF}"


def ask(
    text: str = QUESTION, subject: str = "Interface CCSP", **ctx_overrides: object
) -> tuple[CaseView, Decision]:
    event = mail(
        text,
        subject=subject,
        sender=ASKER,
        sender_name="Jean Dupont",
        message_id="<q1@ville-exemple.fr>",
    )
    result = triage(subject, text, RULES, 1.0)
    decision = question.start(event, ctx(triage=result, **ctx_overrides), REF)  # type: ignore[arg-type]
    return opened(decision, event, REF, "question"), decision


def answer(
    case: CaseView,
    text: str = ANSWER,
    *directives: str,
    reviewer: str = DESTA,
    message_id: str = "<r1@x>",
) -> Decision:
    return question.decide(
        case, reply(text, reviewer=reviewer, directives=directives, message_id=message_id), ctx()
    )


def answered(case: CaseView, text: str = ANSWER, version: int = 1) -> tuple[CaseView, Decision]:
    case = apply(case, answer(case, text))
    decision = question.decide(case, Published(PUBLIC_URL, version), ctx())
    return apply(case, decision), decision


# --------------------------------------------------------------------------- a new question


@pytest.mark.parametrize(
    ("text", "space", "group"),
    [
        ("Quand l'ANTAI envoie-t-elle l'avis de paiement du FPS ?", "antai", "antai"),
        ("Où est la spécification de l'interface CCSP ?", "desta", "desta"),
        ("Le décret est-il paru ?", "accueil", "accueil"),
        ("Pouvez-vous m'aider ?", None, "accueil"),  # unclassified: the accueil group
    ],
)
def test_question_is_routed_to_the_group_of_its_space(
    text: str, space: str | None, group: str
) -> None:
    _case, decision = ask(text, subject="Question")
    assert decision.state == "open" and decision.closed is False
    assert decision.updates == {"group": group, "space": space}
    notes = sent(decision, "question_notify")
    assert [n.reviewer for n in notes] == list(ctx().groups[group])
    assert notes[0].context["space_guessed"] is (space is not None)
    assert decision.log[0].fields == {
        "kind": "question",
        "space": space or "unclassified",
        "group": group,
    }


def test_acknowledgement_and_notification_contents() -> None:
    known = account(ASKER, organisation="Commune d'Exemple")
    _case, decision = ask(similar_answers=similar(5), existing_accounts={ASKER: known})
    (ack,) = sent(decision, "question_ack")
    assert ack.auto and ack.key == "ack" and ack.in_reply_to == "<q1@ville-exemple.fr>"
    assert len(ack.context["similar"]) == 3
    (notify,) = sent(decision, "question_notify")
    context = notify.context
    assert notify.to == (DESTA,) and notify.reviewer == DESTA and notify.key == f"notify:{DESTA}:1"
    assert context["question"].startswith("Bonjour Madame")
    assert context["organisation"] == "Commune d'Exemple"
    assert context["reasons"] == [
        {
            "space_label": "DESTA",
            "score": 8.0,
            "score_text": "8",
            "terms": ["ccsp", "interface"],
            "learnt": [],
        }
    ]
    assert context["alternative"] is None
    published = context["published_question"]
    assert NAME_MASK in published and PHONE_MASK in published
    assert (
        "Dupont" not in published and "Cordialement" not in published and "Bonjour" not in published
    )
    assert "QUESTION : Comment contester" in context["help_text"]
    timers = {t.name: t.due_at for t in effects_of(decision, SetTimer)}
    assert timers["reminder"] == ctx().add_business_days(NOW, 2)
    assert timers["escalation"] == ctx().add_business_days(NOW, 5)


def test_delays_from_the_utc_clock_count_paris_business_days() -> None:
    # The runner's clock is UTC: Friday 23:30 UTC is Saturday 7 November 00:30 in Paris, so
    # two business days end on Tuesday 10 (not Wednesday 11, Armistice Day) and five on
    # Monday 16 (Wednesday 11 skipped).
    _, decision = ask(now=datetime(2026, 11, 6, 23, 30, tzinfo=UTC))
    timers = {t.name: t.due_at.astimezone(PARIS) for t in effects_of(decision, SetTimer)}
    assert timers["reminder"].date() == date(2026, 11, 10)
    assert timers["escalation"].date() == date(2026, 11, 16)
    assert (timers["reminder"].hour, timers["reminder"].minute) == (0, 30)


def test_out_of_scope_signs_are_flagged_to_the_reviewer() -> None:
    _, decision = ask("Quel tarif pour nos horodateurs ?", subject="Horodateurs")
    (notify,) = sent(decision, "question_notify")
    assert notify.context["out_of_scope"] is True
    assert notify.context["out_of_scope_terms"] == ["horodateur", "tarif"]


def test_auto_redirect_when_configured_and_out_of_scope() -> None:
    _, decision = ask(
        "Quel tarif pour nos horodateurs ?", subject="Horodateurs", auto_redirect_out_of_scope=True
    )
    assert decision.state == "answered" and decision.closed is True
    (cerema,) = sent(decision)
    assert cerema.template == "question_cerema" and cerema.auto is True
    assert cerema.context["automatic"] is True
    assert cerema.context["cerema_url"].startswith("http://www.territoires-ville.cerema.fr")
    assert not effects_of(decision, SetTimer)
    assert "redirected_cerema" in log_events(decision)


def test_no_auto_redirect_when_a_space_also_matches() -> None:
    _, decision = ask(
        "Le tarif de l'horodateur et le FPS", subject="x", auto_redirect_out_of_scope=True
    )
    assert decision.state == "open"


def test_missing_triage_means_unclassified() -> None:
    event = mail("Une question ?", sender=ASKER)
    decision = question.start(event, ctx(triage=None), REF)
    assert decision.updates == {"group": "accueil", "space": None}


# --------------------------------------------------------------------------- the reviewer's answer


def test_answer_is_published_then_mailed_in_the_asker_thread() -> None:
    case, _ = ask()
    decision = answer(case)
    assert decision.state == "publishing"
    (publish,) = effects_of(decision, Publish)
    assert publish.space == "desta"
    assert publish.question == question_data(case.data).published_question
    assert publish.answer == "Elle sera publiée en décembre dans l'espace DESTA."
    assert CancelTimers(("reminder", "escalation")) in decision.effects
    assert not sent(decision)
    case = apply(case, decision)
    done = question.decide(case, Published(PUBLIC_URL, 1), ctx())
    assert done.state == "answered" and done.closed is True
    (to_asker,) = sent(done, "question_answer")
    assert to_asker.to == (ASKER,) and to_asker.in_reply_to == "<q1@ville-exemple.fr>"
    assert to_asker.references == ("<q1@ville-exemple.fr>",)
    assert to_asker.context["answer"] == ANSWER and to_asker.context["url"] == PUBLIC_URL
    (confirmation,) = sent(done, "review_confirmation")
    assert confirmation.to == (DESTA,) and confirmation.context["url"] == PUBLIC_URL
    assert confirmation.in_reply_to == "<r1@x>"
    data = question_data(done.data)
    assert data.publications == (
        Publication(space="desta", version=1, url=PUBLIC_URL, at=NOW.isoformat(), by=DESTA),
    )
    assert data.answered_by == DESTA and data.pending is None
    assert ("answer_published", {"space": "desta", "version": 1, "url": PUBLIC_URL}) in [
        (x.event, x.fields) for x in done.log
    ]


def test_space_directive_overrides_the_guess() -> None:
    case, _ = ask()
    (publish,) = effects_of(answer(case, ANSWER, "ESPACE: ANTAI"), Publish)
    assert publish.space == "antai"


def test_unclassified_question_is_published_in_accueil() -> None:
    case, _ = ask("Pouvez-vous m'aider ?", subject="Aide")
    (publish,) = effects_of(answer(case, "Voici.", reviewer="relecteur.accueil@demo.test"), Publish)
    assert publish.space == "accueil"


def test_question_directive_rewords_the_publication() -> None:
    case, _ = ask()
    wording = "Quand la spécification de l'interface CCSP sera-t-elle publiée ?"
    (publish,) = effects_of(answer(case, ANSWER, f"QUESTION: {wording}"), Publish)
    assert publish.question == wording


def test_do_not_publish_mails_the_answer_only() -> None:
    case, _ = ask()
    decision = answer(case, ANSWER, "NE PAS PUBLIER", "ESPACE: ANTAI")
    assert not effects_of(decision, Publish)
    assert decision.state == "answered" and decision.closed is True
    (to_asker,) = sent(decision, "question_answer")
    assert to_asker.context["published"] is False and to_asker.context["url"] is None
    assert sent(decision, "review_confirmation")[0].context["action"] == "not_published"
    assert question_data(decision.data).outcome == "not_published"


@pytest.mark.parametrize(
    "others", [(), ("NE PAS PUBLIER",), ("ESPACE: ANTAI", "TRANSFÉRER: antai")]
)
def test_out_of_scope_sends_cerema_and_publishes_nothing(others: tuple[str, ...]) -> None:
    case, _ = ask()
    decision = answer(case, "Voyez le CEREMA.", "HORS PÉRIMÈTRE", *others)
    assert not effects_of(decision, Publish)
    assert decision.state == "answered" and decision.closed is True
    (cerema,) = sent(decision, "question_cerema")
    assert cerema.to == (ASKER,) and cerema.auto is False
    assert cerema.context["reviewer_text"] == "Voyez le CEREMA."
    assert "redirected_cerema" in log_events(decision)


def test_transfer_notifies_the_other_group() -> None:
    case, _ = ask()
    decision = answer(case, "Plutôt pour vous.", "TRANSFÉRER: antai")
    assert decision.state is None and not decision.closed
    assert decision.updates == {"group": "antai", "space": "antai"}
    (notify,) = sent(decision, "question_notify")
    assert (
        notify.to == ("relecteur.antai@demo.test",)
        and notify.reviewer == "relecteur.antai@demo.test"
    )
    assert (
        notify.context["stage"] == "transferred"
        and notify.context["transfer_note"] == "Plutôt pour vous."
    )
    assert notify.key == "notify:relecteur.antai@demo.test:2"
    assert sent(decision, "review_confirmation")[0].context["group"] == "antai"
    assert {t.name for t in effects_of(decision, SetTimer)} == {"reminder", "escalation"}


@pytest.mark.parametrize(
    ("text", "directives", "problem"),
    [
        ("Réponse", ("TRANSFÉRER: inconnu",), "unknown_group"),
        ("Réponse", ("ESPACE: CCSP",), "unknown_space"),
        ("", ("ESPACE: ANTAI",), "empty_answer"),
        ("", (), "empty_answer"),
        ("AIDE", (), None),
        ("APPROUVER", (), "command_on_question"),
        ("Je valide, merci", (), "command_on_question"),
        ("Ok pour moi", (), "command_on_question"),
        ("D'accord, merci beaucoup !", (), "command_on_question"),
    ],
)
def test_replies_that_cannot_be_carried_out_get_help(
    text: str, directives: tuple[str, ...], problem: str | None
) -> None:
    case, _ = ask()
    decision = answer(case, text, *directives)
    assert decision.state is None and decision.data is None
    assert not effects_of(decision, Publish)
    (help_mail,) = sent(decision)
    assert help_mail.template == "review_help" and help_mail.context["problem"] == problem


def test_an_answer_opening_with_an_approval_word_is_still_an_answer() -> None:
    case, _ = ask()
    decision = answer(case, "D'accord, voici la réponse.\nLe délai est d'un mois.")
    assert not [m for m in sent(decision) if m.template == "review_help"]
    assert decision.state is not None


def test_command_on_a_question_gets_help() -> None:
    case, _ = ask()
    event = reply("", reviewer=DESTA, command=ReviewerCommand("APPROUVER"))
    assert sent(question.decide(case, event, ctx()))[0].context["problem"] == "command_on_question"


def test_a_second_answer_on_an_answered_question_changes_nothing_and_points_to_corriger() -> None:
    case, _ = ask()
    case, _ = answered(case)
    decision = answer(
        case, "Autre réponse", reviewer="relecteur.desta@demo.test", message_id="<r2@x>"
    )
    assert decision.state is None and decision.closed is True
    (told,) = sent(decision)
    # Not « Dossier déjà traité… prenez contact avec <yourself> »: CORRIGER is the path.
    assert told.template == "review_help" and told.context["problem"] == "hold_over"


# --------------------------------------------------------------------------- the asker writes again


def test_follow_up_after_the_answer_reopens_to_the_same_group() -> None:
    case, _ = ask()
    case, _ = answered(case)
    follow = mail(
        "Et pour l'interface ANTAI ?",
        sender=ASKER,
        message_id="<q2@x>",
        references=("<q1@ville-exemple.fr>",),
    )
    decision = question.decide(case, follow, ctx())
    assert decision.state == "open" and decision.closed is False
    (notify,) = sent(decision, "question_notify")
    assert notify.to == (DESTA,) and notify.context["stage"] == "reopened"
    assert notify.context["previous_answer"] == ANSWER
    assert notify.context["followup_text"] == "Et pour l'interface ANTAI ?"
    assert (
        "Question complémentaire : Et pour l'interface ANTAI ?"
        in notify.context["published_question"]
    )
    assert sent(decision, "question_ack")[0].context["stage"] == "reopened"
    case = apply(case, decision)
    second = answer(case, "Voir la page ANTAI.", message_id="<r2@x>")
    (publish,) = effects_of(second, Publish)
    assert publish.answer.startswith("Elle sera publiée en décembre")
    assert publish.answer.endswith("Réponse complémentaire : Voir la page ANTAI.")
    case = apply(case, second)
    done = question.decide(case, Published(PUBLIC_URL, 2), ctx())
    (to_asker,) = sent(done, "question_answer")
    assert to_asker.key == "answer:2" and to_asker.in_reply_to == "<q2@x>"
    assert [p.version for p in question_data(done.data).publications] == [1, 2]


def test_thanks_after_the_answer_does_not_reopen() -> None:
    case, _ = ask()
    case, _ = answered(case)
    decision = question.decide(
        case, mail("Merci beaucoup pour votre réponse !", sender=ASKER, message_id="<q3@x>"), ctx()
    )
    assert decision.state is None and decision.closed is True
    assert not sent(decision)
    assert log_events(decision) == ["followup_thanks"]


def test_follow_up_while_open_is_forwarded() -> None:
    case, _ = ask()
    decision = question.decide(
        case, mail("J'ajoute : c'est urgent.", sender=ASKER, message_id="<q4@x>"), ctx()
    )
    assert decision.state is None
    (notify,) = sent(decision, "question_notify")
    assert notify.context["stage"] == "followup" and notify.reviewer == DESTA
    assert "Précision : J'ajoute : c'est urgent." in notify.context["published_question"]


# --------------------------------------------------------------------------- timers, failures


def test_reminder_and_escalation() -> None:
    case, _ = ask()
    reminder = question.decide(case, TimerFired("reminder", {"round": 1}), ctx())
    (mail_,) = sent(reminder)
    assert mail_.template == "question_reminder" and mail_.reviewer == DESTA
    escalation = question.decide(case, TimerFired("escalation", {"round": 1}), ctx())
    (alert,) = sent(escalation)
    assert alert.template == "question_escalation" and alert.to == ADMINS
    stale = question.decide(case, TimerFired("reminder", {"round": 7}), ctx())
    assert not sent(stale) and log_events(stale) == ["timer_stale"]


def test_failed_answer_alerts_the_admins_but_a_failed_ack_does_not() -> None:
    case, _ = ask()
    failed = question.decide(case, DeliveryFailed(ASKER, "question_answer", "550"), ctx())
    assert sent(failed)[0].template == "delivery_failed_alert"
    quiet = question.decide(case, DeliveryFailed(ASKER, "question_ack", "550"), ctx())
    assert not sent(quiet)


def test_published_out_of_turn_is_ignored() -> None:
    case, _ = ask()
    decision = question.decide(case, Published(PUBLIC_URL, 1), ctx())
    assert not sent(decision) and decision.state is None


def test_keys_are_unique_over_a_whole_case() -> None:
    case, decision = ask()
    events: list[Event] = [
        TimerFired("reminder", {"round": 1}),
        mail("Précision.", sender=ASKER, message_id="<q5@x>"),
        reply("Pour vous.", reviewer=DESTA, directives=("TRANSFÉRER: antai",), message_id="<r5@x>"),
        reply("Réponse.", reviewer="relecteur.antai@demo.test", message_id="<r6@x>"),
        Published(PUBLIC_URL, 1),
        mail("Et encore ?", sender=ASKER, message_id="<q6@x>"),
        reply("Complément.", reviewer="relecteur.antai@demo.test", message_id="<r7@x>"),
        Published(PUBLIC_URL, 2),
    ]
    case, steps = play(case, events, question.decide)
    keys = mail_keys(decision, *(step.decision for step in steps))
    assert len(keys) == len(set(keys)), keys
    assert case.state == "answered"


def test_triage_result_is_kept_in_the_case() -> None:
    case, _ = ask()
    triage = question_data(case.data).triage
    assert triage is not None and triage.space == "desta"
    assert isinstance(replace(TriageResult(space=None), space="x"), TriageResult)
    assert isinstance(mail(), MailReceived)
