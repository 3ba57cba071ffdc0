"""Score reply-text extraction on the public reply corpora, ours against mail-parser-reply alone.

    python bench/eval_replies.py [--corpus /work/shared/corpus] [--failures] [--library]

Scores the project's own fixtures (tests/fixtures/replies), then, when the corpus is present
(it is read in place, never copied into the project), the `_expected_derived.json` of
`mailgun-talon`, `alfonsrv-mail-parser-reply` and `github-email_reply_parser`: maps each upstream
check to a check on "the new text of the reply" (see MAPPING below and
docs/reply-text.md), and runs it on `workflows.text.reply_text.extract_new_text` and on
`EmailReplyParser(languages=["fr", "en"]).read(text).replies[0].body` (the library alone; HTML
inputs are turned into text with our html_to_text, without quote stripping, first).
"""

from __future__ import annotations

import argparse
import email
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from eval_reply_scores import reply_key, score_replies
from mailparser_reply import EmailReplyParser

from workflows.text.quote_markers import LIBRARY_LANGUAGES
from workflows.text.reply_html import html_to_text
from workflows.text.reply_text import extract_new_text

DEFAULT_CORPUS = Path("/work/shared/corpus")
OWN_FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "replies"
CORPORA = ("mailgun-talon", "alfonsrv-mail-parser-reply", "github-email_reply_parser")

# github/email_reply_parser checks fragments by index; these are the fragments that are new
# text (not quoted, not signature), read from the fixtures. Every other fragment must be gone.
GITHUB_NEW_TEXT_FRAGMENTS: dict[str, set[int]] = {
    "email_1_1": {0},
    "email_1_2": {0, 2},
    "email_1_3": {0},
    "email_1_4": {0},
    "email_1_6": {0},
    "email_1_7": {0},
    "email_1_8": {1, 3},
    "email_one_is_not_on": {0},
    "greedy_on": {0},
}

# Upstream expectations that contradict what mailbot wants from "new text" (CONTRACTS.md: quotes,
# attributions, signatures, mobile footers and forwarded blocks removed). A failing check whose
# name contains one of these keys is counted apart, as a design difference, not a miss.
DESIGN_DIFFERENCES: dict[str, str] = {
    "html_replies/": "upstream keeps the sign-off 'Thanks,\\nAlex'; we drop a thanks + name card",
    "iphone.eml": "upstream keeps 'Sent from my iPhone'; we drop mobile footers",
    "sparrow.eml": "upstream keeps the '-- ' signature; we drop it",
    "test_reply_wraps_quotations": "upstream keeps 'Regards, Roman'; we drop closing formulas",
    "test_reply_wraps_nested_quotations": "upstream keeps 'Regards, Roman'",
    "test_quotation_separator_takes_2_lines": "upstream keeps 'Regards, Roman'",
    "test_dont_parse_quotations_for_forwarded_messages": "upstream keeps forwarded mails",
    "test_regular_blockquote": "we drop every blockquote, upstream keeps one without header",
    "test_gmail_quote_blockquote": "we drop every blockquote",
    "test_readable_html_empty": "upstream returns the whole mail when all of it is quoted",
    "email_2_1.txt:test_gmail_header:replies[0].body": "upstream keeps a trailing '-----' line",
    "email_nl_1_2.txt:test_dutch_gmail_header:replies[0].body": "upstream keeps '-----'",
    "test_retains_bullets": "we collapse runs of blank lines into one",
    "email_pl_1_1.txt:test_pl_simple_body": "a mail that opens with a header block is a forward"
    " with no note above it: nothing was newly written (a forwarded question is no answer)",
}

Extractor = Callable[[str, str | None], str]


@dataclass(frozen=True)
class Input:
    text: str
    html: str | None


@dataclass(frozen=True)
class Check:
    """`kind`: equals | equals_stripped | equals_ws | contains | not_contains | regex |
    not_regex, applied to the new text."""

    corpus: str
    name: str
    kind: str
    value: str
    source: Input
    reply: str = ""  # the reply (input mail) the check is about; replies are scored whole


# --------------------------------------------------------------------------- extractors


def ours(text: str, html: str | None) -> str:
    return extract_new_text(text, html)


def library_alone(text: str, html: str | None) -> str:
    if not text.strip() and html:
        text = html_to_text(html)
    replies = EmailReplyParser(languages=list(LIBRARY_LANGUAGES)).read(text).replies
    return replies[0].body if replies else ""


