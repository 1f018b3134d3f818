"""Which numbers may share a column, and who wins where.

A column is one (task, metric, signature). A task's runs first fall into *comparison groups* by
the signature fields all their metrics share (N, max tokens, task version, prompt set, scoring mode,
bootstrap; decoding knobs such as the temperature belong to the system, see :data:`SYSTEM_FIELDS`);
inside a group, a metric whose signatures still differ (another metric version, another embedder)
is split into variant columns. Numbers with different signatures never share a column; the page
marks a run's cell in another group's or variant's column as *not comparable* and names the
differing fields.

The mean win rate of a system is the share of its pairwise comparisons it wins, pooled over every
column where both systems have a value (a tie counts half).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from divbench.leaderboard.collect import LoadedRun
from divbench.runner import RunError
from divbench.types import MetricResult

#: display order of task families; others follow alphabetically
FAMILY_ORDER = ("dialogue", "story", "persona", "random_choice")
#: metric display order inside a task; unknown metrics follow alphabetically
METRIC_ORDER = (
    "semantic_diversity", "embedding_similarity", "distinct_1", "distinct_2", "distinct_3", "self_bleu",
    "corpus_distinct_1", "corpus_distinct_2", "poexft_distinct_1", "poexft_distinct_2",
    "tv_distance", "js_divergence", "kl_to_target", "normalized_entropy", "entropy_bits", "entropy_mm",
    "coverage", "unique_count", "invalid_rate", "chi2_pvalue", "kl_to_population",
)
SKEW_STAT_ORDER = ("tv", "kl", "entropy", "top_share")
#: the headline metric of a family: the first of these with a value
HEADLINE = {
    "random_choice": ("tv_distance", "js_divergence", "kl_to_target", "normalized_entropy"),
    "*": ("semantic_diversity", "distinct_2", "self_bleu", "distinct_1"),
}
#: the diversity metric plotted against cost and temperature for free-text tasks
DIVERSITY_PLOT = ("semantic_diversity", "distinct_2", "distinct_1", "self_bleu")
TIE = 1e-9
#: sampling fields that say how a system decodes — which system it is — not how a metric is computed:
#: a T=0.7 run and a T=1.0 run of the same prompts and N are two systems on one measurement and share
#: columns (N, max_new_tokens and stop strings change what is measured and keep runs apart)
SYSTEM_FIELDS = ("t", "top_p", "top_k", "min_p")


def family_rank(family: str) -> tuple[int, str]:
    return (FAMILY_ORDER.index(family), "") if family in FAMILY_ORDER else (len(FAMILY_ORDER), family)


def metric_section(name: str) -> str:
    """``skew`` (demographic), ``distribution`` (random choice) or ``diversity`` (free text)."""
    if name.startswith("skew_"):
        return "skew"
    if name in METRIC_ORDER[METRIC_ORDER.index("tv_distance"):]:
        return "distribution"
    return "diversity"


def metric_rank(name: str) -> tuple[int, str, int, str]:
    if name in METRIC_ORDER:
        return (0, "", METRIC_ORDER.index(name), name)
    if name.startswith("skew_"):
        for i, stat in enumerate(SKEW_STAT_ORDER):
            if name.startswith(f"skew_{stat}_"):
                return (1, name.removeprefix(f"skew_{stat}_"), i, name)
    return (2, "", 0, name)


# ---------------------------------------------------------------- signatures


def signature_fields(signature: str) -> dict[str, str]:
    """``key:value|...`` as a dict; a nested ``sampling:n:5`` becomes ``sampling.n`` → ``5``."""
    out: dict[str, str] = {}
    for part in signature.split("|"):
        key, _, value = part.partition(":")
        if ":" in value:
            sub, _, value = value.partition(":")
            key = f"{key}.{sub}"
        name, k = key, 2
        while name in out:
            name, k = f"{key}#{k}", k + 1
        out[name] = value
    return out


def differing_fields(a: str, b: str) -> list[tuple[str, str, str]]:
    """(field, value in a, value in b) for every field where signatures ``a`` and ``b`` differ."""
    fa, fb = signature_fields(a), signature_fields(b)
    keys = list(fa) + [k for k in fb if k not in fa]
    return [(k, fa.get(k, "-"), fb.get(k, "-")) for k in keys if fa.get(k) != fb.get(k)]


def without_fields(signature: str, names: Sequence[str]) -> str:
    """The signature with some top-level fields dropped (e.g. ``t`` to compare across temperatures)."""
    return "|".join(p for p in signature.split("|") if p.partition(":")[0] not in names)


def measurement(signature: str) -> str:
    """The signature without the decoding knobs that make a system what it is (:data:`SYSTEM_FIELDS`)."""
    return without_fields(signature, SYSTEM_FIELDS)


# ---------------------------------------------------------------- columns


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RunError(f"{where}: metric value {value!r} is not a number")
    return float(value)


def _ci(ci: Any, where: str) -> list[float] | None:
    if ci is None:
        return None
    if not isinstance(ci, (list, tuple)) or len(ci) != 2:
        raise RunError(f"{where}: confidence interval {ci!r} is not a pair")
    lo, hi = _number(ci[0], where), _number(ci[1], where)
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    return [lo, hi]


def task_order(runs: Sequence[LoadedRun]) -> list[tuple[str, str]]:
    """(task, family) of every task in the runs, by family then name."""
    families: dict[str, str] = {}
    for run in runs:
        for task in run.record.tasks:
            families.setdefault(task.task, task.family)
    return sorted(families.items(), key=lambda tf: (family_rank(tf[1]), tf[0]))


def _visible(metric: MetricResult) -> bool:
    return not metric.details.get("hidden")


def task_context(metrics: Sequence[MetricResult]) -> str:
    """The signature fields shared by every metric of one run's task (N, sampling, task, prompts, ...)."""
    sigs = [measurement(m.signature).split("|") for m in metrics]
    if not sigs:
        return ""
    return "|".join(p for p in sigs[0] if all(p in s for s in sigs[1:]))


