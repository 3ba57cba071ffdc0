"""A reviewer's command on a subscription case: the verb and what it carries.

Kept apart from `workflows.core` so that reading a reply (`workflows.text.directives`,
`mailbot inspect`) does not load every workflow's vocabulary; `workflows.core` re-exports both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Verb = Literal["APPROUVER", "REFUSER", "COMPLÉTER", "AIDE"]


@dataclass(frozen=True)
class ReviewerCommand:
    """A reviewer's decision on a subscription case (read by `workflows.text.directives`).
    `people` None means everyone; `text` is the motif of REFUSER or what is missing for
    COMPLÉTER (newlines kept)."""

    verb: Verb
    people: tuple[int, ...] | None = None
    text: str | None = None

    def canonical(self) -> str:
        if self.verb == "APPROUVER" and self.people:
            return "APPROUVER: " + ",".join(map(str, self.people))
        if self.text and self.verb in ("REFUSER", "COMPLÉTER"):
            return f"{self.verb}: " + " ".join(self.text.split())
        return self.verb