# --------------------------------------------------------------------------- inputs


def _decode_eml(path: Path) -> Input:
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    parts = {"plain": "", "html": ""}
    for part in message.walk():
        subtype = part.get_content_subtype()
        if part.get_content_maintype() == "text" and subtype in parts and not parts[subtype]:
            parts[subtype] = str(part.get_content())
    return Input(parts["plain"], parts["html"] or None)


def _source(folder: Path, record: dict[str, Any], html: bool) -> Input:
    if record.get("fixture") is None:
        raw = record["input"]
        return Input("", raw) if html else Input(raw, None)
    path = folder / record["fixture"]
    if path.suffix == ".eml":
        return _decode_eml(path)
    raw = path.read_text(encoding="utf-8", errors="replace")
    return Input("", raw) if html else Input(raw, None)


# --------------------------------------------------------------------------- mapping


def _talon(folder: Path, record: dict[str, Any]) -> list[Check]:
    checks = []
    for check in record["checks"]:
        target, value = check["target"], check["value"]
        name = f"{record.get('fixture') or ''}:{record['test']}"
        if "html" in target:
            source = _source(folder, record, html=True)
            expected = value if target.startswith("html_to_text") else html_to_text(value)
            checks.append(Check("mailgun-talon", name, "equals_ws", expected, source))
        elif target.startswith("signature"):
            body = _source(folder, record, html=False)
            whole = body.text.strip()
            expected = whole[: -len(value)] if value and whole.endswith(value) else whole
            checks.append(Check("mailgun-talon", name, "equals_stripped", expected, body))
        else:
            kind = "equals_stripped" if check["op"] == "equals_stripped" else "equals"
            checks.append(Check("mailgun-talon", name, kind, value, _source(folder, record, False)))
    return checks


def _alfonsrv(folder: Path, record: dict[str, Any]) -> list[Check]:
    checks = []
    source = _source(folder, record, html=False)
    for check in record["checks"]:
        target, op, value = check["target"], check["op"], check["value"]
        match = re.match(r"replies\[(\d)\]\.(\w+)", target)
        if not match or not isinstance(value, str):
            continue  # len(replies): how the library splits a thread, not the new text
        index, part = int(match[1]), match[2]
        name = f"{record['fixture']}:{record['test']}:{target} {op}"
        kind: str | None = None
        if index == 0 and part == "body":
            kind = {"equals": "equals", "contains": "contains", "not_contains": "not_contains"}[op]
        elif index == 0 and part == "signatures" and op != "not_contains" and value:
            kind = "not_contains"  # the signature is not new text
        elif index > 0 and op in ("contains", "equals") and value:
            kind = "not_contains"  # anything of an older reply is not new text
        if kind:
            checks.append(Check("alfonsrv-mail-parser-reply", name, kind, value, source))
    return checks


def _github(folder: Path, record: dict[str, Any]) -> list[Check]:
    checks = []
    source = _source(folder, record, html=False)
    stem = Path(record["fixture"]).stem
    for check in record["checks"]:
        target, op, value = check["target"], check["op"], check["value"]
        name = f"{record['fixture']}:{record['test']}:{target} {op}"
        if target == "visible_text":
            checks.append(Check("github-email_reply_parser", name, "equals", value, source))
            continue
        match = re.match(r"fragments\[(\d)\]$", target)
        if not match or not value.strip():
            continue  # fragments.count, or a blank fragment
        inside = int(match[1]) in GITHUB_NEW_TEXT_FRAGMENTS.get(stem, set())
        if op == "regex":
            kind = "regex" if inside else "not_regex"
        else:
            kind = "contains" if inside else "not_contains"
            value = value.strip()
        checks.append(Check("github-email_reply_parser", name, kind, value, source))
    return checks


MAPPING: dict[str, Callable[[Path, dict[str, Any]], list[Check]]] = {
    "mailgun-talon": _talon,
    "alfonsrv-mail-parser-reply": _alfonsrv,
    "github-email_reply_parser": _github,
}


def own_fixture_checks() -> list[Check]:
    """The project's own French fixtures: the whole new text must match."""
    expected = json.loads((OWN_FIXTURES / "expected.json").read_text(encoding="utf-8"))
    return [
        Check(
            "mailbot fixtures (own)",
            name,
            "equals",
            entry["new_text"],
            _decode_eml(OWN_FIXTURES / name),
        )
        for name, entry in sorted(expected.items())
    ]


