"""The triage model in the shell, on real databases (SQLite and PostgreSQL through the Alembic
migrations): which decisions leave a labelled example, what the model is trained on, and how
fast it learns a few thousand questions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pgutil import postgres_database
from sqlalchemy import Engine
from sqlmodel import Session, select

from mailbot.config import Config, load_config
from mailbot.loop.triage_model import model_for, record_examples, retrain, training_examples
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import Case, Publication, TriageExample
from workflows.core import Decision, LogLine
from workflows.records import QuestionRecord
from workflows.text.triage import TriageResult

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
QUESTION = "Quels panneaux installer à l'entrée de la zone payante ?"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(ROOT / "config.toml")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/m.db"
        upgrade(url)
        made = make_engine(url)
        yield made
        made.dispose()
        return
    with postgres_database() as url:
        upgrade(url)
        made = make_engine(url)
        yield made
        made.dispose()


def question_case(session: Session, ref: str, guessed: str | None) -> Case:
    record = QuestionRecord(question=QUESTION, triage=TriageResult(space=guessed))
    case = Case(
        ref=ref,
        kind="question",
        state="open",
        requester="mairie@exemple.fr",
        subject="Signalisation",
        data=record.to_json(),
    )
    session.add(case)
    session.flush()
    return case


@pytest.mark.parametrize(
    ("line", "guessed", "label"),
    [
        (LogLine("transferred", {"from": "accueil", "to": "desta", "by": "r@x"}), None, "desta"),
        (LogLine("redirected_cerema", {"auto": False, "by": "r@x"}), "antai", "out_of_scope"),
        (LogLine("answer_submitted", {"space": "antai", "by": "r@x"}), "desta", "antai"),
        (LogLine("reassigned", {"to": "antai", "by": "admin@x"}), "desta", "antai"),
        (LogLine("reassigned", {"space": "accueil", "to": "x"}), "desta", "accueil"),
        # not a correction: the automatic redirection, an answer where the triage put it
        (LogLine("redirected_cerema", {"auto": True, "by": None}), None, None),
        (LogLine("answer_submitted", {"space": "desta", "by": "r@x"}), "desta", None),
        (LogLine("transferred", {"from": "accueil", "to": "abonnements"}), None, None),
    ],
)
def test_decisions_that_set_the_space_leave_an_example(
    engine: Engine, config: Config, line: LogLine, guessed: str | None, label: str | None
) -> None:
    with Session(engine) as session:
        case = question_case(session, "Q-2026-000001", guessed)
        record_examples(session, config, case, Decision(log=(line,)), NOW)
        session.commit()
        rows = session.exec(select(TriageExample)).all()
    assert [r.label for r in rows] == ([label] if label else [])
    if label:
        assert rows[0].text == f"Signalisation\n{QUESTION}" and rows[0].source == line.event


def test_training_reads_corrections_publications_and_the_seed(
    engine: Engine, config: Config
) -> None:
    with Session(engine) as session:
        for hour, label in ((9, "desta"), (10, "antai")):  # transferred twice: antai is right
            at = NOW.replace(hour=hour)
            session.add(
                TriageExample(case_ref="Q-2026-000001", label=label, text="t", source="x", at=at)
            )
        for ref, withdrawn in (("Q-2026-000002", None), ("Q-2026-000003", NOW)):
            session.add(
                Publication(
                    case_ref=ref, version=1, space="desta", question=ref, url="u",
                    withdrawn_at=withdrawn,
                )
            )  # fmt: skip
        session.commit()
        found = list(training_examples(session, config.questions.seed_examples))
    reviewers = [f for f in found if f[2] == 3]
    assert reviewers == [("t", "antai", 3)]  # the latest example of the case only
    assert ("Q-2026-000002", "desta", 1) in found and ("Q-2026-000003", "desta", 1) not in found
    assert len(found) == 1 + 1 + 152  # and the labelled set


def test_retrain_learns_thousands_of_examples_from_the_database(
    engine: Engine, config: Config
) -> None:
    with Session(engine) as session:
        for i in range(3000):
            label = ("accueil", "desta", "antai", "out_of_scope")[i % 4]
            text = f"Question {i} sur {label} : décret, interface, avis de paiement, horodateur"
            ref = f"Q-2026-{i:06d}"
            session.add(TriageExample(case_ref=ref, label=label, text=text, source="x"))
        session.commit()
    started = time.perf_counter()
    model = retrain(engine, config)
    took = time.perf_counter() - started
    print(f"\nretrain from the database: 3000 examples + 152 seed in {took * 1000:.0f} ms")
    assert model is not None and sum(model.examples.values()) == 3152
    with Session(engine) as session:
        assert model_for(session, config) is model  # what the next question's triage uses
