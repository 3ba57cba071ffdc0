"""Reading the next mails' annexes while the current one is decided.

The drain decides the messages of a fetch one after the other, each in its transaction, and a
subscription's annex is read by a sandboxed worker (`mailbot.annex.pool`): without this, the
daemon waited for the worker, lock held, once per subscription. `ahead` lets the drain run a
few messages behind the fetch: each message it has not handed out yet is parsed, and its first
spreadsheet (the one `classify` names as the annex) is given to a worker by a thread of ours.
When the message's turn comes, `Ingest` takes the parsed message and the annex's result from
here instead of doing the work again; whatever is not taken (a mail that turned out to be a
bounce, a spreadsheet that is not the annex of its mail) is dropped when the drain ends.

Only the work is done ahead: nothing is decided, written or sent before the message's turn,
and a message whose result is not here (a replay, `mailbot inspect`) is read as before.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing

from mailbot.annex.reader import AnnexLimits, AnnexResult, parse_annex_bytes
from mailbot.mail.classify import first_spreadsheet
from mailbot.mail.parse import ParsedMail, ParseLimits, parse_message

log = logging.getLogger(__name__)

# Messages parsed (and annexes started) ahead of the one being decided.
DEPTH = 2

AnnexKey = tuple[bytes, str | None]


def annex_key(data: bytes, filename: str | None) -> AnnexKey:
    return hashlib.sha256(data).digest(), filename


class Prefetch:
    def __init__(self, parse_limits: ParseLimits, annex_limits: AnnexLimits, max_bytes: int):
        self.parse_limits = parse_limits
        self.annex_limits = annex_limits
        self.max_bytes = max_bytes
        self._parsed: dict[str, ParsedMail] = {}  # by the raw bytes' SHA-256 (hex)
        self._annexes: dict[AnnexKey, Future[AnnexResult]] = {}
        self._executor: ThreadPoolExecutor | None = None

    def ahead(self, items: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
        """`items` (uid, raw bytes) in their order, each handed out once the DEPTH after it
        have been started."""
        with closing(self.groups(items, 1)) as handed:
            for group in handed:
                yield group[0]

    def groups(
        self, items: Iterable[tuple[int, bytes]], size: int
    ) -> Generator[list[tuple[int, bytes]], None, None]:
        """`items` handed out `size` at a time (the drain journals a group together), each
        group once the DEPTH items after it have been started. What was read ahead is dropped
        when the caller asks for the group after the last one, or stops asking."""
        window: deque[tuple[int, bytes]] = deque()
        try:
            for item in items:
                self._start(item[1])
                window.append(item)
                if len(window) >= size + DEPTH:
                    yield [window.popleft() for _ in range(size)]
            while window:
                yield [window.popleft() for _ in range(min(size, len(window)))]
        finally:
            self._parsed.clear()
            for future in self._annexes.values():
                future.cancel()  # not yet started: never given to a worker
            self._annexes.clear()

    def parsed(self, sha256: str) -> ParsedMail | None:
        """The message with these raw bytes, if it was parsed ahead (taken: asked once)."""
        return self._parsed.pop(sha256, None)

    def annex(self, data: bytes, filename: str | None) -> AnnexResult | None:
        """The worker's result for this annex if it was started ahead (it is waited for)."""
        future = self._annexes.pop(annex_key(data, filename), None)
        return future.result() if future is not None else None

    def _start(self, raw: bytes) -> None:
        if len(raw) > self.max_bytes:
            return  # refused unread when its turn comes
        try:
            mail = parse_message(raw, self.parse_limits)
        except Exception:  # its turn will meet the same error and quarantine it
            log.debug("prefetch: message not parsable ahead", exc_info=True)
            return
        self._parsed[hashlib.sha256(raw).hexdigest()] = mail
        attachment = None if mail.unparsable else first_spreadsheet(mail)
        if attachment is None or not attachment.data:
            return
        key = annex_key(attachment.data, attachment.filename)
        if key in self._annexes:
            return
        if self._executor is None:
            workers = max(self.annex_limits.workers, 1)
            self._executor = ThreadPoolExecutor(workers, thread_name_prefix="annex-prefetch")
        self._annexes[key] = self._executor.submit(
            parse_annex_bytes,
            attachment.data,
            attachment.filename,
            self.annex_limits,
            values_copy=True,
        )
