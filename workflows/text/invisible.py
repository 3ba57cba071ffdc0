"""Characters a reader cannot see but that change what is shown: bidi controls (U+202E turns
« Dupont » into « tnopuD » and hides where a text really ends), zero-width characters, the
byte-order mark, C0/C1 controls. They are removed from every text taken from a mail before it
is shown to a reviewer, mailed back or published (`docs/security.md`, "Hostile text")."""

from __future__ import annotations

import re

# Bidi embeddings/overrides (U+202A–U+202E), isolates (U+2066–U+2069), the Arabic letter mark,
# zero-width spaces/joiners and direction marks (U+200B–U+200F), word joiner and invisible
# operators (U+2060–U+2064), the BOM, soft hyphen, C0/C1 controls other than tab/newline/CR.
INVISIBLE_RE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff]"
)


def strip_invisible(text: str) -> str:
    """`text` without invisible and direction-changing characters; line breaks and tabs kept."""
    return INVISIBLE_RE.sub("", text)
