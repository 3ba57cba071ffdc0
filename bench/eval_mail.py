"""Measure mail understanding on the shared corpus of real mail (read in place, never copied).

    python bench/eval_mail.py [--corpus /work/shared/corpus] [--verbose]

- `ikvk-imap_tools`: each `.eml` against the expected values of its `.py` file (subject,
  from, to, date, text, html, attachment names and sizes), per field and overall.
- `sisimai-set-of-emails`: how many bounces / delivery reports are classified `bounce`, how
  many RFC 3834 auto-replies `auto_reply`, and how many end up a `question` (a mail we would
  answer: the failure that matters, invariant 4).

The `.py` files are read with `ast`, evaluating only literals and the few constructors they
use (`datetime`, `timezone`, `timedelta`, `EmailAddress`, `dict`): corpus files are data.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mailbot.mail.classify import ClassifyContext, classify  # noqa: E402
from mailbot.mail.parse import ParsedMail, parse_message  # noqa: E402

DEFAULT_CORPUS = Path("/work/shared/corpus")
IMAP_FIELDS = ("subject", "from", "to", "date", "text", "html", "attachments")

# --------------------------------------------------------------------------- safe loading


def _email_address(name: str = "", email: str = "") -> dict[str, str]:
    return {"name": name, "email": email}


_CALLS: dict[str, Callable[..., Any]] = {
    "datetime.datetime": dt.datetime,
    "datetime.timezone": dt.timezone,
    "datetime.timedelta": dt.timedelta,
    "EmailAddress": _email_address,
    "dict": dict,
}


def _call_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_call_name(node.value)}.{node.attr}"
    raise ValueError("unsupported call target")


def _eval(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Tuple | ast.List):
        return [_eval(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {_eval(k): _eval(v) for k, v in zip(node.keys, node.values, strict=True) if k}
    if isinstance(node, ast.Attribute) and _call_name(node) == "datetime.timezone.utc":
        return dt.UTC
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _eval(node.left) + _eval(node.right)
    if isinstance(node, ast.Call):
        func = _CALLS[_call_name(node.func)]
        args = [_eval(a) for a in node.args]
        kwargs = {k.arg: _eval(k.value) for k in node.keywords if k.arg}
        return func(*args, **kwargs)
    raise ValueError(f"unsupported expression {type(node).__name__}")


def load_expected(path: Path) -> dict[str, Any]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "DATA" for t in stmt.targets
        ):
            value = _eval(stmt.value)
            if isinstance(value, dict):
                return value
    raise ValueError(f"{path}: no DATA dict")


# --------------------------------------------------------------------------- imap_tools


def _norm(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def _squash(text: str | None) -> str:
    return "".join((text or "").split())


def _html(text: str | None) -> str:
    """imap_tools rewrites the charset of HTML `<meta>` to utf-8 once decoded: so do we."""
    return re.sub(r"(?i)charset=[\w-]+", "charset=utf-8", _norm(text))


def _attachments(mail: ParsedMail, exp: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """(expected, got) as sorted (name, size) pairs. Forwarded messages compare by name only
    (upstream re-serialises them); an unnamed one upstream is one we named after its subject."""
    expected: list[tuple[str, int | None]] = []
    unnamed_messages = 0
    for a in exp["attachments"]:
        is_message = a["content_type"] == "message/rfc822"
        if a["filename"]:
            expected.append((a["filename"], None if is_message else len(a["payload"])))
        elif is_message:
            unnamed_messages += 1
    names = {name for name, _ in expected}
    got: list[tuple[str, int | None]] = []
    for att in mail.attachments:
        if not att.filename:
            continue
        if att.content_type == "message/rfc822":
            if att.filename not in names and unnamed_messages:
                unnamed_messages -= 1
                continue
            got.append((att.filename, None))
        else:
            got.append((att.filename, att.size))
    return sorted(expected, key=str), sorted(got, key=str)


def compare_imap(mail: ParsedMail, exp: dict[str, Any]) -> dict[str, bool]:
    """Field → matches. Text and HTML compare with line endings normalised and the ends
    stripped (imap_tools keeps CRLF, we give LF); attachments compare the named ones."""
    exp_att, got_att = _attachments(mail, exp)
    exp_from = (exp.get("from_") or "").lower()
    return {
        "subject": _squash(mail.subject) == _squash(exp["subject"]),
        "from": (mail.from_addr or "") == exp_from,
        "to": mail.to == list(dict.fromkeys(t.lower() for t in exp["to"] if t)),
        "date": _same_date(mail.date, exp.get("date")),
        "text": _norm(mail.text) == _norm(exp["text"]),
        "html": _html(mail.html) == _html(exp["html"]),
        "attachments": got_att == exp_att,
    }


def text_difference_by_design(mail: ParsedMail, exp: dict[str, Any]) -> str | None:
    """Why our text differs from imap_tools' on purpose, or None."""
    if not exp["text"] and mail.html:
        return "HTML-only mail: we give its text, upstream an empty string"
    nested = any(a.content_type == "message/rfc822" for a in mail.attachments)
    if nested and _norm(exp["text"]).startswith(_norm(mail.text)[:200]):
        return "forwarded message: upstream appends its body, we keep it in the .eml"
    if nested and not exp["text"].strip():
        return "forwarded message: upstream appends its body, we keep it in the .eml"
    return None


