"""Reading annexes ahead (`mailbot.loop.prefetch`): the drain hands out the messages in their
order, a few behind the fetch; the next messages are parsed and their annex given to a real
sandboxed worker meanwhile, and `Ingest` takes those results instead of doing the work again.
End to end on Dovecot: three subscriptions in one drain, each annex read once, ahead."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from harness import annex_xlsx, compose, make_bot, person, submit
from mailservers import MailEnv
from sqlmodel import Session, select

import mailbot.loop.ingest as ingest_module
import mailbot.loop.prefetch as prefetch_module
from mailbot.annex.reader import AnnexLimits, parse_annex_bytes
from mailbot.loop.prefetch import DEPTH, Prefetch
from mailbot.mail.parse import ParseLimits, parse_message
from storage.models import Case, CasePerson

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LIMITS = AnnexLimits.from_config()
PARSE = ParseLimits.from_config()


TOWN = SimpleNamespace(number=0, domain="mairie-exemple.fr")  # as a MailEnv names people


def subscription(n: int) -> bytes:
    people = [person(TOWN, f"p{n}x{i}") for i in range(2)]  # type: ignore[arg-type]
    return compose(
        f"mairie{n}@mairie-exemple.fr",
        "contact@extranet.test",
        "Demande d'abonnement",
        "Bonjour,\n\nVeuillez trouver ci-joint notre tableau.\n",
        attachments=[(f"annexe-{n}.xlsx", XLSX, annex_xlsx(people))],
    ).as_bytes()


def question(n: int) -> bytes:
    return compose(
        f"agent{n}@ville.fr", "contact@extranet.test", "Question", f"Bonjour, question {n}."
    ).as_bytes()


def sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def test_messages_come_out_in_order_with_the_next_ones_read_ahead() -> None:
    mails = [subscription(0), question(1), subscription(2), question(3)]
    prefetch = Prefetch(PARSE, LIMITS, max_bytes=10_000_000)
    handed = prefetch.ahead(enumerate(mails))
    uid, raw = next(handed)
    assert (uid, raw) == (0, mails[0])
    # When the first message is handed out, it and the DEPTH after it were parsed...
    for later in mails[: DEPTH + 1]:
        assert prefetch._parsed.keys() >= {sha(later)}
    assert sha(mails[DEPTH + 1]) not in prefetch._parsed
    # ...and the annex of the subscription among them is already with a worker.
    first = parse_message(mails[0], PARSE)
    [attachment] = first.attachments
    ahead = prefetch.annex(attachment.data or b"", attachment.filename)
    direct = parse_annex_bytes(
        attachment.data or b"", attachment.filename, LIMITS, values_copy=True
    )
    assert ahead is not None and ahead["rows"] and ahead["error"] is None
    assert dict(ahead) == dict(direct)
    assert ahead.values_copy  # the reviewers' copy, written in the same job
    # Taken once: the second ask does the work itself.
    assert prefetch.annex(attachment.data or b"", attachment.filename) is None
    mail = prefetch.parsed(sha(mails[0]))
    assert mail is not None and mail.subject == first.subject
    assert prefetch.parsed(sha(mails[0])) is None
    assert [uid for uid, _ in handed] == [1, 2, 3]
    # The drain is over: what was not taken is dropped.
    assert prefetch.parsed(sha(mails[2])) is None and not prefetch._annexes


def test_groups_come_out_whole_and_what_was_read_ahead_lasts_until_the_last_is_done() -> None:
    mails = [question(n) for n in range(7)]
    prefetch = Prefetch(PARSE, LIMITS, max_bytes=10_000_000)
    handed = prefetch.groups(enumerate(mails), 3)
    first = next(handed)
    assert [uid for uid, _ in first] == [0, 1, 2]
    # The group and the DEPTH after it were parsed before it was handed out.
    assert set(prefetch._parsed) == {sha(m) for m in mails[: 3 + DEPTH]}
    assert [uid for uid, _ in next(handed)] == [3, 4, 5]
    last = next(handed)
    assert [uid for uid, _ in last] == [6]
    # The input is exhausted, but the last group is still being decided: its parse is kept.
    assert prefetch.parsed(sha(mails[6])) is not None
    assert prefetch._parsed  # mails 3 to 5 were not taken (yet)
    assert next(handed, None) is None  # the drain asks for more: the end, and the clean-up
    assert not prefetch._parsed and not prefetch._annexes


def test_oversized_and_broken_messages_are_left_to_their_turn() -> None:
    big = question(0) + b"x" * 5000
    broken = b"\xff\xfe garbage without headers \x00" * 10
    mails = [big, broken, subscription(2)]
    prefetch = Prefetch(PARSE, LIMITS, max_bytes=4000)
    handed = list(prefetch.ahead(enumerate(mails)))
    assert handed == list(enumerate(mails))
    prefetch = Prefetch(PARSE, LIMITS, max_bytes=4000)
    gen = prefetch.ahead(enumerate(mails))
    next(gen)
    assert sha(big) not in prefetch._parsed  # refused unread when its turn comes
    gen.close()
    assert not prefetch._parsed and not prefetch._annexes


@pytest.mark.integration
def test_a_drain_reads_each_annex_once_ahead(
    mail_env: MailEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-prefetch-"))
    bot = make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)
    calls: dict[str, list[str | None]] = {"ahead": [], "in_turn": []}

    def counting(where: str, real: Any) -> Any:
        def parse(data: bytes, filename: str | None, *args: Any, **kwargs: Any) -> Any:
            calls[where].append(filename)
            return real(data, filename, *args, **kwargs)

        return parse

    monkeypatch.setattr(
        prefetch_module, "parse_annex_bytes", counting("ahead", prefetch_module.parse_annex_bytes)
    )
    monkeypatch.setattr(
        ingest_module, "parse_annex_bytes", counting("in_turn", ingest_module.parse_annex_bytes)
    )
    alice = mail_env.requesters[0]
    for n in range(3):
        people = [person(mail_env, f"p{n}x{i}") for i in range(2)]
        submit(
            mail_env,
            compose(
                alice.address,
                mail_env.bot.address,
                f"Demande d'abonnement {n}",
                "Bonjour,\n\nVeuillez trouver ci-joint notre tableau.\n",
                attachments=[(f"annexe-{n}.xlsx", XLSX, annex_xlsx(people))],
            ),
        )
    bot.run_once()
    assert sorted(calls["ahead"]) == ["annexe-0.xlsx", "annexe-1.xlsx", "annexe-2.xlsx"]
    assert calls["in_turn"] == []
    with Session(bot.engine) as session:
        cases = session.exec(select(Case).order_by(Case.id)).all()
        assert [c.kind for c in cases] == ["subscription"] * 3
        people = session.exec(select(CasePerson)).all()
        # Each case lists the two people of its own table.
        assert sorted((p.case_ref, p.email.split("-")[0]) for p in people) == sorted(
            (c.ref, f"p{n}x{i}") for n, c in enumerate(cases) for i in range(2)
        )
    bot.engine.dispose()
