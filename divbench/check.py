"""``divbench check``: compare a new run with a baseline run and say whether any metric regressed.

The question a CI gate asks is "did this change make the outputs less diverse?", and it is asked of
every metric of every task at once. The answer here:

1. **Comparable or refused.** Every (task, metric) pair present in both runs must carry the same
   signature, apart from the bootstrap fields (``ci``, ``boot``, ``boot_seed``): they only shape the
   interval stored in run.json, which this module does not use. The run seed is not part of any
   signature (the runner's context is N, sampling, task@version, prompt-set hash and scoring mode;
   per-set seeds live in generations.jsonl), so two seeds of one system compare cleanly and nothing
   needs excluding for it.
2. **A difference with a standard error per test.**

   * ``per_set`` metrics: a paired bootstrap over the prompts both runs scored. Resampling prompt
     indices and applying the same indices to both runs is resampling the per-prompt differences
     ``new - old``; the statistic is their mean.
   * ``per_task`` metrics: the metric's units are rebuilt from each run's generations (the views the
     runner scores), both runs are bootstrapped independently (they share no units) and the
     difference of the two statistics is taken. Where the runs cover different prompts, both are
     recomputed on the shared prompts.

   The interval is ``diff ± t(df, 1 - a/2) · se``, where ``se`` is the bootstrap standard deviation
   with the small-sample factor ``sqrt(n / (n - 1))`` (a resampled mean spreads ``sqrt((n-1)/n)``
   less than the mean itself) and ``df`` is ``n - 1`` prompts (paired) or the Welch–Satterthwaite
   value (two runs). Student's t instead of bootstrap percentiles matters: quick-suite tasks have 4
   to 10 prompts, and a percentile interval can never reach beyond the most extreme observed
   difference — with 4 prompts that all moved the same way (1 chance in 8 for two seeds of one
   system) it would exclude zero at any confidence. Under the null the paired differences are
   symmetric (the two runs are exchangeable), where the t interval is close to exact or conservative.
3. **One family-wise level** (Bonferroni). With ``m`` tests, each interval is drawn at confidence
   ``1 - (1 - confidence) / m``, so the chance that *any* metric of two runs of the same system is
   called regressed or improved is at most ``1 - confidence``. Tests that cannot move — both runs
   give the same value on every prompt (exact-scored metrics of a deterministic model, metrics
   pinned at a bound) — are reported as unchanged and not counted in ``m`` (Tarone's rule: a test
   that cannot reach significance needs no share of the error budget).
4. **Verdict.** ``regressed`` when the whole interval lies on the worse side of ``-tolerance``
   (higher-is-better metrics) or ``+tolerance`` (lower-is-better ones), ``improved`` for the mirror
   case, ``unchanged`` otherwise; ``untested`` when there is no interval (undefined in a run, fewer
   than two shared prompts, no generations to rebuild units from).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from divbench import registry
from divbench.metrics.base import Metric, SetView, Undefined
from divbench.metrics.stats import Bootstrap, resampled_means, resampled_values
from divbench.runner import GENERATIONS, MANIFEST, RunError, build_task, load_run, read_manifest, read_sets, views_for
from divbench.signature import stable_hash
from divbench.suite import TaskEntry
from divbench.types import SCHEMA_VERSION, GenerationSet, MetricResult, RunRecord, Sampling

Verdict = Literal["regressed", "improved", "unchanged", "untested", "missing"]

#: exit codes of ``divbench check``
EXIT_OK, EXIT_USER_ERROR, EXIT_REGRESSED = 0, 2, 3
#: signature fields that do not change a metric's value, only the interval stored with it
IGNORED_FIELDS: frozenset[str] = frozenset({"ci", "boot", "boot_seed"})
#: differences this small are floating-point noise, never a movement
NUMERIC_EPS = 1e-9
DEFAULT_RESAMPLES = 2000

_VERDICT_ORDER: dict[str, int] = {"regressed": 0, "improved": 1, "unchanged": 2, "untested": 3, "missing": 4}


class CheckError(RunError):
    """The two runs cannot be compared (or an option is invalid); the message is one line."""


# ---------------------------------------------------------------- signatures


def _sampling_keys() -> tuple[str, ...]:
    return tuple(piece.partition(":")[0] for piece in Sampling().signature().split("|"))


#: keys of the nested sampling signature (``sampling:n:8|t:1|...|stop:none``), in order
SAMPLING_KEYS = _sampling_keys()
#: keys the runner writes after the sampling signature; they end a stop list that contains '|'
_AFTER_SAMPLING = frozenset({"task", "prompts", "scoring", "ci", "boot", "boot_seed"})


def parse_signature(signature: str) -> dict[str, str]:
    """A ``key:value|key:value`` signature as an ordered dict of fields.

    The nested sampling signature becomes ``sampling.n``, ``sampling.t``, ... (its stop strings may
    themselves contain ``|``: they run up to the next field the runner writes after sampling). A key
    seen twice gets a ``#2`` suffix.
    """
    fields: dict[str, str] = {}
    in_sampling = in_stop = False
    for piece in signature.split("|") if signature else ():
        key, _, value = piece.partition(":")
        if in_stop and key not in _AFTER_SAMPLING:
            fields["sampling.stop"] += "|" + piece
            continue
        in_stop = False
        if key == "sampling" and not in_sampling:
            in_sampling = True
            key, _, value = value.partition(":")
            key = f"sampling.{key}"
        elif in_sampling and key in SAMPLING_KEYS[1:]:
            in_stop = key == "stop"
            in_sampling = not in_stop
            key = f"sampling.{key}"
        else:
            in_sampling = False
        name, count = key, 2
        while name in fields:
            name, count = f"{key}#{count}", count + 1
        fields[name] = value
    return fields


def signature_difference(baseline: str, new: str) -> tuple[str, str | None, str | None] | None:
    """The first field (other than :data:`IGNORED_FIELDS`) whose value differs: (field, baseline, new)."""
    old_fields = {k: v for k, v in parse_signature(baseline).items() if k not in IGNORED_FIELDS}
    new_fields = {k: v for k, v in parse_signature(new).items() if k not in IGNORED_FIELDS}
    for key in dict.fromkeys([*old_fields, *new_fields]):
        if old_fields.get(key) != new_fields.get(key):
            return key, old_fields.get(key), new_fields.get(key)
    return None


# ---------------------------------------------------------------- estimates and intervals


@dataclass(frozen=True)
class Estimate:
    """A difference ``new - old`` with its bootstrap standard error and degrees of freedom."""

    old: float
    new: float
    diff: float
    se: float
    df: float
    n_old: int
    n_new: int

    @property
    def degenerate(self) -> bool:
        """Both runs agree exactly: nothing moved and nothing could (not counted as a test)."""
        return abs(self.diff) <= NUMERIC_EPS and self.se <= NUMERIC_EPS

    def interval(self, confidence: float) -> tuple[float, float]:
        """Two-sided Student-t interval at ``confidence``."""
        if self.se <= 0:
            return self.diff, self.diff
        from scipy.stats import t as student_t

        half = float(student_t.ppf(1 - (1 - confidence) / 2, max(self.df, 1.0))) * self.se
        return self.diff - half, self.diff + half


def _corrected_sd(draws: np.ndarray, n: int) -> float:
    """Bootstrap SD of a statistic of ``n`` units, scaled by sqrt(n / (n - 1)) (see the module doc)."""
    if draws.size < 2:
        return 0.0
    return float(np.std(draws, ddof=1)) * math.sqrt(n / (n - 1))


def paired_difference(old: Mapping[str, float], new: Mapping[str, float], boot: Bootstrap) -> Estimate | None:
    """Paired bootstrap over the prompt ids both runs have: the mean of per-prompt ``new - old``.

    None with fewer than two shared prompts (no spread to learn from), unless the one shared prompt
    has the same value in both runs (then a degenerate estimate: nothing moved).
    """
    shared = [k for k in old if k in new]
    if len(shared) == 1 and old[shared[0]] == new[shared[0]]:
        value = float(old[shared[0]])
        return Estimate(value, value, 0.0, 0.0, 0.0, 1, 1)  # identical: degenerate, not a test
    if len(shared) < 2:
        return None
    old_arr = np.array([old[k] for k in shared], dtype=float)
    new_arr = np.array([new[k] for k in shared], dtype=float)
    diffs = new_arr - old_arr
    n = len(shared)
    se = _corrected_sd(resampled_means(diffs, boot), n)
    if np.all(diffs == diffs[0]):
        se = 0.0  # every prompt moved by the same amount (or none did): no spread, exactly
    return Estimate(float(old_arr.mean()), float(new_arr.mean()), float(diffs.mean()), se, n - 1, n, n)


def _welch_df(se_old: float, n_old: int, se_new: float, n_new: int) -> float:
    terms = [(se**2, n) for se, n in ((se_old, n_old), (se_new, n_new)) if se > 0]
    if not terms:
        return float(min(n_old, n_new) - 1)
    num = sum(v for v, _ in terms) ** 2
    return num / sum(v**2 / (n - 1) for v, n in terms)


def unpaired_difference(metric: Metric, old_units: Sequence[Any], new_units: Sequence[Any], boot_old: Bootstrap,
                        boot_new: Bootstrap) -> Estimate | None:
    """Independent bootstraps of a per-task metric's units in each run; the difference of the values.

    None when a run has fewer than two units or the metric is undefined on more than half of a run's
    resamples. Undefined on the full data raises :class:`Undefined`.
    """
    old_value = float(metric.score_units(old_units))
    new_value = float(metric.score_units(new_units))
    if len(old_units) < 2 or len(new_units) < 2:
        return None
    ses = []
    for units, boot in ((old_units, boot_old), (new_units, boot_new)):
        draws = resampled_values(metric, units, boot)
        if draws.size < max(2, boot.n_resamples / 2):
            return None
        ses.append(_corrected_sd(draws, len(units)))
    se = math.hypot(*ses)
    df = _welch_df(ses[0], len(old_units), ses[1], len(new_units))
    return Estimate(old_value, new_value, new_value - old_value, se, df, len(old_units), len(new_units))


def verdict_for(ci: tuple[float, float], higher_is_better: bool, tolerance: float = 0.0) -> Verdict:
    """regressed / improved when the whole interval lies beyond the tolerance on one side."""
    margin = max(tolerance, NUMERIC_EPS)
    lo, hi = ci
    if hi < -margin:
        return "regressed" if higher_is_better else "improved"
    if lo > margin:
        return "improved" if higher_is_better else "regressed"
    return "unchanged"


# ---------------------------------------------------------------- report


@dataclass(frozen=True)
class CheckOptions:
    """How two runs are compared (the CLI's options)."""

    metrics: tuple[str, ...] | None = None
    confidence: float = 0.95
    tolerance: float = 0.0
    resamples: int = DEFAULT_RESAMPLES
    bootstrap_seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.confidence < 1:
            raise CheckError(f"--confidence must be between 0 and 1 (exclusive), got {self.confidence}")
        if self.tolerance < 0:
            raise CheckError(f"--tolerance must be >= 0, got {self.tolerance}")
        if self.resamples < 100:
            raise CheckError(f"--resamples must be at least 100, got {self.resamples}")


@dataclass(frozen=True)
class Row:
    """One (task, metric) comparison."""

    task: str
    metric: str
    scope: str
    higher_is_better: bool
    verdict: Verdict
    old: float | None = None
    new: float | None = None
    estimate: Estimate | None = None
    ci: tuple[float, float] | None = None
    note: str = ""

    @property
    def diff(self) -> float | None:
        return self.estimate.diff if self.estimate else None

    @property
    def tested(self) -> bool:
        """Counted in the family (has a non-degenerate estimate)."""
        return self.estimate is not None and not self.estimate.degenerate

    def to_dict(self) -> dict[str, Any]:
        est = self.estimate
        return {
            "task": self.task, "metric": self.metric, "scope": self.scope, "higher_is_better": self.higher_is_better,
            "old": self.old, "new": self.new, "diff": self.diff, "ci": list(self.ci) if self.ci else None,
            "se": est.se if est else None, "df": est.df if est else None,
            "n_old": est.n_old if est else None, "n_new": est.n_new if est else None,
            "verdict": self.verdict, "tested": self.tested, "note": self.note,
        }


@dataclass(frozen=True)
class CheckReport:
    """Everything ``divbench check`` prints, and its exit code."""

    new_run: RunRecord
    baseline_run: RunRecord
    new_path: str
    baseline_path: str
    options: CheckOptions
    tests: int
    per_test_confidence: float
    rows: tuple[Row, ...] = field(default_factory=tuple)

    def count(self, verdict: Verdict) -> int:
        return sum(r.verdict == verdict for r in self.rows)

    @property
    def regressed(self) -> list[Row]:
        return [r for r in self.rows if r.verdict == "regressed"]

    @property
    def exit_code(self) -> int:
        return EXIT_REGRESSED if self.regressed else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        def run_info(record: RunRecord, path: str) -> dict[str, Any]:
            return {"run_id": record.run_id, "path": path, "seed": record.seed, "system": record.system.to_dict()}

        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "divbench-check",
            "new": run_info(self.new_run, self.new_path),
            "baseline": run_info(self.baseline_run, self.baseline_path),
            "decision": {"confidence": self.options.confidence, "correction": "bonferroni", "tests": self.tests,
                         "per_test_confidence": self.per_test_confidence, "tolerance": self.options.tolerance,
                         "interval": "student-t with bootstrap standard error",
                         "resamples": self.options.resamples, "bootstrap_seed": self.options.bootstrap_seed},
            "summary": {v: self.count(v) for v in _VERDICT_ORDER},
            "exit_code": self.exit_code,
            "rows": [r.to_dict() for r in self.rows],
        }


