"""`mailbot status` speaks French to the admins: the desk's state names, never a stored name
such as `under_review`, and the outbox, the journal and the instance in words."""

from __future__ import annotations

from mailbot.desk.status_text import status_lines

REPORT = {
    "cases": {"subscription:under_review": 2, "question:held": 1},
    "outbox": {"sent": 12, "failed": 1},
    "outbox_backlog": {
        "pending": 1,
        "oldest_pending_age_seconds": 320,
        "sending": 0,
        "sending_lease_expired": 0,
    },
    "journal": {"processed": 9, "quarantined": 1},
    "instance": {
        "active": {"holder": "vm:1:ab", "expired": False, "heartbeat_age_seconds": 4.2},
        "standby": [],
    },
}


def test_status_names_states_in_french() -> None:
    text = "\n".join(status_lines(REPORT))
    assert "Abonnement — En attente de relecture" in text
    assert "Question — Réponse en attente de publication" in text
    for raw in ("under_review", "held", "processed", "quarantined", "pending", "heartbeat"):
        assert raw not in text, raw
    assert "file d’attente : 1 en attente, le plus ancien depuis 5 min 20 s" in text
    assert "en quarantaine" in text and "dernier signe de vie il y a 4 s" in text


def test_status_of_an_empty_database() -> None:
    empty = {**REPORT, "cases": {}, "journal": {}, "instance": {"active": None, "standby": []}}
    text = "\n".join(status_lines(empty))
    assert "Dossiers :\n  aucun" in text and "aucune pour l’instant" in text
