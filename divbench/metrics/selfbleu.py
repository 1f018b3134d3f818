"""Self-BLEU with nltk ``sentence_bleu`` semantics in O(total n-grams), vectorised with numpy.

Self-BLEU = mean over i of BLEU(x_i, references = every x_j with j ≠ i): uniform weights up to
order ``n``, brevity penalty from the closest reference length (ties → the shorter), a text whose
unigram precision is 0 scores 0, and nltk's ``SmoothingFunction`` (epsilon=0.1, alpha=5, k=5).
Every method0–method7 is reproduced; method6 raises ``Undefined`` where nltk raises (n < 3 or a
text with non-zero unigram but zero trigram precision).

The clip of a hypothesis' n-gram against *all other* texts is O(1): per n-gram keep the largest
count over texts, how many texts reach it and the second largest. Text i's clip limit is the second
largest if i alone holds the maximum, else the maximum. All n-grams are integer-encoded and counted
with ``np.unique``, so there is no Python loop over n-grams or texts.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np

from divbench.metrics._common import FreeTextMetric, require
from divbench.metrics.base import SetView, Undefined
from divbench.metrics.tokenize import DEFAULT_TOKENIZER, check_tokenizer, tokenize_all

SMOOTHING: tuple[str, ...] = tuple(f"method{i}" for i in range(8))
EPSILON, ALPHA, K = 0.1, 5, 5  # nltk SmoothingFunction defaults


def _encode(token_lists: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray, int]:
    """Flat integer token ids, lengths per text, and vocabulary size."""
    lens = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    flat = list(chain.from_iterable(token_lists))
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(flat))}
    ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
    return ids, lens, max(len(vocab), 1)


def _clipped(gram: np.ndarray, doc: np.ndarray, n_docs: int) -> np.ndarray:
    """Per text: sum over its n-grams of min(count, max count in any other text)."""
    pairs, counts = np.unique(gram * n_docs + doc, return_counts=True)
    if pairs.size == 0:
        return np.zeros(n_docs)
    g, d = pairs // n_docs, pairs % n_docs
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    group = np.cumsum(np.r_[True, g[1:] != g[:-1]]) - 1
    top = np.maximum.reduceat(counts, starts)[group]
    at_top = counts == top
    n_top = np.add.reduceat(at_top.astype(np.int64), starts)[group]
    second = np.maximum.reduceat(np.where(at_top, 0, counts), starts)[group]
    clipped = np.where(at_top & (n_top == 1), second, counts)
    return np.bincount(d, weights=clipped, minlength=n_docs)


def _numerators(ids: np.ndarray, lens: np.ndarray, vocab: int, orders: int) -> np.ndarray:
    """Clipped n-gram matches of every text against all others, shape (texts, orders)."""
    n_docs = lens.size
    doc = np.repeat(np.arange(n_docs), lens)
    remaining = lens[doc] - (np.arange(ids.size) - np.repeat(np.cumsum(lens) - lens, lens))
    pos, gram = np.arange(ids.size), ids
    out = np.zeros((n_docs, orders))
    for k in range(1, orders + 1):
        if k > 1:
            keep = remaining[pos] >= k
            pos = pos[keep]
            _, gram = np.unique(gram[keep] * vocab + ids[pos + k - 1], return_inverse=True)
        out[:, k - 1] = _clipped(gram, doc[pos], n_docs)
    return out


def _closest_other_length(lens: np.ndarray) -> np.ndarray:
    """Per text: the length of the closest *other* text (ties → the shorter)."""
    values, counts = np.unique(lens, return_counts=True)
    i = np.searchsorted(values, lens)
    below = np.where(i > 0, values[np.maximum(i - 1, 0)], -(10**12))
    above = np.where(i + 1 < values.size, values[np.minimum(i + 1, values.size - 1)], 10**12)
    nearest = np.where(lens - below <= above - lens, below, above)
    return np.where(counts[i] > 1, lens, nearest)


def _method4(num: np.ndarray, den: np.ndarray, hyp: np.ndarray) -> np.ndarray:
    zero = (num == 0) & (hyp > 1)[:, None]
    inc = np.cumsum(zero, axis=1)
    log_h = np.log(np.where(hyp > 1, hyp, 2.0))[:, None]
    smoothed = 1 / (2.0**inc * K / log_h) / den
    return np.where(zero, smoothed, num / den)


def _method5(p: np.ndarray, p5: np.ndarray) -> np.ndarray:
    nxt = np.concatenate([p, p5[:, None]], axis=1)
    out = np.empty_like(p)
    prev = p[:, 0] + 1
    for i in range(p.shape[1]):
        out[:, i] = prev = (prev + p[:, i] + nxt[:, i + 1]) / 3
    return out


def _method6(num: np.ndarray, den: np.ndarray, hyp: np.ndarray, live: np.ndarray) -> np.ndarray:
    if live.any() and (num.shape[1] < 3 or not np.all(num[live, 2] > 0)):
        raise Undefined("smoothing method6 needs n >= 3 and non-zero trigram precision for every text")
    p = num / den
    for i in range(2, p.shape[1]):  # sequential: order i uses the smoothed orders i-1, i-2
        prior = np.where(p[:, i - 2] == 0, 0.0, p[:, i - 1] ** 2 / np.where(p[:, i - 2] == 0, 1.0, p[:, i - 2]))
        p[:, i] = (num[:, i] + ALPHA * prior) / (np.maximum(hyp - i, 0) + ALPHA)
    return p


def _smooth(method: str, num: np.ndarray, den: np.ndarray, hyp: np.ndarray, live: np.ndarray,
            p5: np.ndarray | None) -> np.ndarray:
    """Smoothed precisions as nltk computes them; entries <= 0 are left out of the geometric mean."""
    raw = num / den
    if method == "method0":
        return np.where(num > 0, raw, sys.float_info.min)
    if method == "method1":
        return np.where(num == 0, EPSILON / den, raw)
    if method == "method2":
        return np.concatenate([raw[:, :1], (num[:, 1:] + 1) / (den[:, 1:] + 1)], axis=1)
    if method == "method3":
        zero = num == 0
        return np.where(zero, 1 / (2.0 ** np.cumsum(zero, axis=1) * den), raw)
    if method == "method4":
        return _method4(num, den, hyp)
    if method == "method5":
        return _method5(raw, p5)  # type: ignore[arg-type]
    if method == "method6":
        return _method6(num, den, hyp, live)
    return _method5(_method4(num, den, hyp), p5)  # type: ignore[arg-type]


def self_bleu_scores(token_lists: Sequence[Sequence[str]], n: int = 4, smoothing: str = "method1") -> np.ndarray:
    """BLEU of every text against all the others, equal to nltk ``sentence_bleu`` per text."""
    if smoothing not in SMOOTHING:
        raise ValueError(f"unknown smoothing {smoothing!r}; known: {', '.join(SMOOTHING)}")
    require(len(token_lists) >= 2, "Self-BLEU needs at least two texts")
    ids, lens, vocab = _encode(token_lists)
    orders = max(n, 5) if smoothing in ("method5", "method7") else n
    nums = _numerators(ids, lens, vocab, orders)
    dens = np.maximum(lens[:, None] - np.arange(orders)[None, :], 1).astype(float)
    live = nums[:, 0] > 0
    p5 = nums[:, 4] / dens[:, 4] if orders >= 5 else None
    p = _smooth(smoothing, nums[:, :n], dens[:, :n], lens.astype(float), live, p5)
    terms = np.where(p > 0, np.log(np.where(p > 0, p, 1.0)), 0.0) * (1.0 / n)
    ref = _closest_other_length(lens)
    with np.errstate(divide="ignore"):
        bp = np.where(lens > ref, 1.0, np.where(lens == 0, 0.0, np.exp(1 - ref / np.maximum(lens, 1))))
    return np.where(live, bp * np.exp(terms.sum(axis=1)), 0.0)


def self_bleu(token_lists: Sequence[Sequence[str]], n: int = 4, smoothing: str = "method1") -> float:
    """Mean BLEU of each text against all the others (see :func:`self_bleu_scores`)."""
    return float(self_bleu_scores(token_lists, n, smoothing).mean())


class SelfBLEU(FreeTextMetric):
    """Self-BLEU-n of the texts of one set; lower means more diverse."""

    name = "self_bleu"
    higher_is_better = False
    description = "mean BLEU of each text against the other texts of its set (nltk semantics)"

    def __init__(self, n: int = 4, smoothing: str = "method1", tokenizer: str = DEFAULT_TOKENIZER,
                 lowercase: bool = False) -> None:
        if n < 1:
            raise ValueError(f"n-gram order must be >= 1, got {n}")
        if smoothing not in SMOOTHING:
            raise ValueError(f"unknown smoothing {smoothing!r}; known: {', '.join(SMOOTHING)}")
        self.n, self.smoothing = n, smoothing
        self.tokenizer, self.lowercase = check_tokenizer(tokenizer), lowercase

    def params(self) -> dict[str, Any]:
        return {"order": self.n, "smooth": self.smoothing, "tok": self.tokenizer, "lc": self.lowercase}

    def score_set(self, view: SetView) -> float:
        require(len(view.texts) >= 2, "Self-BLEU needs at least two texts")
        return self_bleu(tokenize_all(view.texts, self.tokenizer, self.lowercase), self.n, self.smoothing)


SELF_BLEU = SelfBLEU()