# ---------------------------------------------------------------- reading runs


class _Run:
    """A scored run folder: its record, and (lazily) its generations rebuilt into per-task views."""

    def __init__(self, path: Path, role: str) -> None:
        if not path.exists():
            raise CheckError(f"{role} run '{path}' does not exist")
        self.path, self.role = path, role
        self.dir = path if path.is_dir() else path.parent
        self.record = load_run(path)
        self._sets: list[GenerationSet] | None = None
        self._views: dict[str, list[SetView]] = {}

    def has_generations(self) -> bool:
        return (self.dir / MANIFEST).exists() and (self.dir / GENERATIONS).exists()

    def task_views(self, name: str) -> list[SetView]:
        """The runner's views of one task's sets (built once)."""
        if name not in self._views:
            manifest = read_manifest(self.dir)
            info = next((t for t in manifest["tasks"] if t["task"] == name), None)
            if info is None:
                raise CheckError(f"{self.role} run '{self.dir}': task {name!r} is in run.json but not in {MANIFEST}")
            task = build_task(TaskEntry.from_dict(info["entry"]))
            if task.prompt_set_hash != info["prompt_set_hash"]:
                raise CheckError(f"{self.role} run: task {name!r} changed since its generations were made "
                                 f"(prompt-set hash {task.prompt_set_hash} != {info['prompt_set_hash']})")
            if self._sets is None:
                self._sets = read_sets(self.dir / GENERATIONS)
            sets = [s for s in self._sets if s.task == name]
            self._views[name] = views_for(task, {p.id: p for p in task.prompts}, sets)
        return self._views[name]


