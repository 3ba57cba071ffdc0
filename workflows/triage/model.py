"""A multinomial naive Bayes over stemmed word unigrams and bigrams, hand-rolled.

Why this model: a few thousand short questions, four labels, retrained daily. Naive Bayes
trains in one counting pass (milliseconds, no numpy or scikit-learn to install and pin), is
robust with a handful of examples per label, and explains itself: the words that decided are
those whose log-probability ratio between the chosen label and the runner-up is largest.

Priors are uniform: the published Q&A never contain out-of-scope questions and some spaces
publish more than others, and neither should tilt a new question. Probabilities are tempered
(log-likelihoods divided by the square root of the number of features) because naive Bayes is
overconfident on long texts; the model only adds its score to the rules.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from workflows.triage.normalise import STOPWORDS, tokens

ALPHA = 0.5  # additive smoothing
MIN_EXAMPLES = 3  # a label with fewer examples is not learnt


@dataclass(frozen=True)
class Feature:
    key: str  # stems: "abrog" or "environ recet"
    words: str  # the words as written (lower-case): "abrogées", "environnement recette"


def features(text: str) -> list[Feature]:
    """Unigrams and bigrams of content words (stop words and one-letter words dropped)."""
    kept = [(w, s) for w, s in tokens(text) if len(s) > 1 and s not in STOPWORDS]
    found = [Feature(s, w) for w, s in kept]
    found += [Feature(f"{a[1]} {b[1]}", f"{a[0]} {b[0]}") for a, b in itertools.pairwise(kept)]
    return found


@dataclass(frozen=True)
class Model:
    """Counts per label; `examples` is how many texts each label was learnt from."""

    counts: Mapping[str, Mapping[str, int]]
    totals: Mapping[str, int]
    vocabulary: frozenset[str]
    examples: Mapping[str, int] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return sorted(self.counts)

    def log_likelihood(self, label: str, key: str) -> float:
        size = len(self.vocabulary)
        return math.log(
            (self.counts[label].get(key, 0) + ALPHA) / (self.totals[label] + ALPHA * size)
        )

    def probabilities(self, text: str) -> dict[str, float]:
        """Tempered posterior per label (they sum to 1); {} when no known word is in `text`."""
        keys = [f.key for f in features(text) if f.key in self.vocabulary]
        if not keys:
            return {}
        scale = math.sqrt(len(keys))
        logs = {
            label: sum(self.log_likelihood(label, k) for k in keys) / scale for label in self.labels
        }
        top = max(logs.values())
        exps = {label: math.exp(v - top) for label, v in logs.items()}
        total = sum(exps.values())
        return {label: v / total for label, v in exps.items()}

    def deciding_words(
        self, text: str, label: str, against: str | None, limit: int = 5
    ) -> list[str]:
        """The words of `text` that most favour `label` over `against` (over the average of
        the other labels when None), as written."""
        if label not in self.counts:
            return []
        others = (
            [against]
            if against is not None and against in self.counts
            else [x for x in self.labels if x != label]
        )
        if not others:
            return []
        weights: dict[str, float] = {}
        for feature in features(text):
            if feature.key not in self.vocabulary or feature.words in weights:
                continue
            other = math.fsum(self.log_likelihood(o, feature.key) for o in others) / len(others)
            weights[feature.words] = self.log_likelihood(label, feature.key) - other
        ranked = sorted(weights.items(), key=lambda kv: -kv[1])
        return [words for words, weight in ranked if weight > 0.1][:limit]


def train(examples: Iterable[tuple[str, str]]) -> Model | None:
    """`examples` are (text, label) pairs; None when fewer than two labels can be learnt."""
    return train_weighted((text, label, 1) for text, label in examples)


def train_weighted(examples: Iterable[tuple[str, str, int]]) -> Model | None:
    """(text, label, weight): an example of weight 3 counts as three copies of it."""
    counts: dict[str, Counter[str]] = {}
    seen: Counter[str] = Counter()
    for text, label, weight in examples:
        found = Counter(f.key for f in features(text))
        counts.setdefault(label, Counter()).update({k: n * weight for k, n in found.items()})
        seen[label] += 1
    kept = {label: c for label, c in counts.items() if seen[label] >= MIN_EXAMPLES}
    if len(kept) < 2:
        return None
    vocabulary = frozenset(k for c in kept.values() for k in c)
    return Model(
        counts={label: dict(c) for label, c in kept.items()},
        totals={label: sum(c.values()) for label, c in kept.items()},
        vocabulary=vocabulary,
        examples={label: seen[label] for label in kept},
    )


def train_pairs(texts: Sequence[str], labels: Sequence[str]) -> Model | None:
    return train(zip(texts, labels, strict=True))
