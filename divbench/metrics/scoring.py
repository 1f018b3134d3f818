"""Score a task's GenerationSets: value, confidence interval, details and signature per metric.

:func:`score_task` is the one function the runner calls.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from divbench import registry
from divbench.metrics.base import Metric, SetView, Undefined
from divbench.metrics.stats import DEFAULT_BOOTSTRAP, Bootstrap, mean_ci, units_ci
from divbench.types import MetricResult

__all__ = ["Bootstrap", "score_metric", "score_task", "select_metrics"]


def select_metrics(family: str, views: Sequence[SetView], metric_names: Sequence[str] | None = None) -> list[Metric]:
    """The named metrics (UnknownNameError for an unknown name), or every registered one that applies."""
    if metric_names is not None:
        return [registry.get("metrics", name) for name in metric_names]
    return [m for m in registry.load_all("metrics").values() if m.applies_to(family, views)]


def _per_set(metric: Metric, views: Sequence[SetView], boot: Bootstrap) -> tuple[float, Any, int, dict[str, Any]]:
    values: dict[str, float] = {}
    undefined: dict[str, str] = {}
    for view in views:
        try:
            values[view.prompt.id] = metric.score_set(view)
        except Undefined as exc:
            undefined[view.prompt.id] = str(exc)
    if not values:
        reasons = sorted(set(undefined.values())) or ["no sets"]
        raise Undefined("; ".join(reasons))
    details: dict[str, Any] = {"per_prompt": values}
    if undefined:
        details["undefined"] = undefined
    vals = list(values.values())
    return sum(vals) / len(vals), mean_ci(vals, boot), len(vals), details


def _per_task(metric: Metric, views: Sequence[SetView], boot: Bootstrap) -> tuple[float, Any, int, dict[str, Any]]:
    units = metric.units(views)
    value = float(metric.score_units(units))
    return value, units_ci(metric, units, value, boot), len(units), {}


def score_metric(metric: Metric, views: Sequence[SetView], family: str, context: dict[str, Any],
                 bootstrap: Bootstrap = DEFAULT_BOOTSTRAP) -> MetricResult:
    """One metric over one task's sets; Undefined becomes value None plus the reason."""
    head = {"name": metric.name, "version": metric.version, "scope": metric.scope,
            "higher_is_better": metric.higher_is_better, "params": metric.params(),
            "signature": metric.signature({**context, **bootstrap.fields()})}
    try:
        if not metric.applies_to(family, views):
            raise Undefined(f"{metric.name} does not apply to these {family} sets")
        prepare = getattr(metric, "prepare", None)
        if prepare is not None:
            prepare(views)
        run = _per_set if metric.scope == "per_set" else _per_task
        value, ci, n, details = run(metric, views, bootstrap)
    except Undefined as exc:
        return MetricResult(value=None, ci=None, n=0, reason=str(exc), **head)
    with contextlib.suppress(Undefined):
        details.update(metric.details(views))
    return MetricResult(value=value, ci=ci, n=n, details=details, **head)


def score_task(views: list[SetView], family: str, context: dict[str, Any], metric_names: list[str] | None = None,
               bootstrap: Bootstrap = DEFAULT_BOOTSTRAP) -> list[MetricResult]:
    """Every applicable (or every named) metric over one task's sets, with CIs and signatures.

    ``context`` holds the run fields that go into every signature (N, sampling signature,
    task@version, prompt-set hash, ...); the bootstrap's confidence, resample count and seed are added.
    """
    return [score_metric(m, views, family, context, bootstrap)
            for m in select_metrics(family, views, metric_names)]
