"""Words as stems: « abrogées » and « abrogation » both read `abrog`.

The text is lower-cased, cut into words (apostrophes and hyphens cut too: « l'abrogation » is
`l` + `abrogation`), each word stemmed by the Snowball French stemmer while it still has its
accents, then folded to ASCII (`workflows.text.fold`). Terms of the rules go through the same
steps, so a term matches whatever inflection the asker wrote, accents and case aside.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import snowballstemmer

from workflows.text.fold import fold

__all__ = ["STOPWORDS", "content_stems", "stem_word", "stems", "tokens"]

_WORD = re.compile(r"[^\W_]+")
_NOT_ASCII_WORD = re.compile(r"[^a-z0-9]")
_STEMMER = snowballstemmer.stemmer("french")
_LOCK = threading.Lock()  # a Snowball stemmer keeps state between calls

# Words that say nothing of the space, stemmed at import like the text.
_STOPWORDS = """
    a à au aux avec ce ces cet cette d dans de des du elle en est et être eux il ils j je l la
    le les leur leurs lui m ma mais me mes moi mon n ne nos notre nous on ou où par pas pour qu
    que quel quelle quelles quels qui s sa sans se ses si son sont sur t ta te tes toi ton tu un
    une vos votre vous y été avons avez ont fait peut pouvons pourriez pourrait bonjour merci
    cordialement madame monsieur question questions savoir souhaitons souhaiterions aurait sera
    cela ceci comme plus très bien est-ce ainsi notamment concernant afin faut doit doivent
"""


def stem_word(word: str) -> str:
    """One lower-case word (accents kept) to its folded ASCII stem."""
    if word.isdigit():
        return word  # numbers are many and never stemmed: not cached
    return _stem(word)


# The words that recur (the questions' and the training examples' vocabulary) stay cached;
# numbers do not (the bench's 8,000 mails: 175 distinct words, and 4,800 numbers that filled
# the cache before). An entry weighs about 200 bytes: the 65,536 kept before came to 13 MB
# over a daemon's life of names, numbers and typos.
@lru_cache(maxsize=8192)
def _stem(word: str) -> str:
    with _LOCK:
        stem = _STEMMER.stemWord(word)
    return _NOT_ASCII_WORD.sub("", fold(stem)) or _NOT_ASCII_WORD.sub("", fold(word))


def stems(text: str) -> list[str]:
    """Every word of `text` as a stem, in order (nothing dropped: phrases stay contiguous)."""
    words = _WORD.findall(text.lower().replace("œ", "oe").replace("æ", "ae"))
    return [s for s in (stem_word(w) for w in words) if s]


def content_stems(text: str) -> list[str]:
    """`stems` without stop words and one-letter words: what the model reads."""
    return [s for s in stems(text) if len(s) > 1 and s not in STOPWORDS]


def tokens(text: str) -> list[tuple[str, str]]:
    """Every word of `text` as (lower-case word, stem), in order: words explain, stems match."""
    words = _WORD.findall(text.lower().replace("œ", "oe").replace("æ", "ae"))
    pairs = [(w, stem_word(w)) for w in words]
    return [(w, s) for w, s in pairs if s]


STOPWORDS = frozenset(stem_word(w) for w in _STOPWORDS.split())
