"""`make eval`: every measurement against the shared corpus (when it is present)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import eval_mail
import eval_replies
import eval_triage


def main(argv: list[str]) -> int:
    print("== Mail understanding: parsing, bounces, auto-replies ==")
    code = eval_mail.main(argv)
    print("\n== Reply text: ours beside mail-parser-reply alone ==")
    code = code or eval_replies.main(argv)
    print("\n== Triage: accuracy per space, confusion matrices ==")
    return eval_triage.main(argv) or code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
