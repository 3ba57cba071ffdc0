"""One accent and case fold for every text comparison: triage, directives, privacy masks, the
classification signs of mailbot and the portal stub's search.

`fold` is the one to use: compatibility decomposition (NFKD), combining marks dropped, case
folded, ligatures spelled out (œ, æ) and typographic apostrophes made straight, so that
« Système d’Information » and « systeme d'information » compare equal.

Two variants built on the same rules:

- `fold_words` keeps only ASCII letters and digits, single spaces between words (term
  matching: « post-stationnement » matches « post stationnement »);
- `fold_aligned` folds character by character, one character out per character in, so that a
  position in the folded text is the same position in the original (keyword parsing that
  slices the original text after a match).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["fold", "fold_aligned", "fold_char", "fold_words"]

_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae"})
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def _strip_marks(text: str) -> str:
    return "".join(c for c in text if not unicodedata.combining(c))


def fold(text: str) -> str:
    """Case-folded, without accents, ligatures spelled out, apostrophes straight:
    « Œuvre Réglementée’ » → « oeuvre reglementee' ». Lengths may change (ß → ss)."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return _strip_marks(decomposed).translate(_LIGATURES).translate(_APOSTROPHES)


def fold_words(text: str) -> str:
    """`fold`, then lower-case ASCII letters and digits separated by single spaces."""
    return " ".join(_NOT_WORD.split(fold(text))).strip()


@lru_cache(maxsize=4096)
def fold_char(char: str) -> str:
    """One character folded to one character: its base letter (accent dropped), case-folded
    when that stays one character (ß stays ß), apostrophes straight. Cached: a text uses few
    distinct characters, and `fold_aligned` folds every line a reply's reading looks at (it
    was three quarters of reading a four-line question)."""
    decomposed = _strip_marks(unicodedata.normalize("NFKD", char)) or char
    base = decomposed[0]
    folded = base.casefold()
    base = folded if len(folded) == 1 else base.lower() if len(base.lower()) == 1 else base
    return base.translate(_APOSTROPHES)


def fold_aligned(text: str) -> str:
    """`fold_char` of every character: `len(fold_aligned(text)) == len(text)`, so indexes
    found in the folded text are valid in `text`."""
    return "".join(map(fold_char, text))
