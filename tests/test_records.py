"""The typed case records (workflows.records): rows as the workflows wrote them before read
back to the same JSON, and rows with missing or odd keys read without a crash."""

from __future__ import annotations

import json
from typing import Any

import pytest

from workflows.records import (
    Person,
    QuestionRecord,
    ReviewDecision,
    SubscriptionRecord,
    record_from_json,
)
from workflows.text.triage import TriageResult

AT = "2026-11-10T09:30:00+01:00"
PERSON = {
    "row": 5,
    "requester_type": "collectivite",
    "organisation": "Commune d'Exemple-sur-Loire",
    "on_behalf_of": None,
    "siren": "213100407",
    "insee_code": "31555",
    "last_name": "Nom1",
    "first_name": "Agnès",
    "job_title": "Responsable du stationnement",
    "email": "personne1@ville-exemple.fr",
    "phone": "+33561000000",
    "spaces": ["accueil", "desta"],
    "number": 1,
}
# Every key the subscription workflow wrote before the records (an invited case after a
# COMPLÉTER, a new table, a partial approval and a failed invitation).
SUBSCRIPTION_ROW: dict[str, Any] = {
    "round": 2,
    "tables": 2,
    "people": [PERSON, {**PERSON, "email": "personne2@ville-exemple.fr", "number": 2, "row": 6}],
    "notes": [{"at": AT, "text": "Voici le tableau corrigé."}],
    "info_requests": [{"at": AT, "by": "relecteur@demo.test", "text": "Le SIREN ?"}],
    "history": [
        {"verb": "REFUSER", "by": "r@demo.test", "by_name": None, "at": AT, "reason": "Non."}
    ],
    "decision": {
        "verb": "APPROUVER",
        "by": "relecteur@demo.test",
        "by_name": "Relecteur",
        "at": AT,
        "approved": [1],
        "refused": [2],
    },
    "invitations": {
        "personne1@ville-exemple.fr": {
            "status": "failed",
            "spaces": ["accueil", "desta"],
            "sent_at": AT,
            "expires_at": "2026-12-10T09:30:00+01:00",
        }
    },
    "last_message_id": "<m2@ville-exemple.fr>",
    "annex_filename": "demande.xlsx",
    "warnings": ["La ligne 6 : le numéro de téléphone a été reformaté."],
    "table_received_at": AT,
    "failures": [
        {"at": AT, "to": "personne1@ville-exemple.fr", "template": "invitation", "reason": "550"}
    ],
}
TRIAGE = {
    "space": "desta",
    "scores": {"desta": 3.0, "antai": 0.0, "out_of_scope": 1.0},
    "matched": {"desta": ["ccsp", "interface"]},
    "out_of_scope": False,
    "out_of_scope_terms": ["tarif"],
}
# Every key the question workflow wrote before the records.
QUESTION_ROW: dict[str, Any] = {
    "round": 2,
    "round_at": AT,
    "question": "Bonjour,\nQuand la spécification CCSP sera-t-elle publiée ?\nAgnès",
    "published_question": "Quand la spécification CCSP sera-t-elle publiée ?",
    "triage": TRIAGE,
    "similar": [
        {"case_ref": "Q-2026-000001", "space_label": "ANTAI", "question": "FPS ?", "url": "u"}
    ],
    "followups": [{"at": AT, "text": "Et ?", "published": "Et ?", "after_answer": True}],
    "answers": [
        {"at": AT, "by": "d@demo.test", "text": "En décembre.", "outcome": "published", "round": 1}
    ],
    "publications": [{"space": "desta", "version": 1, "url": "u", "at": AT, "by": "d@demo.test"}],
    "transfers": [{"at": AT, "by": "a@demo.test", "from": "accueil", "to": "desta"}],
    "notes": [{"at": AT, "text": "Merci !"}],
    "last_message_id": "<q2@ville-exemple.fr>",
    "outcome": "published",
    "answered_by": "d@demo.test",
    "answered_at": AT,
    "pending": {
        "space": "desta",
        "question": "Quand ?",
        "answer": "En décembre.",
        "mail_answer": "Bonjour,\nEn décembre.",
        "by": "d@demo.test",
        "at": AT,
        "reviewer_message_id": "<r1@x>",
        "reviewer_references": ["<n1@x>"],
        "notes": ["La consigne « x » n'a pas été prise en compte."],
    },
    "published_question_text": "Quand ?",
    "published_answer": "En décembre.",
}