def _seed(base: int, *parts: str) -> int:
    """A bootstrap seed per test, so a test's interval does not depend on which others run."""
    return int(stable_hash([base, *parts], length=8), 16) & 0x7FFFFFFF


def _metric_names(new: RunRecord, old: RunRecord, wanted: Sequence[str] | None) -> list[str]:
    present = list(dict.fromkeys(m.name for rec in (old, new) for t in rec.tasks for m in t.metrics))
    if wanted is None:
        return present
    for name in wanted:
        registry.get("metrics", name)  # UnknownNameError lists the known names
        if name not in present:
            raise CheckError(f"metric {name!r} was scored in neither run; re-score with it or drop it")
    return list(dict.fromkeys(wanted))


def _check_signatures(pairs: Sequence[tuple[str, MetricResult, MetricResult]]) -> None:
    for task, old, new in pairs:
        diff = signature_difference(old.signature, new.signature)
        if diff is not None:
            key, was, now = diff
            raise CheckError(f"runs are not comparable: {task}/{old.name}: signature field {key!r} differs "
                             f"(baseline {was if was is not None else 'absent'}, "
                             f"new {now if now is not None else 'absent'})")


def _per_set_estimate(old: MetricResult, new: MetricResult, boot: Bootstrap) -> tuple[Estimate | None, str]:
    old_values, new_values = old.details.get("per_prompt"), new.details.get("per_prompt")
    if not isinstance(old_values, dict) or not isinstance(new_values, dict):
        return None, "run.json has no per-prompt values to pair"
    est = paired_difference(old_values, new_values, boot)
    if est is None:
        return None, "fewer than two prompts scored in both runs"
    shared = est.n_old
    note = "" if shared == len(old_values) == len(new_values) else f"paired over {shared} shared prompts"
    return est, note


