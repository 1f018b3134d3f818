"""Metrics of the distribution over a random-choice prompt's valid options (per prompt, then averaged).

Data contract: ``prompt.meta["options"]`` lists the canonical valid options, ``meta.get("weights")``
the target weights (uniform if absent) and ``meta.get("population")`` an optional {option: frequency}
reference. The model's distribution comes from

* **exact** mode, when ``gset.option_scores`` is set: p(option) = exp(logprob); the invalid rate is
  ``invalid_mass``;
* **sampled** mode otherwise: counts of ``view.parsed[i]`` (None or a string outside the options is
  invalid); the invalid rate is the invalid share of the N texts. When ``meta["exhaustive"]`` is
  False the options are only a sample of an open set (names, fruits): every parsed answer is then
  valid, answers outside the options join the distribution with target weight 0, and only None is
  invalid.

Choices (they are in the signatures):

* Every statistic compares the model **restricted to the valid options and renormalised**; invalid
  mass is reported on its own as ``invalid_rate``, never mixed in.
* ``kl_to_target`` = KL(target ‖ model) in bits. Sampled counts are smoothed with ``alpha`` = 0.5
  pseudo-counts per option (Krichevsky–Trofimov), so an option never drawn does not make it infinite;
  with fewer valid samples than target options it is Undefined (it would mostly measure the
  smoothing prior). Exact probabilities are used as they are; an exact zero on a target option is
  Undefined.
* ``coverage`` = share of the target's options drawn at least once (sampled), or with renormalised
  probability ≥ 1/(10·|T|) (exact); ``unique_count`` counts the same options.
* ``chi2_pvalue`` and ``entropy_mm`` (Miller–Madow) need sampled counts; they do not apply to exact data.
* Population comparisons use every recognised answer, not only the options (a names task may parse
  any first name): sampled shares are over all non-None parsed answers, exact shares over the
  options. Answers without a population frequency are dropped and the shares renormalised; population
  shares are normalised over the whole population. ``kl_to_population`` = KL(model ‖ population) in
  bits on that basis: finite for sparse samples, and large when the model piles onto names the
  population rarely uses.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from divbench.metrics._common import entropy_bits, js_bits, kl_bits, require, tv
from divbench.metrics.base import Metric, SetView, Undefined

FAMILIES = frozenset({"random_choice"})


@dataclass(frozen=True)
class ChoiceDistribution:
    """One prompt's target and model distributions over its valid options."""

    options: tuple[str, ...]
    target: np.ndarray
    model: np.ndarray | None  # renormalised over the valid options; None when no valid mass
    invalid: float
    mode: str  # "sampled" | "exact"
    counts: np.ndarray | None = None  # sampled only: valid counts per option
    n: int = 0  # sampled only: number of texts
    n_options: int = 0  # size of the declared valid set (answers beyond it come from open sets)

    def valid_model(self) -> np.ndarray:
        """The renormalised model distribution, or Undefined if the model put nothing on a valid option."""
        if self.model is None:
            raise Undefined("no valid answer in this set" if self.mode == "sampled"
                            else "the model puts no probability on any valid option")
        return self.model

    def sampled_counts(self) -> np.ndarray:
        if self.counts is None:
            raise Undefined("needs sampled counts; this set has exact probabilities")
        return self.counts

    def to_details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"options": list(self.options), "target": self.target.round(6).tolist(),
                               "model": None if self.model is None else self.model.round(6).tolist(),
                               "invalid": round(self.invalid, 6), "mode": self.mode}
        if self.counts is not None:
            out.update(counts=self.counts.astype(int).tolist(), n=self.n)
        return out


def _target(meta: dict[str, Any], options: tuple[str, ...]) -> np.ndarray:
    weights = meta.get("weights")
    if weights is None:
        return np.full(len(options), 1 / len(options))
    w = np.asarray(weights, dtype=float)
    if w.shape != (len(options),) or w.sum() <= 0 or (w < 0).any():
        raise Undefined("meta weights must be non-negative, aligned with the options and not all zero")
    return w / w.sum()


