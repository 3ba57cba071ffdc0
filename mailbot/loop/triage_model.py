"""The triage model's life in the shell: the labelled examples the reviewers' decisions leave
(`record_examples`, called where a decision is applied), and the model learnt from them and
from the published Q&A (`retrain`, at start-up and daily by the scheduler; `model_for`, what
the triage of a new question uses).

An example is recorded when a decision on a question says where it belongs:
- `transferred` (TRANSFÉRER: group) → the space the group handles;
- `redirected_cerema` by a reviewer (HORS PÉRIMÈTRE) → `out_of_scope`;
- `answer_submitted` in a space other than the one the triage guessed (ESPACE:) → that space;
- `reassigned` (an admin's reassignment: its `space`, else its group `to`) → that space.
The model also learns the project's labelled set (`[questions] seed_examples`), so that it
helps from the first day; a reviewer's example weighs `REVIEWER_WEIGHT` times a seed or a
published question (it is a correction). The model is kept per database (one per engine URL),
in memory: it is rebuilt in milliseconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from mailbot.config import Config
from storage.db import read_scope
from storage.models import Case, Publication, TriageExample
from workflows.core import SPACES, Decision
from workflows.records import QuestionRecord
from workflows.text.triage import OUT_OF_SCOPE
from workflows.triage.evaluate import read_examples
from workflows.triage.model import Model, train_weighted

log = logging.getLogger(__name__)

MAX_EXAMPLES = 5000  # the most recent ones; a few thousand train in well under a second
REVIEWER_WEIGHT = 3
PROJECT_ROOT = Path(__file__).resolve().parents[2]
LABELS = (*SPACES, OUT_OF_SCOPE)

_models: dict[str, Model | None] = {}


def _space_of_group(config: Config, group: object) -> str | None:
    found = config.reviewers.groups.get(str(group))
    for handle in found.handles if found else ():
        kind, _, space = handle.partition(":")
        if kind == "question" and space in SPACES:
            return space
    return None


def _label(
    config: Config, event: str, fields: Mapping[str, Any], guessed: str | None
) -> str | None:
    if event == "transferred":
        return _space_of_group(config, fields.get("to"))
    if event == "redirected_cerema" and not fields.get("auto"):
        return OUT_OF_SCOPE
    if event == "answer_submitted" and fields.get("space") != guessed:
        return str(fields.get("space"))
    if event == "reassigned":
        space = fields.get("space")
        return str(space) if space in SPACES else _space_of_group(config, fields.get("to"))
    return None


def record_examples(
    session: Session, config: Config, case: Case, decision: Decision, now: datetime
) -> None:
    """Store the labelled examples `decision` teaches (in the decision's transaction)."""
    if case.kind != "question":
        return
    data: QuestionRecord | None = None
    for line in decision.log:
        if data is None:
            data = QuestionRecord.from_json(case.data or {})
        guessed = data.triage.space if data.triage else None
        label = _label(config, line.event, line.fields, guessed)
        if label not in LABELS:
            continue
        by = line.fields.get("by")
        session.add(
            TriageExample(
                case_ref=case.ref,
                label=str(label),
                text=f"{case.subject or ''}\n{data.question}",
                source=line.event,
                by=str(by) if by else None,
                at=now,
            )
        )


@lru_cache(maxsize=4)
def seed_examples(path: str) -> tuple[tuple[str, str], ...]:
    """The labelled set at `path` (relative to the project's root), () when none."""
    if not path:
        return ()
    file = Path(path) if Path(path).is_absolute() else PROJECT_ROOT / path
    try:
        examples = read_examples(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        log.warning("triage seed examples not read: %s", err)
        return ()
    return tuple((e.text, e.label) for e in examples)


def training_examples(session: Session, seed: str = "") -> Iterator[tuple[str, str, int]]:
    """(text, label, weight): the latest reviewer example of each case, every published Q&A
    (the latest version of each case, withdrawn ones left out), then the seed set."""
    examples = session.exec(
        select(TriageExample).order_by(col(TriageExample.at).desc()).limit(MAX_EXAMPLES)
    ).all()
    seen: set[str] = set()
    for example in examples:
        if example.case_ref not in seen:
            seen.add(example.case_ref)
            yield example.text, example.label, REVIEWER_WEIGHT
    published = session.exec(
        select(Publication)
        .where(col(Publication.withdrawn_at).is_(None))
        .order_by(col(Publication.published_at).desc())
        .limit(MAX_EXAMPLES)
    ).all()
    for row in published:
        if row.case_ref not in seen and row.space in SPACES:
            seen.add(row.case_ref)
            yield row.question, row.space, 1
    for text, label in seed_examples(seed):
        yield text, label, 1


def retrain(engine: Engine, config: Config) -> Model | None:
    """Learn the model again from the database; the triage uses it from now on."""
    started = time.perf_counter()
    with read_scope(engine) as session:
        model = train_weighted(training_examples(session, config.questions.seed_examples))
    _models[str(engine.url)] = model
    took = (time.perf_counter() - started) * 1000
    learnt = dict(model.examples) if model else {}
    log.info("triage model retrained in %.0f ms from %s", took, learnt or "no examples")
    return model


def model_for(session: Session, config: Config) -> Model | None:
    """The model of this session's database, learnt on first use if the process has none."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    key = str(engine.url)
    if key not in _models:
        _models[key] = train_weighted(training_examples(session, config.questions.seed_examples))
    return _models[key]
