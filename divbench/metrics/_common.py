"""Small helpers shared by the metric modules."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from divbench.metrics.base import Metric, SetView, Undefined

#: families whose texts are answers to pick from, not free text
CHOICE_FAMILIES: frozenset[str] = frozenset({"random_choice"})


def require(condition: bool, reason: str) -> None:
    """Raise :class:`Undefined` with ``reason`` unless ``condition``."""
    if not condition:
        raise Undefined(reason)


class FreeTextMetric(Metric):
    """A metric over the texts themselves: applies to every family except random choice."""

    def applies_to(self, family: str, views: Sequence[SetView]) -> bool:
        return family not in CHOICE_FAMILIES and any(v.texts for v in views)


def entropy_bits(p: np.ndarray) -> np.ndarray:
    """Shannon entropy in bits along the last axis (0·log 0 = 0)."""
    p = np.asarray(p, dtype=float)
    logs = np.log2(np.where(p > 0, p, 1.0))
    return -(p * logs).sum(axis=-1)


def kl_bits(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p ‖ q) in bits along the last axis; inf where q = 0 < p."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0) / q), 0.0)
    return terms.sum(axis=-1)


def js_bits(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen–Shannon divergence in bits (in [0, 1]) along the last axis."""
    m = (np.asarray(p, dtype=float) + np.asarray(q, dtype=float)) / 2
    return np.clip((kl_bits(p, m) + kl_bits(q, m)) / 2, 0.0, 1.0)


def tv(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Total-variation distance along the last axis."""
    return np.abs(np.asarray(p, dtype=float) - np.asarray(q, dtype=float)).sum(axis=-1) / 2