def _same_date(got: dt.datetime | None, exp: Any) -> bool:
    if not isinstance(exp, dt.datetime) or exp.year == 1900:  # imap_tools' "no date" value
        return got is None
    if got is None:
        return False
    if exp.tzinfo is None:
        exp = exp.replace(tzinfo=dt.UTC)
    return got == exp


def eval_imap_tools(folder: Path, verbose: bool) -> dict[str, Any]:
    per_field: Counter[str] = Counter()
    failures: dict[str, list[str]] = {f: [] for f in IMAP_FIELDS}
    total = all_ok = 0
    by_design: dict[str, int] = {}
    other_text: list[str] = []
    for eml in sorted((folder / "tests" / "messages").rglob("*.eml")):
        rel = eml.relative_to(folder / "tests" / "messages")
        expected_path = folder / "tests" / "messages_data" / rel.with_suffix(".py")
        if not expected_path.exists():
            continue
        exp = load_expected(expected_path)
        mail = parse_message(eml.read_bytes())
        result = compare_imap(mail, exp)
        total += 1
        all_ok += all(result.values())
        if not result["text"]:
            cause = text_difference_by_design(mail, exp)
            if cause:
                by_design[cause] = by_design.get(cause, 0) + 1
            else:
                other_text.append(str(rel))
        for name, ok in result.items():
            per_field[name] += ok
            if not ok:
                failures[name].append(str(rel))
    if verbose:
        for name, files in failures.items():
            if files:
                print(f"  {name} failures: {', '.join(files)}")
    return {
        "messages": total,
        "all_fields": all_ok,
        "per_field": dict(per_field),
        "failures": failures,
        "text_by_design": by_design,
        "text_other": other_text,
    }


# --------------------------------------------------------------------------- sisimai


def expected_sisimai(folder: Path) -> dict[str, str]:
    """Relative path → `bounce` or `auto_reply`. The upstream tables give a reason per file
    (`vacation` = RFC 3834 auto-reply, `feedback` = ARF report, the rest delivery failures or
    reports); files without a table entry are labelled by their name (`rfc3834-*`: an
    auto-reply). `maildir/not/` holds mails that are not bounces."""
    reasons: dict[str, set[str]] = {}
    data = json.loads((folder / "_expected_derived.json").read_text(encoding="utf-8"))
    for record in data["records"]:
        fixture = record.get("fixture")
        if not fixture:
            continue
        for check in record["checks"]:
            values = check["value"] if isinstance(check["value"], list) else [check["value"]]
            for value in values:
                if isinstance(value, dict) and value.get("reason"):
                    reasons.setdefault(fixture, set()).add(value["reason"])
    labels: dict[str, str] = {}
    for eml in sorted((folder / "maildir").rglob("*.eml")):
        rel = str(eml.relative_to(folder))
        if rel.startswith("maildir/not/"):
            continue
        found = reasons.get(rel) or reasons.get(
            rel.replace("/dos/", "/bsd/").replace("/mac/", "/bsd/")
        )
        if found == {"vacation"} or (not found and Path(rel).name.startswith("rfc3834-")):
            labels[rel] = "auto_reply"
        else:
            labels[rel] = "bounce"
    return labels


