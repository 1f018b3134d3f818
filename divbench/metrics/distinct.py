"""distinct-n: the share of n-grams that are unique.

* ``distinct_<n>`` (per set): unique n-grams / n-grams over the texts of one set, averaged over prompts.
* ``corpus_distinct_<n>`` (per task): the same over every text of the task; units are texts. Like
  every pooled lexical number it falls as more texts are pooled, so compare only at fixed N and
  prompt count.
* ``poexft_distinct_<n>`` (per task): PoExFT's "Ngram score": lower-cased ``nltk-word`` tokens,
  n-grams containing a punctuation token dropped, a one-token response contributes nothing.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np

from divbench.metrics._common import FreeTextMetric, require
from divbench.metrics.base import SetView
from divbench.metrics.tokenize import DEFAULT_TOKENIZER, Tokens, check_tokenizer, ngrams, tokenize

#: PoExFT's punctuation tokens: string.punctuation plus typographic marks
POEXFT_PUNCTUATION: frozenset[str] = frozenset(string.punctuation) | {"“", "”", "...", "–", "…", "..", "•"}

Grams = tuple[Tokens, ...]


def distinct(gram_lists: Sequence[Sequence[Tokens]], what: str = "texts") -> float:
    """Unique n-grams / n-grams over several texts' n-gram lists."""
    total = sum(len(g) for g in gram_lists)
    require(total > 0, f"the {what} have no n-grams of this order")
    return len(set(chain.from_iterable(gram_lists))) / total


def distinct_resamples(gram_lists: Sequence[Sequence[Tokens]], idx: np.ndarray) -> np.ndarray:
    """distinct-n of every bootstrap resample ``idx[b]`` (rows of unit indices), vectorised."""
    vocab: dict[Tokens, int] = {}
    unit_of: list[int] = []
    gram_of: list[int] = []
    for u, grams in enumerate(gram_lists):
        for g in set(grams):
            unit_of.append(u)
            gram_of.append(vocab.setdefault(g, len(vocab)))
    lens = np.array([len(g) for g in gram_lists], dtype=float)
    order = np.argsort(gram_of, kind="stable")
    pair_unit = np.asarray(unit_of, dtype=np.int64)[order]
    starts = np.flatnonzero(np.r_[True, np.diff(np.asarray(gram_of, dtype=np.int64)[order]) != 0])
    n_res, n_units = idx.shape[0], len(gram_lists)
    weights = np.bincount((np.arange(n_res)[:, None] * n_units + idx).ravel(), minlength=n_res * n_units)
    weights = weights.reshape(n_res, n_units)
    total = weights @ lens
    unique = np.zeros(n_res)
    step = max(1, 20_000_000 // max(pair_unit.size, 1))
    for lo in range(0, n_res, step):
        present = weights[lo : lo + step][:, pair_unit] > 0
        if pair_unit.size:
            unique[lo : lo + step] = np.logical_or.reduceat(present, starts, axis=1).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, unique / np.where(total > 0, total, 1), np.nan)


class Distinct(FreeTextMetric):
    """distinct-n of the texts of one set."""

    higher_is_better = True

    def __init__(self, n: int, tokenizer: str = DEFAULT_TOKENIZER, lowercase: bool = True) -> None:
        if n < 1:
            raise ValueError(f"n-gram order must be >= 1, got {n}")
        self.n, self.tokenizer, self.lowercase = n, check_tokenizer(tokenizer), lowercase
        self.name = f"distinct_{n}"
        self.description = f"unique {n}-grams / {n}-grams within a set"

    def params(self) -> dict[str, Any]:
        return {"order": self.n, "tok": self.tokenizer, "lc": self.lowercase}

    def grams(self, text: str) -> list[Tokens]:
        return ngrams(tokenize(text, self.tokenizer, self.lowercase), self.n)

    def score_set(self, view: SetView) -> float:
        return distinct([self.grams(t) for t in view.texts], "texts of this set")


class CorpusDistinct(Distinct):
    """distinct-n over all texts of a task (units: texts)."""

    scope = "per_task"
    #: resampled texts repeat their n-grams, so the bootstrap is re-centred (see stats.py)
    bootstrap_recentre = True
    bounds = (0.0, 1.0)

    def __init__(self, n: int, tokenizer: str = DEFAULT_TOKENIZER, lowercase: bool = True) -> None:
        super().__init__(n, tokenizer, lowercase)
        self.name = f"corpus_distinct_{n}"
        self.description = f"unique {n}-grams / {n}-grams over all texts of a task"

    def units(self, views: Sequence[SetView]) -> list[Grams]:
        return [tuple(self.grams(t)) for v in views for t in v.texts]

    def score_units(self, units: Sequence[Grams]) -> float:
        return distinct(units)

    def score_resamples(self, units: Sequence[Grams], idx: np.ndarray) -> np.ndarray:
        return distinct_resamples(units, idx)


class PoExFTDistinct(CorpusDistinct):
    """PoExFT's corpus distinct-n: punctuation n-grams dropped, one-token responses ignored."""

    def __init__(self, n: int) -> None:
        super().__init__(n, "nltk-word", lowercase=True)
        self.name = f"poexft_distinct_{n}"
        self.description = f"PoExFT's corpus distinct-{n} (no punctuation n-grams, no one-token replies)"

    def params(self) -> dict[str, Any]:
        return {**super().params(), "variant": "poexft"}

    def grams(self, text: str) -> list[Tokens]:
        tokens = tokenize(text, self.tokenizer, self.lowercase)
        if len(tokens) == 1:
            return []
        return [g for g in ngrams(tokens, self.n) if not any(t in POEXFT_PUNCTUATION for t in g)]


DISTINCT_1, DISTINCT_2, DISTINCT_3 = Distinct(1), Distinct(2), Distinct(3)
CORPUS_DISTINCT_1, CORPUS_DISTINCT_2 = CorpusDistinct(1), CorpusDistinct(2)
POEXFT_DISTINCT_1, POEXFT_DISTINCT_2 = PoExFTDistinct(1), PoExFTDistinct(2)