def _stored(data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(data))
    return result


def test_a_subscription_row_reads_back_to_the_same_json() -> None:
    record = SubscriptionRecord.from_json(_stored(SUBSCRIPTION_ROW))
    assert record.to_json() == SUBSCRIPTION_ROW
    assert record.people[1].email == "personne2@ville-exemple.fr"
    assert record.people[0].spaces == ("accueil", "desta")
    assert record.decision == ReviewDecision(
        "APPROUVER", "relecteur@demo.test", "Relecteur", AT, approved=(1,), refused=(2,)
    )
    assert record.history[0].reason == "Non." and record.history[0].approved is None
    assert record.invitations["personne1@ville-exemple.fr"].status == "failed"
    assert record.person("PERSONNE2@ville-exemple.fr") == record.people[1]
    assert SubscriptionRecord.from_json(record.to_json()) == record


def test_a_question_row_reads_back_to_the_same_json() -> None:
    record = QuestionRecord.from_json(_stored(QUESTION_ROW))
    assert record.to_json() == QUESTION_ROW
    assert record.triage == TriageResult(
        space="desta",
        scores={"desta": 3.0, "antai": 0.0, "out_of_scope": 1.0},
        matched={"desta": ["ccsp", "interface"]},
        out_of_scope_terms=["tarif"],
    )
    assert record.transfers[0].from_group == "accueil"
    assert record.pending is not None and record.pending.reviewer_references == ("<n1@x>",)
    assert QuestionRecord.from_json(record.to_json()) == record


@pytest.mark.parametrize("kind", ["question", "subscription"])
def test_an_empty_or_missing_row_is_an_empty_record(kind: str) -> None:
    for data in (None, {}):
        record = record_from_json(kind, data)
        assert record == (QuestionRecord() if kind == "question" else SubscriptionRecord())
    with pytest.raises(ValueError):
        record_from_json("other", {})


def test_rows_of_an_earlier_start_lack_later_keys() -> None:
    # What `start` wrote, before any table was usable (no annex_filename, warnings…).
    first = {
        "round": 0, "tables": 0, "people": [], "notes": [], "info_requests": [], "history": [],
        "decision": None, "invitations": {}, "last_message_id": "<m1@x>",
    }  # fmt: skip
    record = SubscriptionRecord.from_json(first)
    assert record == SubscriptionRecord(last_message_id="<m1@x>")
    assert {k: v for k, v in record.to_json().items() if k in first} == first
    question = QuestionRecord.from_json({"round": 1, "question": "Q ?", "triage": None})
    assert question.triage is None and question.pending is None and question.notes == ()


def test_odd_values_never_crash_and_unknown_keys_are_kept() -> None:
    odd = {
        "round": "3",
        "tables": None,
        "people": [None, "x", {"email": " Someone@Example.FR ", "number": "2", "spaces": []}],
        "notes": None,
        "decision": "APPROUVER",
        "invitations": {"A@B.FR": {"status": "sent"}, "c@d.fr": "sent"},
        "warnings": "not a list",
        "future_key": {"kept": True},
    }
    record = SubscriptionRecord.from_json(odd)
    assert record.round == 3 and record.tables == 0 and record.notes == ()
    assert record.people == (Person(number=2, email="someone@example.fr"),)
    assert record.decision is None and record.warnings == ()
    assert list(record.invitations) == ["a@b.fr"]
    assert record.extra == {"future_key": {"kept": True}}
    assert record.to_json()["future_key"] == {"kept": True}
    question = QuestionRecord.from_json(
        {"triage": {"scores": {"desta": "x"}, "matched": []}, "pending": [], "answers": [{}]}
    )
    assert question.triage == TriageResult(space=None) and question.pending is None
    assert question.answers[0].by is None and question.answers[0].round == 0