def _per_task_estimate(task: str, old: MetricResult, new: MetricResult, runs: tuple[_Run, _Run],
                       options: CheckOptions) -> tuple[Estimate | None, str]:
    old_run, new_run = runs
    for run in runs:
        if not run.has_generations():
            return None, f"{run.role} run has no {GENERATIONS} to rebuild units from"
    metric: Metric = registry.get("metrics", old.name)
    old_views, new_views = old_run.task_views(task), new_run.task_views(task)
    old_ids, new_ids = {v.prompt.id for v in old_views}, {v.prompt.id for v in new_views}
    note = ""
    if old_ids != new_ids:
        shared = old_ids & new_ids
        old_views = [v for v in old_views if v.prompt.id in shared]
        new_views = [v for v in new_views if v.prompt.id in shared]
        note = f"recomputed on {len(shared)} shared prompts"
    units = []
    for run, views, stored in ((old_run, old_views, old), (new_run, new_views, new)):
        prepare = getattr(metric, "prepare", None)
        if prepare is not None:
            prepare(views)
        run_units = metric.units(views)
        if not note:
            value = float(metric.score_units(run_units))
            if stored.value is not None and not math.isclose(value, stored.value, rel_tol=1e-9, abs_tol=1e-12):
                raise CheckError(f"{run.role} run: {task}/{metric.name} recomputes to {value:.6g} from its "
                                 f"generations but run.json says {stored.value:.6g}; re-score it "
                                 f"(`divbench score {run.dir}`)")
        units.append(run_units)
    boots = [Bootstrap(options.resamples, _seed(options.bootstrap_seed, task, metric.name, role))
             for role in ("baseline", "new")]
    est = unpaired_difference(metric, units[0], units[1], *boots)
    if est is None:
        return None, "too few units, or the metric is undefined on most resamples"
    return est, note