def build_groups(runs: Sequence[LoadedRun]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(task entries with their comparison groups, columns).

    A task's runs fall into comparison groups by the signature fields all their metrics share; the
    group with the most runs comes first. Inside a group each metric gets one column per signature
    (normally one); a column's cells are the runs with exactly that signature.
    """
    tasks, columns = [], []
    for task, family in task_order(runs):
        by_context: dict[str, list[tuple[LoadedRun, list[MetricResult]]]] = {}
        for run in runs:
            result = run.record.task(task)
            if result is None:
                continue
            metrics = [m for m in result.metrics if _visible(m)]
            by_context.setdefault(task_context(metrics), []).append((run, metrics))
        contexts = sorted(by_context, key=lambda c: (-len(by_context[c]), c))
        groups = []
        for number, context in enumerate(contexts, start=1):
            members = by_context[context]
            group_columns = _group_columns(task, family, number, members)
            columns.extend(group_columns)
            groups.append({"id": f"{task}:{number}", "number": number, "context": context,
                           "runs": [run.key for run, _ in members],
                           "differs": [list(d) for d in differing_fields(context, contexts[0])],
                           "columns": [c["id"] for c in group_columns]})
        tasks.append({"task": task, "family": family, "groups": groups})
    return tasks, columns


def _group_columns(task: str, family: str, group: int,
                   members: list[tuple[LoadedRun, list[MetricResult]]]) -> list[dict[str, Any]]:
    by_metric: dict[str, list[tuple[LoadedRun, MetricResult]]] = {}
    for run, metrics in members:
        for metric in metrics:
            by_metric.setdefault(metric.name, []).append((run, metric))
    columns = []
    for name in sorted(by_metric, key=metric_rank):
        by_sig: dict[str, list[tuple[LoadedRun, MetricResult]]] = {}
        for run, metric in by_metric[name]:
            by_sig.setdefault(measurement(metric.signature), []).append((run, metric))
        ordered = sorted(by_sig, key=lambda s: (-len(by_sig[s]), s))
        for variant, sig in enumerate(ordered, start=1):
            first = by_sig[sig][0][1]
            differs = {k: mine for other in ordered if other != sig for k, mine, _ in differing_fields(sig, other)}
            cells = {}
            for run, metric in by_sig[sig]:
                where = f"{run.path / 'run.json'} ({task}/{name})"
                value = _number(metric.value, where)
                cells[run.key] = ({"value": value, "ci": _ci(metric.ci, where), "n": metric.n}
                                  if value is not None and math.isfinite(value)
                                  else {"reason": metric.reason or "undefined"})
            columns.append({
                "id": _column_id(task, name, group, variant), "task": task, "family": family, "metric": name,
                "section": metric_section(name), "version": first.version, "scope": first.scope,
                "higher_is_better": first.higher_is_better, "signature": sig, "group": group,
                "variant": variant, "variants": len(ordered), "differs": dict(sorted(differs.items())),
                "all_undefined": not any("value" in c for c in cells.values()),
                "cells": dict(sorted(cells.items())),
            })
    return columns


def _column_id(task: str, metric: str, group: int, variant: int) -> str:
    return f"{task}/{metric}" + (f"@{group}" if group > 1 else "") + (f"#{variant}" if variant > 1 else "")


def headline_column(columns: Sequence[dict[str, Any]], task: str, family: str,
                    preference: Sequence[str] | None = None) -> dict[str, Any] | None:
    """The first column of the task's preferred metrics, in its first comparison group, that has a value."""
    names = preference or HEADLINE.get(family, HEADLINE["*"])
    by_name = {c["metric"]: c for c in columns
               if c["task"] == task and c["group"] == 1 and c["variant"] == 1 and not c["all_undefined"]}
    return next((by_name[n] for n in names if n in by_name), None)


# ---------------------------------------------------------------- win rates


def _beats(a: float, b: float, higher_is_better: bool) -> float:
    """1 if a is better than b, 0 if worse, 0.5 for a tie (within a relative 1e-9)."""
    if abs(a - b) <= TIE * max(1.0, abs(a), abs(b)):
        return 0.5
    return 1.0 if (a > b) == higher_is_better else 0.0


def win_rates(columns: Sequence[dict[str, Any]], keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per run key: wins (ties count half), comparisons, and rate = wins / comparisons (None if none)."""
    wins = dict.fromkeys(keys, 0.0)
    count = dict.fromkeys(keys, 0)
    for column in columns:
        ok = [(k, c["value"]) for k, c in column["cells"].items() if "value" in c]
        for i, (ka, va) in enumerate(ok):
            for kb, vb in ok[i + 1 :]:
                score = _beats(va, vb, column["higher_is_better"])
                wins[ka] += score
                wins[kb] += 1.0 - score
                count[ka] += 1
                count[kb] += 1
    return {k: {"wins": wins[k], "comparisons": count[k],
                "rate": round(wins[k] / count[k], 6) if count[k] else None} for k in keys}
