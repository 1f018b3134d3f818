"""Demographic skew: how the attributes the texts reveal (gender, age, country, ...) are distributed.

Data contract: ``view.parsed[i]`` is a dict attribute → category (missing or None when the text
names none), and ``prompt.meta["attributes"]`` = {attr: {"categories": [...], "reference":
{category: prob}}} (no reference = uniform). Categories match exactly, else case- and
space-insensitively; anything else is unrecognised and left out.

Per attribute and task (scope per_task, units = the parsed dicts of all texts):

* ``skew_entropy_<attr>`` — Shannon entropy in bits of the observed categories (PoExFT's statistic);
* ``skew_kl_<attr>`` — KL(observed ‖ reference) in bits over the categories the reference gives
  probability > 0 (observed shares renormalised there; e.g. "non-binary" under a 50/50 gender
  reference only counts in TV): finite without smoothing for sparse data and, for a uniform
  reference, log2 |categories| − entropy;
* ``skew_tv_<attr>`` — total-variation distance to the reference;
* ``skew_top_share_<attr>`` — share of the most common category.

Attributes are data: :data:`divbench.metrics.catalog.SKEW_ATTRIBUTES` lists them and one metric per
(statistic, attribute) is generated here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from divbench.metrics._common import entropy_bits, kl_bits, require, tv
from divbench.metrics.base import Metric, SetView, Undefined
from divbench.metrics.catalog import SKEW_ATTRIBUTES, SKEW_STATS


@dataclass(frozen=True, eq=False)
class AttributeSpec:
    """The categories of one attribute and their reference distribution."""

    attribute: str
    categories: tuple[str, ...]
    reference: np.ndarray

    def index(self, value: Any) -> int:
        """The category index of a parsed value, or -1 when unrecognised."""
        if not isinstance(value, str):
            return -1
        if value in self.categories:
            return self.categories.index(value)
        folded = [c.strip().lower() for c in self.categories]
        key = value.strip().lower()
        return folded.index(key) if key in folded else -1


def attribute_spec(views: Sequence[SetView], attribute: str) -> AttributeSpec | None:
    """The first prompt's spec for ``attribute``, or None if no prompt defines it."""
    for v in views:
        spec = (v.prompt.meta.get("attributes") or {}).get(attribute)
        if spec and spec.get("categories"):
            cats = tuple(str(c) for c in spec["categories"])
            ref = spec.get("reference")
            weights = np.array([float(ref.get(c, 0.0)) for c in cats]) if ref else np.ones(len(cats))
            if weights.sum() <= 0:
                raise Undefined(f"the reference distribution of {attribute!r} sums to 0")
            return AttributeSpec(attribute, cats, weights / weights.sum())
    return None


Unit = tuple[int, AttributeSpec]