def _compare_metric(task: str, old: MetricResult, new: MetricResult, runs: tuple[_Run, _Run],
                    options: CheckOptions) -> Row:
    base = {"task": task, "metric": old.name, "scope": old.scope, "higher_is_better": old.higher_is_better,
            "old": old.value, "new": new.value}
    if old.value is None or new.value is None:
        why = "; ".join(f"undefined in {role} ({m.reason})" for role, m in (("baseline", old), ("new", new))
                        if m.value is None)
        return Row(verdict="untested", note=why, **base)
    try:
        if old.scope == "per_set":
            boot = Bootstrap(options.resamples, _seed(options.bootstrap_seed, task, old.name))
            est, note = _per_set_estimate(old, new, boot)
        else:
            est, note = _per_task_estimate(task, old, new, runs, options)
    except Undefined as exc:
        return Row(verdict="untested", note=f"undefined on the shared prompts ({exc})", **base)
    if est is None:
        return Row(verdict="untested", note=note, **base)
    return Row(verdict="unchanged", estimate=est, note=note, **{**base, "old": est.old, "new": est.new})


def _decide(row: Row, per_test_confidence: float, tolerance: float) -> Row:
    if row.estimate is None:
        return row
    if row.estimate.degenerate:
        return replace(row, ci=(0.0, 0.0), verdict="unchanged",
                       note=row.note or "identical (not a test)")
    ci = row.estimate.interval(per_test_confidence)
    return replace(row, ci=ci, verdict=verdict_for(ci, row.higher_is_better, tolerance))