def eval_sisimai(folder: Path, verbose: bool) -> dict[str, Any]:
    labels = expected_sisimai(folder)
    ctx = ClassifyContext(config=None, secret=None)
    confusion: Counter[tuple[str, str]] = Counter()
    rules: Counter[str] = Counter()
    misses: list[str] = []
    for rel, label in labels.items():
        mail = parse_message((folder / rel).read_bytes())
        result = classify(mail, ctx)
        confusion[(label, result.kind)] += 1
        if result.rules:
            rules[result.rules[0]] += 1
        if result.kind != label:
            misses.append(f"{rel} ({label} → {result.kind})")
    not_bounces = {}
    for eml in sorted((folder / "maildir" / "not").glob("*.eml")):
        not_bounces[eml.name] = classify(parse_message(eml.read_bytes()), ctx).kind
    if verbose:
        for line in misses:
            print(f"  miss: {line}")
    return {
        "confusion": {f"{a}→{b}": n for (a, b), n in sorted(confusion.items())},
        "labels": dict(Counter(labels.values())),
        "deciding_rules": dict(rules.most_common()),
        "misses": misses,
        "not_bounces": not_bounces,
    }


# --------------------------------------------------------------------------- ordinary mail


def eval_ordinary(corpus: Path) -> dict[str, Any]:
    """Kinds given to mail written by people (talon's client replies, sisimai's
    `is-not-bounce-*`) and to imap_tools' messages that are not delivery reports: a person's
    mail classified bounce/auto_reply would never be answered."""
    ctx = ClassifyContext(config=None, secret=None)
    people = sorted((corpus / "mailgun-talon").rglob("*.eml")) + sorted(
        (corpus / "sisimai-set-of-emails" / "maildir" / "not").glob("is-not-bounce-*.eml")
    )
    people_kinds: Counter[str] = Counter()
    for path in people:
        people_kinds[classify(parse_message(path.read_bytes()), ctx).kind] += 1
    imap_kinds: Counter[str] = Counter()
    ignored: list[str] = []
    messages = corpus / "ikvk-imap_tools" / "tests" / "messages"
    for path in sorted(messages.rglob("*.eml")):
        if "multipart_report_emails" in path.parts:
            continue
        result = classify(parse_message(path.read_bytes()), ctx)
        imap_kinds[result.kind] += 1
        if result.kind in ("bounce", "auto_reply", "own_mail"):
            ignored.append(f"{path.name} ({result.kind}: {result.rules[0]})")
    return {"people": dict(people_kinds), "imap_tools": dict(imap_kinds), "imap_ignored": ignored}


def print_ordinary(result: dict[str, Any]) -> None:
    print("\nordinary mail — must stay answerable")
    print(f"  replies written by people (talon .eml, sisimai is-not-bounce): {result['people']}")
    print(f"  imap_tools messages that are not delivery reports: {result['imap_tools']}")
    print(f"    of which not answered: {', '.join(result['imap_ignored']) or 'none'}")


# --------------------------------------------------------------------------- report


def _pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.1f} %)" if d else "0/0"


def print_imap(result: dict[str, Any]) -> None:
    total = result["messages"]
    print(f"\nikvk-imap_tools — {total} messages with expected values")
    print(f"  {'field':<12} matches")
    for name in IMAP_FIELDS:
        print(f"  {name:<12} {_pct(result['per_field'].get(name, 0), total)}")
    print(f"  {'all fields':<12} {_pct(result['all_fields'], total)}")
    print("  text differences that are by design:")
    for cause, n in result["text_by_design"].items():
        print(f"    {n:>3}  {cause}")
    print(f"  other text differences: {', '.join(result['text_other']) or 'none'}")


def print_sisimai(result: dict[str, Any]) -> None:
    labels = result["labels"]
    conf = result["confusion"]
    print("\nsisimai-set-of-emails — classification")
    for label in ("bounce", "auto_reply"):
        total = labels.get(label, 0)
        kinds = {k.split("→")[1]: n for k, n in conf.items() if k.startswith(f"{label}→")}
        print(
            f"  expected {label:<10} {total:>4}: "
            + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        )
        print(
            f"    right: {_pct(kinds.get(label, 0), total)}; answered as question: {_pct(kinds.get('question', 0), total)}"
        )
    print(f"  maildir/not (not bounces): {result['not_bounces']}")
    print(f"  deciding rules: {result['deciding_rules']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--verbose", action="store_true", help="list every failure")
    args = parser.parse_args(argv)
    corpus: Path = args.corpus
    if not corpus.is_dir():
        print(f"corpus not found at {corpus}: nothing to measure")
        return 0
    imap = corpus / "ikvk-imap_tools"
    if imap.is_dir():
        print_imap(eval_imap_tools(imap, args.verbose))
    sisimai = corpus / "sisimai-set-of-emails"
    if sisimai.is_dir():
        print_sisimai(eval_sisimai(sisimai, args.verbose))
    if (corpus / "mailgun-talon").is_dir() and imap.is_dir() and sisimai.is_dir():
        print_ordinary(eval_ordinary(corpus))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