def choice_distribution(view: SetView) -> ChoiceDistribution:
    """Read the target and model distributions of one random-choice prompt."""
    options = tuple(view.prompt.meta.get("options") or ())
    require(len(options) > 0, "prompt has no meta['options']")
    target = _target(view.prompt.meta, options)
    scores = view.gset.option_scores
    if scores is not None:
        lp = dict(zip(scores.options, scores.logprobs, strict=True))
        p = np.array([math.exp(lp[o]) if o in lp else 0.0 for o in options])
        model = p / p.sum() if p.sum() > 0 else None
        return ChoiceDistribution(options, target, model, float(scores.invalid_mass), "exact", n_options=len(options))
    parsed = view.parsed
    if parsed is None:
        raise Undefined("set has neither parsed answers nor exact option scores")
    require(len(parsed) > 0, "set has no texts")
    n_options = len(options)
    if view.prompt.meta.get("exhaustive", True) is False:
        extra = sorted({a for a in parsed if isinstance(a, str)} - set(options))
        options, target = options + tuple(extra), np.concatenate([target, np.zeros(len(extra))])
    index = {o: i for i, o in enumerate(options)}
    hits = [index[a] for a in parsed if isinstance(a, str) and a in index]
    counts = np.bincount(np.asarray(hits, dtype=np.int64), minlength=len(options)).astype(float)
    n = len(parsed)
    model = counts / counts.sum() if counts.sum() > 0 else None
    return ChoiceDistribution(options, target, model, 1 - counts.sum() / n, "sampled", counts, n, n_options)


def _population(view: SetView) -> dict[str, float]:
    """Population shares (normalised over the whole population) of the names with a frequency > 0."""
    population = view.prompt.meta.get("population")
    require(bool(population), "prompt has no meta['population']")
    pop = {str(k): float(v) for k, v in population.items() if float(v) > 0}
    total = sum(pop.values())
    require(total > 0, "population frequencies sum to 0")
    return {k: v / total for k, v in pop.items()}


def _population_shares(view: SetView) -> tuple[dict[str, float], dict[str, float]]:
    """(model shares, population shares) over the answers that have a population frequency."""
    pop = _population(view)
    dist = choice_distribution(view)
    shares = dict.fromkeys(dist.options, 0.0)
    if dist.mode == "exact":
        shares.update(zip(dist.options, dist.valid_model().tolist(), strict=True))
    else:
        answers = [a for a in view.parsed or () if isinstance(a, str)]
        for a in answers:
            shares[a] = shares.get(a, 0.0) + 1.0
    shares = {k: v for k, v in shares.items() if k in pop}
    total = sum(shares.values())
    require(total > 0, "no answer has a population frequency")
    return {k: v / total for k, v in shares.items()}, pop


def overrepresentation(view: SetView) -> list[tuple[str, float, float, float]]:
    """(answer, model share, population share, ratio), most over-represented first.

    Covers the options and every other answer with a population frequency (see the module notes).
    Use it to print "Avery is 40× over-represented".
    """
    shares, pop = _population_shares(view)
    rows = [(k, m, pop[k], m / pop[k]) for k, m in shares.items()]
    return sorted(rows, key=lambda r: (-r[3], r[0]))


class ChoiceMetric(Metric):
    """Base of the per-prompt distribution metrics."""

    families: ClassVar[frozenset[str] | None] = FAMILIES

    def value(self, dist: ChoiceDistribution) -> float:
        raise NotImplementedError

    def score_set(self, view: SetView) -> float:
        return self.value(choice_distribution(view))

    def details(self, views: Sequence[SetView]) -> dict[str, Any]:
        prompts: dict[str, Any] = {}
        for v in views:
            try:
                prompts[v.prompt.id] = choice_distribution(v).to_details()
            except Undefined as exc:
                prompts[v.prompt.id] = {"undefined": str(exc)}
        return {"prompts": prompts}


class EntropyBits(ChoiceMetric):
    name = "entropy_bits"
    description = "Shannon entropy (bits) of the model over the valid options"

    def value(self, dist: ChoiceDistribution) -> float:
        return float(entropy_bits(dist.valid_model()))


class NormalizedEntropy(ChoiceMetric):
    name = "normalized_entropy"
    description = "entropy / log2 |declared options| (1 = uniform over them)"

    def value(self, dist: ChoiceDistribution) -> float:
        require(dist.n_options >= 2, "normalised entropy needs at least two options")
        return float(entropy_bits(dist.valid_model()) / math.log2(dist.n_options))


class KLToTarget(ChoiceMetric):
    name = "kl_to_target"
    higher_is_better = False
    description = "KL(target || model) in bits over the valid options"

    def __init__(self, alpha: float = 0.5) -> None:
        self.alpha = alpha

    def params(self) -> dict[str, Any]:
        return {"kl": "target,model", "unit": "bits", "alpha": self.alpha}

    def value(self, dist: ChoiceDistribution) -> float:
        model = dist.valid_model()  # Undefined when nothing valid was produced
        if dist.counts is not None and self.alpha > 0:
            support = int((dist.target > 0).sum())
            require(dist.counts.sum() >= support,
                    f"{int(dist.counts.sum())} valid samples for {support} target options: too few for KL")
            model = (dist.counts + self.alpha) / (dist.counts.sum() + self.alpha * len(dist.options))
        kl = float(kl_bits(dist.target, model))
        require(math.isfinite(kl), "the model gives probability 0 to an option of the target")
        return kl