class Skew(Metric):
    """One statistic of one attribute's observed distribution."""

    scope = "per_task"
    families: ClassVar[frozenset[str] | None] = frozenset({"persona", "story"})
    stat: ClassVar[str]
    #: plug-in statistics of category shares are biased under resampling (duplicated texts lower the
    #: entropy and raise the distances), so the bootstrap interval is re-centred on the estimate
    bootstrap_recentre = True
    bounds: ClassVar[tuple[float, float]] = (0.0, float("inf"))

    def __init__(self, attribute: str) -> None:
        self.attribute = attribute
        self.name = f"skew_{self.stat}_{attribute}"

    def params(self) -> dict[str, Any]:
        return {"attr": self.attribute}

    def applies_to(self, family: str, views: Sequence[SetView]) -> bool:
        defined = any(self.attribute in (v.prompt.meta.get("attributes") or {}) for v in views)
        return super().applies_to(family, views) and defined

    def statistic(self, p: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """The statistic of category distributions ``p`` (rows) against the reference."""
        raise NotImplementedError

    def units(self, views: Sequence[SetView]) -> list[Unit]:
        spec = attribute_spec(views, self.attribute)
        if spec is None:
            raise Undefined(f"no prompt defines the attribute {self.attribute!r}")
        parsed = [p for v in views for p in (v.parsed if v.parsed is not None else (None,) * len(v.texts))]
        return [(spec.index(p.get(self.attribute)) if isinstance(p, dict) else -1, spec) for p in parsed]

    def _values(self, counts: np.ndarray, spec: AttributeSpec) -> np.ndarray:
        total = counts.sum(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = self.statistic(counts / np.where(total > 0, total, 1), spec.reference)
        return np.where((total[..., 0] > 0) & np.isfinite(values), values, np.nan)

    def score_units(self, units: Sequence[Unit]) -> float:
        require(len(units) > 0, "no texts")
        spec = units[0][1]
        idx = np.array([u[0] for u in units])
        require((idx >= 0).any(), f"no text names a recognisable {self.attribute}")
        value = float(self._values(np.bincount(idx[idx >= 0], minlength=len(spec.categories)), spec))
        require(not np.isnan(value), f"no observed {self.attribute} has a reference probability > 0")
        return value

    def score_resamples(self, units: Sequence[Unit], idx: np.ndarray) -> np.ndarray:
        """The statistic of every resample ``idx[b]`` from category counts (NaN where undefined)."""
        spec, k = units[0][1], len(units[0][1].categories)
        cats = np.array([u[0] for u in units])[idx]
        rows = np.broadcast_to(np.arange(idx.shape[0])[:, None], cats.shape)
        ok = cats >= 0
        counts = np.bincount((rows[ok] * k + cats[ok]), minlength=idx.shape[0] * k).reshape(-1, k)
        return self._values(counts.astype(float), spec)

    def details(self, views: Sequence[SetView]) -> dict[str, Any]:
        units = self.units(views)
        spec = units[0][1] if units else attribute_spec(views, self.attribute)
        if spec is None:
            return {}
        idx = np.array([u[0] for u in units], dtype=np.int64)
        counts = np.bincount(idx[idx >= 0], minlength=len(spec.categories))
        return {"attribute": self.attribute,
                "counts": dict(zip(spec.categories, counts.tolist(), strict=True)),
                "reference": dict(zip(spec.categories, spec.reference.round(6).tolist(), strict=True)),
                "unrecognised": int((idx < 0).sum())}


class SkewEntropy(Skew):
    stat = "entropy"
    higher_is_better = True

    def statistic(self, p: np.ndarray, reference: np.ndarray) -> np.ndarray:
        return entropy_bits(p)


class SkewKL(Skew):
    stat = "kl"
    higher_is_better = False

    def statistic(self, p: np.ndarray, reference: np.ndarray) -> np.ndarray:
        keep = reference > 0
        inside = p[..., keep]
        mass = inside.sum(axis=-1)
        kl = kl_bits(inside / np.where(mass > 0, mass, 1.0)[..., None], reference[keep])
        return np.where(mass > 0, np.maximum(kl, 0.0), np.nan)  # no -1e-16 from rounding


class SkewTV(Skew):
    stat = "tv"
    higher_is_better = False
    bounds = (0.0, 1.0)

    def statistic(self, p: np.ndarray, reference: np.ndarray) -> np.ndarray:
        return tv(p, reference)


class SkewTopShare(Skew):
    stat = "top_share"
    higher_is_better = False
    bounds = (0.0, 1.0)

    def statistic(self, p: np.ndarray, reference: np.ndarray) -> np.ndarray:
        return p.max(axis=-1)


_CLASSES: dict[str, type[Skew]] = {c.stat: c for c in (SkewEntropy, SkewKL, SkewTV, SkewTopShare)}

#: every generated skew metric, by name (``skew_<stat>_<attribute>``)
SKEW_METRICS: dict[str, Skew] = {
    m.name: m for m in (_CLASSES[s](a) for a in SKEW_ATTRIBUTES for s in SKEW_STATS)
}


def __getattr__(name: str) -> Skew:
    """``divbench.metrics.skew:skew_tv_gender`` and friends, for the registry."""
    if name in SKEW_METRICS:
        return SKEW_METRICS[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
