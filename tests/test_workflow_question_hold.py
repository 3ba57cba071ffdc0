"""Held answers, decision by decision (pure: no I/O): the hold and its preview, the replies to
a preview (ANNULER, PUBLIER and approval phrasings, a new text, another member), the end of
the hold, CORRIGER / RETIRER / CLASSER, no double greeting, and a reopened question's answer
quoting the follow-up it answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from workflows_support import NOW, apply, ctx, effects_of, log_events, mail, opened, reply, sent

from workflows import question
from workflows.core import (
    CancelTimers,
    CaseView,
    Decision,
    Publish,
    Published,
    SetTimer,
    TimerFired,
    Withdraw,
)
from workflows.question_mails import opens_with_greeting, paris_time
from workflows.states import QuestionState
from workflows.text.directives import parse_directives
from workflows.text.hold_commands import read_hold_command
from workflows.text.triage import TriageResult

REF = "Q-2026-000042"
ASKER = "jean.dupont@ville-exemple.fr"
DESTA = "relecteur.desta@demo.test"
SECOND = "second.desta@demo.test"
QUESTION = "Bonjour,\nQuand l'interface CCSP sera-t-elle publiée ? Tél. 06 12 34 56 78\nJean Dupont"
ANSWER = "Bonjour Monsieur Dupont,\n\nElle sera publiée en décembre dans l'espace DESTA."
URL = f"https://portail.example.gouv.fr/espaces/desta/questions/{REF}"
HELD = ctx(
    publish_delay_minutes=15,
    groups={**ctx().groups, "desta": (DESTA, SECOND)},
)


def ask(text: str = QUESTION) -> CaseView:
    event = mail(
        text, subject="Interface CCSP", sender=ASKER, sender_name="Jean Dupont", message_id="<q1@x>"
    )
    triage = TriageResult("desta", {"desta": 4.0}, {"desta": ["ccsp"]}, False, [])
    return opened(question.start(event, ctx(triage=triage), REF), event, REF, "question")


def say(
    case: CaseView, text: str, *directives: str, by: str = DESTA, mid: str = "<r1@x>"
) -> Decision:
    return question.decide(
        case, reply(text, reviewer=by, directives=directives, message_id=mid), HELD
    )


def held(text: str = ANSWER, *directives: str) -> tuple[CaseView, Decision]:
    case = ask()
    decision = say(case, text, *directives)
    return apply(case, decision), decision


def end_of_hold(case: CaseView, seq: int = 1) -> tuple[CaseView, Decision]:
    decision = question.decide(case, TimerFired("hold", {"seq": seq}), HELD)
    return apply(case, decision), decision


# --------------------------------------------------------------------------- the hold


def test_an_answer_is_held_with_a_timer_and_previewed_to_its_reviewer_only() -> None:
    _case, decision = held()
    assert decision.state == QuestionState.HELD and not decision.closed
    assert effects_of(decision, Publish) == []
    (timer,) = effects_of(decision, SetTimer)
    assert (timer.name, timer.kind, timer.data) == ("hold", "hold", {"seq": 1})
    assert timer.due_at == NOW + timedelta(minutes=15)
    (preview,) = sent(decision, "question_preview")
    assert preview.to == (DESTA,)
    # the other member of the group is told « pris en charge », under their notification
    (taken,) = sent(decision, "review_taken")
    assert taken.to == (SECOND,) and taken.thread_notification and taken.context["by"] == DESTA
    assert preview.reviewer == DESTA  # carries the reviewer's token
    assert (
        preview.context["at_time"] == paris_time(NOW + timedelta(minutes=15)) == "9\u00a0h\u00a045"
    )
    assert "06 12 34 56 78" not in preview.context["published_question"]
    assert "Bonjour" not in preview.context["published_answer"]
    assert preview.context["answer"] == ANSWER and preview.context["greets"] is True
    assert "answer_held" in log_events(decision)


def test_the_hold_ends_published_then_mailed_with_a_short_confirmation() -> None:
    case, _ = held()
    case, decision = end_of_hold(case)
    assert decision.state == QuestionState.PUBLISHING
    (publish,) = effects_of(decision, Publish)
    assert publish.space == "desta" and "Dupont" not in publish.answer
    assert sent(decision) == []  # the asker is mailed once the portal has published
    decision = question.decide(case, Published(URL, 1), HELD)
    answer, confirmed = sent(decision)
    assert answer.template == "question_answer" and answer.reviewer is None
    assert confirmed.template == "question_released" and confirmed.reviewer == DESTA
    assert decision.state == QuestionState.ANSWERED


def test_a_stale_hold_timer_does_nothing() -> None:
    case, _ = held()
    case = apply(case, say(case, "Autre texte, plus complet.", mid="<r2@x>"))
    _, decision = end_of_hold(case, seq=1)  # the replaced answer's timer
    assert decision.effects == () and log_events(decision) == ["timer_stale"]


def test_delay_zero_sends_at_once_as_before() -> None:
    case = ask()
    decision = question.decide(case, reply(ANSWER, reviewer=DESTA), ctx(publish_delay_minutes=0))
    assert decision.state == QuestionState.PUBLISHING and effects_of(decision, Publish)


# --------------------------------------------------------------------------- replies to a preview


def test_annuler_cancels_and_reopens_with_reminders() -> None:
    case, _ = held()
    decision = say(case, "ANNULER", mid="<r2@x>")
    assert decision.state == QuestionState.OPEN
    assert CancelTimers(("hold",)) in decision.effects
    assert {t.kind for t in effects_of(decision, SetTimer)} == {"reminder", "escalation"}
    (told,) = sent(decision)
    assert told.context["action"] == "cancelled"


@pytest.mark.parametrize("text", ["PUBLIER", "publier maintenant", "Ok", "Je valide, merci"])
def test_publier_or_an_approval_sends_now(text: str) -> None:
    case, _ = held()
    decision = say(case, text, mid="<r2@x>")
    assert decision.state == QuestionState.PUBLISHING and effects_of(decision, Publish)
    assert "hold_published_now" in log_events(decision)


def test_a_new_text_replaces_the_held_answer_with_a_new_preview() -> None:
    case, _ = held("Je me renseigne et je reviens vers vous.")
    decision = say(case, ANSWER, mid="<r2@x>")
    assert decision.state is None  # still held
    (timer,) = effects_of(decision, SetTimer)
    assert timer.data == {"seq": 2}
    (preview,) = sent(decision, "question_preview")
    assert preview.context["replacing"] is True and preview.context["answer"] == ANSWER


def test_another_member_is_refused_naming_who_holds_the_case() -> None:
    case, _ = held()
    decision = say(case, "Ma réponse à moi.", by=SECOND, mid="<r2@x>")
    assert decision.state is None and effects_of(decision, SetTimer) == []
    (told,) = sent(decision)
    assert told.to == (SECOND,) and told.context["problem"] == "held_by_other"
    assert told.context["value"] == DESTA


def test_hors_perimetre_keeps_the_reviewers_text_and_is_held_too() -> None:
    parsed = parse_directives(
        "Bonjour,\nHORS PÉRIMÈTRE : votre question relève du CEREMA.", "question"
    )
    case, decision = held(parsed.text, *parsed.directives)
    assert sent(decision)[0].context["outcome"] == "redirected"
    _, decision = end_of_hold(case)
    (mail_, _confirmed) = sent(decision)
    assert mail_.template == "question_cerema"
    assert "Votre question relève du CEREMA." in mail_.context["reviewer_text"]
    assert effects_of(decision, Publish) == [] and decision.state == QuestionState.ANSWERED


def test_classer_without_message_closes_without_mailing_the_asker() -> None:
    case, decision = held("CLASSER")
    assert sent(decision)[0].context["mail_template"] is None
    _, decision = end_of_hold(case)
    (confirmed,) = sent(decision)
    assert confirmed.to == (DESTA,) and decision.state == QuestionState.ANSWERED


# --------------------------------------------------------------------------- after the hold


def published(text: str = ANSWER) -> CaseView:
    case, _ = held(text)
    case, _ = end_of_hold(case)
    return apply(case, question.decide(case, Published(URL, 1), HELD))


def test_corriger_publishes_a_marked_new_version_and_mails_the_asker() -> None:
    case = published()
    decision = say(case, "CORRIGER\nElle sera publiée en janvier.", mid="<r3@x>")
    (publish,) = effects_of(decision, Publish)
    assert publish.answer.endswith("Réponse corrigée le 10 novembre 2026.")
    case = apply(case, decision)
    decision = question.decide(case, Published(URL, 2), HELD)
    mail_, confirmed = sent(decision)
    assert mail_.context["corrected"] is True and mail_.key == "correction:2"
    assert confirmed.context["action"] == "corrected" and confirmed.context["version"] == 2


def test_retirer_withdraws_and_mails_the_asker_only_with_a_text() -> None:
    case = published()
    decision = say(case, "RETIRER", mid="<r3@x>")
    assert effects_of(decision, Withdraw) == [Withdraw()]
    assert [m.to for m in sent(decision)] == [(DESTA,)]
    decision = say(case, "RETIRER\nCette réponse n'est plus d'actualité.", mid="<r4@x>")
    assert sorted(m.to for m in sent(decision)) == [(ASKER,), (DESTA,)]
    again = say(apply(case, decision), "RETIRER", mid="<r5@x>")
    assert sent(again)[0].context["problem"] == "nothing_published"


def test_corriger_a_mail_only_answer_mails_the_correction_without_publishing() -> None:
    case, _ = held(ANSWER, "NE PAS PUBLIER")
    case, _ = end_of_hold(case)
    decision = say(case, "CORRIGER : En janvier, finalement.", mid="<r3@x>")
    assert effects_of(decision, Publish) == []
    assert [m.template for m in sent(decision)] == ["question_answer", "review_confirmation"]


@pytest.mark.parametrize("text", ["Finalement c'est en janvier.", "PUBLIER", "ANNULER"])
def test_anything_else_after_the_hold_points_to_corriger(text: str) -> None:
    decision = say(published(), text, mid="<r3@x>")
    (told,) = sent(decision)
    assert told.template == "review_help" and told.context["problem"] == "hold_over"


def test_commands_of_the_hold_on_an_open_question_get_help() -> None:
    decision = say(ask(), "ANNULER")
    assert sent(decision)[0].context["problem"] == "nothing_held"
    decision = say(ask(), "Ok")
    assert sent(decision)[0].context["problem"] == "command_on_question"


# --------------------------------------------------------------------------- templates


@pytest.mark.parametrize(
    ("text", "greets"),
    [
        ("Bonjour Madame Garnier,\nVoici.", True),
        ("Madame,\nVoici.", True),
        ("Bonjour,\nVoici.", True),
        ("Madame, Monsieur,\nVoici.", True),
        ("\n\nChère Madame,\nVoici.", True),
        ("La réponse est oui.", False),
        ("Bonjour Monsieur Dupont\nVoici.", True),
        ("Monsieur le maire a transmis la délibération du conseil municipal.", False),
    ],
)
def test_the_template_adds_no_greeting_when_the_reviewer_greets(text: str, greets: bool) -> None:
    assert opens_with_greeting(text) is greets


def test_a_reopened_question_is_answered_quoting_the_follow_up() -> None:
    case = published()
    follow = mail(
        "Et pour l'interface ANTAI, quand sera-t-elle publiée ?",
        sender=ASKER,
        message_id="<q2@x>",
        references=("<q1@x>",),
    )
    case = apply(case, question.decide(case, follow, HELD))
    case, _ = held_again(case)
    case, _ = end_of_hold(case, seq=2)
    decision = question.decide(case, Published(URL, 2), HELD)
    (mail_, _) = sent(decision)
    assert "interface ANTAI" in mail_.context["question_excerpt"]
    assert "CCSP" not in mail_.context["question_excerpt"]


def held_again(case: CaseView) -> tuple[CaseView, Decision]:
    decision = say(case, "Au premier trimestre.", mid="<r9@x>")
    return apply(case, decision), decision


@pytest.mark.parametrize(
    ("text", "verb", "rest"),
    [
        ("ANNULER", "ANNULER", ""),
        ("Bonjour,\n\nannuler, merci", "ANNULER", ""),
        ("Publier", "PUBLIER", ""),
        ("CORRIGER : Le texte.", "CORRIGER", "Le texte."),
        ("Corriger\n\nBonjour Madame,\nLe texte.", "CORRIGER", "Bonjour Madame,\nLe texte."),
        ("RETIRER", "RETIRER", ""),
        ("Classer sans suite", "CLASSER", ""),
        ("CLASSER : Réglé par téléphone.", "CLASSER", "Réglé par téléphone."),
    ],
)
def test_hold_commands_are_read_on_the_first_line(text: str, verb: str, rest: str) -> None:
    command = read_hold_command(text)
    assert command is not None and (command.verb, command.text) == (verb, rest)


@pytest.mark.parametrize(
    "text",
    [
        "Publier les arrêtés relève de la collectivité.",
        "Corriger une erreur de saisie se fait dans le logiciel.",
        "Annuler un FPS se fait par un RAPO.",
    ],
)
def test_an_answer_opening_with_a_verb_of_the_hold_stays_an_answer(text: str) -> None:
    assert read_hold_command(text, strict=True) is None


@pytest.mark.parametrize("text", ["CORRIGER : Finalement, oui.", "Une autre réponse."])
def test_a_closed_or_redirected_question_has_no_answer_to_correct(text: str) -> None:
    case, _ = held("CLASSER : Doublon.")
    case, _ = end_of_hold(case)
    decision = say(case, text, mid="<r3@x>")
    (told,) = sent(decision)
    assert told.context["problem"] == "already_closed" and effects_of(decision, Publish) == []


def test_a_reply_while_ones_own_answer_is_being_published_points_to_corriger() -> None:
    case, _ = held()
    case, _ = end_of_hold(case)  # publishing: the portal has not answered yet
    (told,) = sent(say(case, "Un ajout.", mid="<r3@x>"))
    assert told.template == "review_help" and told.context["problem"] == "hold_over"