class JSDivergence(ChoiceMetric):
    name = "js_divergence"
    higher_is_better = False
    description = "Jensen-Shannon divergence (bits) between target and model"

    def value(self, dist: ChoiceDistribution) -> float:
        return float(js_bits(dist.target, dist.valid_model()))


class TVDistance(ChoiceMetric):
    name = "tv_distance"
    higher_is_better = False
    description = "total-variation distance between target and model"

    def value(self, dist: ChoiceDistribution) -> float:
        return float(tv(dist.target, dist.valid_model()))


def _seen(dist: ChoiceDistribution) -> np.ndarray:
    """Which options count as produced: drawn once (sampled) or p ≥ 1/(10·|T|) (exact)."""
    if dist.counts is not None:
        return dist.counts > 0
    return dist.valid_model() >= 1 / (10 * dist.n_options)


class Coverage(ChoiceMetric):
    name = "coverage"
    description = "share of the target's options the model produces"

    def params(self) -> dict[str, Any]:
        return {"exact_threshold": "1/(10T)"}

    def value(self, dist: ChoiceDistribution) -> float:
        support = dist.target > 0
        return float((_seen(dist) & support).sum() / support.sum())


class UniqueCount(ChoiceMetric):
    name = "unique_count"
    description = "number of distinct valid options produced"

    def params(self) -> dict[str, Any]:
        return {"exact_threshold": "1/(10T)"}

    def value(self, dist: ChoiceDistribution) -> float:
        return float(_seen(dist).sum())


class InvalidRate(ChoiceMetric):
    name = "invalid_rate"
    higher_is_better = False
    description = "share of answers (or probability mass) outside the valid options"

    def value(self, dist: ChoiceDistribution) -> float:
        return dist.invalid


class SampledOnly(ChoiceMetric):
    """A statistic of sampled counts: does not apply when every set has exact probabilities."""

    def applies_to(self, family: str, views: Sequence[SetView]) -> bool:
        return super().applies_to(family, views) and any(v.gset.option_scores is None for v in views)


class Chi2PValue(SampledOnly):
    name = "chi2_pvalue"
    description = "p-value of Pearson's chi-square test of the valid counts against the target"

    def value(self, dist: ChoiceDistribution) -> float:
        from scipy.stats import chisquare

        counts, support = dist.sampled_counts(), dist.target > 0
        require(support.sum() >= 2, "chi-square needs at least two target options")
        n = counts[support].sum()
        require(n > 0, "no answer falls on a target option")
        expected = dist.target[support] / dist.target[support].sum() * n
        return float(chisquare(counts[support], f_exp=expected).pvalue)


class EntropyMM(SampledOnly):
    name = "entropy_mm"
    description = "Miller-Madow bias-corrected entropy (bits) of the sampled valid answers"

    def value(self, dist: ChoiceDistribution) -> float:
        counts = dist.sampled_counts()
        n = counts.sum()
        require(n > 0, "no valid answer in this set")
        return float(entropy_bits(counts / n) + ((counts > 0).sum() - 1) / (2 * n * math.log(2)))


class KLToPopulation(ChoiceMetric):
    name = "kl_to_population"
    higher_is_better = False
    description = "KL(model || population) in bits over the answers with a population frequency"

    def params(self) -> dict[str, Any]:
        return {"kl": "model,population", "unit": "bits"}

    def applies_to(self, family: str, views: Sequence[SetView]) -> bool:
        return super().applies_to(family, views) and any(v.prompt.meta.get("population") for v in views)

    def score_set(self, view: SetView) -> float:
        shares, pop = _population_shares(view)
        p = np.array(list(shares.values()))
        q = np.array([pop[k] for k in shares])
        return float(kl_bits(p, q))

    def details(self, views: Sequence[SetView]) -> dict[str, Any]:
        out = super().details(views)
        for v in views:
            with contextlib.suppress(Undefined):
                rows = overrepresentation(v)[:10]
                out["prompts"][v.prompt.id]["overrepresented"] = [
                    {"answer": a, "model": round(m, 6), "population": round(p, 8), "ratio": round(r, 3)}
                    for a, m, p, r in rows]
        return out


ENTROPY_BITS = EntropyBits()
NORMALIZED_ENTROPY = NormalizedEntropy()
KL_TO_TARGET = KLToTarget()
JS_DIVERGENCE = JSDivergence()
TV_DISTANCE = TVDistance()
COVERAGE = Coverage()
UNIQUE_COUNT = UniqueCount()
INVALID_RATE = InvalidRate()
CHI2_PVALUE = Chi2PValue()
ENTROPY_MM = EntropyMM()
KL_TO_POPULATION = KLToPopulation()
