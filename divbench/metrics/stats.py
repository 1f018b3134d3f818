"""Seeded percentile-bootstrap confidence intervals.

* per_set metrics: resample the per-prompt values and take the mean (vectorised); the interval is
  the plain percentile interval.
* per_task metrics: resample the metric's units and recompute it; the percentile interval. A metric
  may define ``score_resamples(units, idx) -> array`` (idx: rows of unit indices) to do all
  resamples at once; otherwise ``score_units`` runs per resample. Resamples where the metric is
  undefined are dropped; with fewer than half left, or fewer than two units, there is no interval.
* A metric whose statistic is biased by resampling with replacement itself sets
  ``bootstrap_recentre = True``: corpus distinct-n, where a text drawn twice repeats all its n-grams
  and the resampled values sit far below the estimate; likewise the plug-in demographic skew
  statistics (entropy, KL, TV, top share of category shares). Its interval is shifted by (value − median of
  the resampled values) and clipped to the metric's ``bounds`` (when it declares them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from divbench.metrics.base import Metric, Undefined

_MAX_CELLS = 4_000_000  # resample-matrix cells drawn at once


@dataclass(frozen=True)
class Bootstrap:
    """How confidence intervals are drawn: resample count, seed, confidence level."""

    n_resamples: int = 1000
    seed: int = 0
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if self.n_resamples < 0:
            raise ValueError(f"n_resamples must be >= 0, got {self.n_resamples}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")

    def fields(self) -> dict[str, Any]:
        """What goes into every signature."""
        return {"ci": self.confidence, "boot": self.n_resamples, "boot_seed": self.seed}


DEFAULT_BOOTSTRAP = Bootstrap()


def _index_chunks(n: int, boot: Bootstrap) -> Iterator[np.ndarray]:
    """Yield (rows, n) arrays of resample indices, ``boot.n_resamples`` rows in all (seeded)."""
    rng = np.random.default_rng(boot.seed)
    step = max(1, _MAX_CELLS // max(n, 1))
    for lo in range(0, boot.n_resamples, step):
        yield rng.integers(0, n, size=(min(step, boot.n_resamples - lo), n))


def _interval(samples: np.ndarray, boot: Bootstrap) -> tuple[float, float]:
    tail = (1 - boot.confidence) / 2 * 100
    lo, hi = np.percentile(samples, [tail, 100 - tail])
    return float(lo), float(hi)


def mean_ci(values: Sequence[float], boot: Bootstrap = DEFAULT_BOOTSTRAP) -> tuple[float, float] | None:
    """Percentile interval of the mean of ``values`` (None with fewer than two values)."""
    arr = np.asarray(values, dtype=float)
    if arr.size < 2 or boot.n_resamples == 0:
        return None
    return _interval(resampled_means(arr, boot), boot)


def resampled_means(values: Sequence[float] | np.ndarray, boot: Bootstrap = DEFAULT_BOOTSTRAP) -> np.ndarray:
    """The mean of each of ``boot.n_resamples`` seeded resamples of ``values`` (empty if there are none)."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0 or boot.n_resamples == 0:
        return np.empty(0)
    return np.concatenate([arr[idx].mean(axis=1) for idx in _index_chunks(arr.size, boot)])


def _looped(metric: Metric) -> Callable[[Sequence[Any], np.ndarray], np.ndarray]:
    def score_resamples(units: Sequence[Any], idx: np.ndarray) -> np.ndarray:
        out = np.full(idx.shape[0], np.nan)
        for b, row in enumerate(idx):
            try:
                out[b] = metric.score_units([units[i] for i in row])
            except Undefined:
                continue
        return out

    return score_resamples


def units_ci(metric: Metric, units: Sequence[Any], value: float,
             boot: Bootstrap = DEFAULT_BOOTSTRAP) -> tuple[float, float] | None:
    """Percentile interval of a per-task metric over resampled units (re-centred where the metric asks)."""
    if len(units) < 2 or boot.n_resamples == 0:
        return None
    samples = resampled_values(metric, units, boot)
    if samples.size < max(2, boot.n_resamples / 2):
        return None
    lo, hi = _interval(samples, boot)
    if not getattr(metric, "bootstrap_recentre", False):
        return lo, hi
    shift = value - float(np.median(samples))
    low, high = getattr(metric, "bounds", (-np.inf, np.inf))
    return float(np.clip(lo + shift, low, high)), float(np.clip(hi + shift, low, high))


def resampled_values(metric: Metric, units: Sequence[Any], boot: Bootstrap = DEFAULT_BOOTSTRAP) -> np.ndarray:
    """A per-task metric on ``boot.n_resamples`` seeded resamples of its units; undefined ones dropped."""
    if not units or boot.n_resamples == 0:
        return np.empty(0)
    score = getattr(metric, "score_resamples", None) or _looped(metric)
    samples = np.concatenate([score(units, idx) for idx in _index_chunks(len(units), boot)])
    return samples[np.isfinite(samples)]