def _sort_key(row: Row) -> tuple[int, float, str, str]:
    est = row.estimate
    strength = -abs(est.diff) / est.se if est is not None and est.se > 0 else 0.0
    return _VERDICT_ORDER[row.verdict], strength, row.task, row.metric


def compare_runs(new: Path | str, baseline: Path | str, options: CheckOptions | None = None) -> CheckReport:
    """Compare run folders (or run.json paths) ``new`` and ``baseline``; see the module doc for the rule.

    Raises :class:`CheckError` (a :class:`~divbench.runner.RunError`) for missing or unscored runs
    and for signatures that differ; :class:`~divbench.types.SchemaError` for a newer run.json.
    """
    options = options or CheckOptions()
    new_run, old_run = _Run(Path(new), "new"), _Run(Path(baseline), "baseline")
    names = _metric_names(new_run.record, old_run.record, options.metrics)
    rows: list[Row] = []
    pairs: list[tuple[str, MetricResult, MetricResult]] = []
    for old_task in old_run.record.tasks:
        new_task = new_run.record.task(old_task.task)
        if new_task is None:
            rows.append(Row(old_task.task, "*", "", True, "missing", note="task only in the baseline run"))
            continue
        for name in names:
            old_m, new_m = old_task.metric(name), new_task.metric(name)
            if old_m is None and new_m is None:
                continue
            if old_m is None or new_m is None:
                where = "baseline" if old_m is not None else "new"
                m = old_m or new_m
                assert m is not None
                rows.append(Row(old_task.task, name, m.scope, m.higher_is_better, "missing",
                                old_m.value if old_m else None, new_m.value if new_m else None,
                                note=f"scored only in the {where} run"))
                continue
            pairs.append((old_task.task, old_m, new_m))
    for new_task in new_run.record.tasks:
        if old_run.record.task(new_task.task) is None:
            rows.append(Row(new_task.task, "*", "", True, "missing", note="task only in the new run"))
    _check_signatures(pairs)
    compared = [_compare_metric(task, old_m, new_m, (old_run, new_run), options) for task, old_m, new_m in pairs]
    tests = sum(r.tested for r in compared)
    per_test = 1 - (1 - options.confidence) / max(tests, 1)
    rows.extend(_decide(r, per_test, options.tolerance) for r in compared)
    return CheckReport(new_run.record, old_run.record, str(new), str(baseline), options, tests, per_test,
                       tuple(sorted(rows, key=_sort_key)))
