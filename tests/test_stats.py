"""The report's figures on a controlled dataset, checked by hand: weekly counts in Paris weeks,
median and nearest-rank 90th percentile, per space, per reviewer, overdue; and the retention
policy's pure parts (cut-offs, the anonymising walk)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from workflows.retention import ANONYMISED, RetentionPeriods, addresses_in, anonymise_json
from workflows.stats import (
    UNASSIGNED,
    CaseFacts,
    Transition,
    build_report,
    format_hours,
    percentile,
)

NOW = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)  # Wednesday 9 December 2026, 13:00 Paris
H = timedelta(hours=1)


def question(
    ref: str,
    created: datetime,
    answer_after: float | None,
    space: str = "desta",
    assignee: str | None = "relecteur.desta@interieur.gouv.fr",
    held_hours: float = 0.25,
) -> CaseFacts:
    transitions: tuple[Transition, ...] = ()
    closed = None
    if answer_after is not None:
        answered = created + answer_after * H
        closed = answered + held_hours * H
        transitions = (
            Transition(created, "received", "open"),
            Transition(answered, "open", "held"),
            Transition(closed, "held", "answered"),
        )
    return CaseFacts(ref, "question", space, space, assignee, created, closed, None, transitions)


def subscription(
    ref: str, created: datetime, complete_after: float, decide_after: float, refused: bool = False
) -> CaseFacts:
    asked = created + complete_after * H
    decided = created + decide_after * H
    end = "refused" if refused else "approved"
    transitions = (
        Transition(created, "received", "under_review"),
        Transition(asked, "under_review", "needs_info"),
        Transition(asked + H, "needs_info", "under_review"),
        Transition(decided, "under_review", end),
    )
    return CaseFacts(
        ref,
        "subscription",
        None,
        "abonnements",
        "relecteur.abonnements@interieur.gouv.fr",
        created,
        decided if refused else None,
        None,
        transitions,
    )


def dataset() -> list[CaseFacts]:
    monday = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # Monday 7 December, 09:00 Paris
    return [
        # DESTA: answered after 2, 4, 10 and 30 hours
        question("Q-1", monday - timedelta(days=7), 2),
        question("Q-2", monday - timedelta(days=7), 4),
        question("Q-3", monday, 10),
        question("Q-4", monday, 30),
        # ANTAI: one answered after 1 hour, one open and overdue, unassigned
        question("Q-5", monday, 1, space="antai", assignee="Relecteur.ANTAI@interieur.gouv.fr"),
        CaseFacts(
            "Q-6",
            "question",
            "antai",
            "antai",
            None,
            monday - timedelta(days=3),
            None,
            NOW - H,  # due an hour ago: overdue
            (Transition(monday - timedelta(days=3), "received", "open"),),
        ),
        # a subscription: COMPLÉTER after 5 h (first answer), refused after 50 h
        subscription("ABO-1", monday, 5, 50, refused=True),
        # Sunday 6 December 23:30 Paris = 22:30 UTC: in the week of 30 November
        question("Q-7", datetime(2026, 12, 6, 22, 30, tzinfo=UTC), None),
    ]


def test_weeks_are_paris_weeks_received_and_closed() -> None:
    report = build_report(dataset(), NOW, weeks=3)
    assert [w.start for w in report.weeks] == [
        date(2026, 11, 23),
        date(2026, 11, 30),
        date(2026, 12, 7),
    ]
    # week of 30 Nov: Q-1, Q-2 (Monday 30 Nov), Q-6 (Friday 4 Dec), Q-7 (Sunday 6 Dec in Paris)
    assert [w.received for w in report.weeks] == [0, 4, 4]
    # closed in the week of 30 Nov; and ABO-1 in the current one
    assert [w.closed for w in report.weeks] == [0, 2, 4]
    assert report.open_cases == 2  # Q-6 and Q-7 (ABO-1 was refused: closed)


def test_medians_and_p90_checked_by_hand() -> None:
    report = build_report(dataset(), NOW, weeks=3)
    [subs, antai, desta] = report.per_space  # alphabetical, whatever the case
    assert (subs.label, antai.label, desta.label) == ("Abonnements", "ANTAI", "DESTA")
    # DESTA first answers 2, 4, 10, 30 h: median (4+10)/2 = 7; p90 = ⌈0.9×4⌉ = 4th = 30
    assert desta.first_answer.count == 4
    assert desta.first_answer.median == 7.0 and desta.first_answer.p90 == 30.0
    # decision = answer + the 15-minute hold
    assert desta.decision.median == 7.25 and desta.decision.p90 == 30.25
    # the subscription: first answer is COMPLÉTER (5 h), decision the refusal (50 h)
    assert subs.first_answer.median == 5.0 and subs.decision.median == 50.0
    # ANTAI: one answered (1 h), one still open: counted only where it has a value
    assert antai.first_answer.count == 1 and antai.first_answer.median == 1.0
    # all: first answers 1, 2, 4, 5, 10, 30 → median 4.5, p90 = ⌈5.4⌉ = 6th = 30
    assert report.overall.first_answer.median == 4.5
    assert report.overall.first_answer.p90 == 30.0


def test_per_reviewer_and_overdue() -> None:
    report = build_report(dataset(), NOW, weeks=3)
    labels = [row.label for row in report.per_reviewer]
    assert labels == [
        "relecteur.abonnements@interieur.gouv.fr",
        "relecteur.antai@interieur.gouv.fr",  # lower-cased
        "relecteur.desta@interieur.gouv.fr",
        UNASSIGNED,  # last
    ]
    assert report.per_reviewer[2].first_answer.count == 4
    assert report.overdue == (("groupe antai (non attribué)", 1),)


def test_a_shorter_period_drops_older_cases_from_the_delays() -> None:
    report = build_report(dataset(), NOW, weeks=1)
    desta = next(r for r in report.per_space if r.label == "DESTA")
    assert desta.first_answer.count == 2  # only
    assert report.overdue == (("groupe antai (non attribué)", 1),)  # whenever created


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 90) is None
    assert percentile([7.0], 90) == 7.0
    assert percentile([float(i) for i in range(1, 11)], 90) == 9.0
    assert percentile([float(i) for i in range(1, 12)], 90) == 10.0


def test_hours_are_written_the_french_way() -> None:
    assert format_hours(None) == "—"
    assert format_hours(0.75) == "45\u00a0min"
    assert format_hours(7.25) == "7\u00a0h 15"
    assert format_hours(7) == "7\u00a0h"
    assert format_hours(50) == "2\u00a0j 2\u00a0h"
    assert format_hours(48) == "2\u00a0j"


def test_retention_cutoffs() -> None:
    periods = RetentionPeriods()
    closed = NOW - timedelta(days=100)
    assert periods.anonymise_due(closed, refused=True, now=NOW)
    assert not periods.anonymise_due(closed, refused=False, now=NOW)
    assert periods.anonymise_due(NOW - timedelta(days=366), refused=False, now=NOW)
    assert not periods.anonymise_due(None, refused=True, now=NOW)
    assert periods.journal_cutoff(NOW) == NOW - timedelta(days=90)


def test_anonymise_json_blanks_people_and_keeps_the_rest() -> None:
    record = {
        "question": "Bonjour, je suis Claire Martin (claire@ville.fr), où est le schéma ?",
        "published_question": "Où est le schéma ?",
        "people": [
            {
                "number": 1,
                "email": "claire@ville.fr",
                "first_name": "Claire",
                "last_name": "Martin",
                "organisation": "Ville de Lyon",
                "spaces": ["accueil", "desta"],
            }
        ],
        "answers": [{"by": "relecteur.desta@interieur.gouv.fr", "text": "Bonjour Claire…"}],
        "note": "écrit par claire@ville.fr le 3 décembre",
        "round": 2,
    }
    found = addresses_in(record)
    assert found == {"claire@ville.fr"}
    out = anonymise_json(record, found)
    assert out["question"] == ANONYMISED
    assert out["published_question"] == "Où est le schéma ?"
    [person] = out["people"]
    assert person["email"] == ANONYMISED and person["last_name"] == ANONYMISED
    assert person["organisation"] == "Ville de Lyon" and person["spaces"] == ["accueil", "desta"]
    assert out["answers"][0]["by"] == "relecteur.desta@interieur.gouv.fr"
    assert out["answers"][0]["text"] == ANONYMISED
    assert out["note"] == f"écrit par {ANONYMISED} le 3 décembre"
    assert out["round"] == 2
    assert "claire" not in str(out).lower()