def load_checks(corpus: Path) -> list[Check]:
    checks: list[Check] = []
    for name in CORPORA:
        folder = corpus / name
        derived = folder / "_expected_derived.json"
        if not derived.is_file():
            continue
        for record in json.loads(derived.read_text(encoding="utf-8"))["records"]:
            if record.get("upstream_patches"):
                continue  # the upstream test changed the library's constants
            found = MAPPING[name](folder, record)
            if found:
                source = found[0].source
                key = reply_key(name, record.get("fixture"), source.text, source.html)
                checks.extend(replace(check, reply=key) for check in found)
    return checks


# --------------------------------------------------------------------------- scoring


def passes(check: Check, produced: str) -> bool:
    value = check.value
    if check.kind == "equals":
        return produced == value
    if check.kind == "equals_stripped":
        return produced.strip() == value.strip()
    if check.kind == "equals_ws":
        return re.sub(r"\s+", "", produced) == re.sub(r"\s+", "", value)
    if check.kind == "contains":
        return value in produced
    if check.kind == "not_contains":
        return value not in produced
    found = re.search(value, produced, re.MULTILINE) is not None
    return found if check.kind == "regex" else not found


def _results(check: Check) -> tuple[str, str]:
    text, html = check.source.text, check.source.html
    return ours(text, html), library_alone(text, html)


def _print_reply_scores(checks: list[Check], results: dict[int, tuple[str, str]]) -> None:
    """The two scores issue 11 tracks: whole replies right, overall and French clients."""
    tallies = score_replies(
        checks,
        ours=lambda check: passes(check, results[id(check)][0]),
        library=lambda check: passes(check, results[id(check)][1]),
        by_design=lambda check: design_difference(check) is not None,
    )
    print("\nWhole replies right (every check on the reply passes):")
    print(tallies["corpus"].line("overall, upstream corpora"))
    print(tallies["french"].line("French client replies, upstream corpora"))
    print(tallies["own"].line("own fixtures (tests/fixtures/replies)"))


def design_difference(check: Check) -> str | None:
    return next((why for key, why in DESIGN_DIFFERENCES.items() if key in check.name), None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--failures", action="store_true", help="list the checks we fail")
    parser.add_argument("--library", action="store_true", help="also list the library's misses")
    args = parser.parse_args(argv)
    checks = own_fixture_checks()
    if args.corpus.is_dir():
        checks += load_checks(args.corpus)
    else:
        print(f"corpus not found: {args.corpus} (only the project's fixtures are scored)")
    results = {id(check): _results(check) for check in checks}
    rows: dict[str, list[int]] = {}
    failures: list[tuple[Check, str]] = []
    library_failures: list[tuple[Check, str]] = []
    for check in checks:
        produced, alone = results[id(check)]
        row = rows.setdefault(check.corpus, [0, 0, 0, 0])
        good = passes(check, produced)
        row[0] += 1
        row[1] += good
        row[2] += passes(check, alone)
        if not passes(check, alone):
            library_failures.append((check, alone))
        row[3] += not good and design_difference(check) is not None
        if not good:
            failures.append((check, produced))
    header = ("corpus", "checks", "ours", "library alone", "ours: by design")
    print(f"{header[0]:<28} {header[1]:>6} {header[2]:>6} {header[3]:>14} {header[4]:>16}")
    for corpus, (total, passed, lib, design) in rows.items():
        print(f"{corpus:<28} {total:>6} {passed:>6} {lib:>14} {design:>16}")
    sums = [sum(row[k] for row in rows.values()) for k in range(4)]
    print(f"{'total':<28} {sums[0]:>6} {sums[1]:>6} {sums[2]:>14} {sums[3]:>16}")
    _print_reply_scores(checks, results)
    if args.failures:
        for check, produced in failures:
            why = design_difference(check)
            print(
                f"\nFAIL {check.corpus} {check.name} [{check.kind}]"
                + (f" (design: {why})" if why else "")
            )
            print(f"  expected: {check.value!r}"[:400])
            print(f"  produced: {produced!r}"[:400])
    if args.library:
        for check, produced in library_failures:
            print(f"\nLIBRARY FAIL {check.corpus} {check.name} [{check.kind}]")
            print(f"  produced: {produced!r}"[:300])
    return 0


if __name__ == "__main__":
    sys.exit(main())
