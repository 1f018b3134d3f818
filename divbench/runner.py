"""generate → score: turns a system and a suite into ``generations.jsonl`` and ``run.json``.

Stage 1 (:func:`generate`) writes one GenerationSet per prompt, taking sets already in the store
instead of regenerating them. Stage 2 (:func:`score_run`) reads the run folder and needs no model.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import platform
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from divbench import __version__, registry
from divbench.metrics.base import SetView
from divbench.models.base import Backend, BackendOptions, GenOutput, GenRequest, OptionRequest
from divbench.progress import NullReporter, Reporter
from divbench.signature import derive_seed, stable_hash
from divbench.store import GenerationStore, read_jsonl, set_line, timing_line, write_atomic
from divbench.strategies.base import Strategy, StrategyError
from divbench.suite import Suite, TaskEntry
from divbench.tasks.base import Task, TaskError
from divbench.types import (
    SCHEMA_VERSION,
    GenerationSet,
    OptionScores,
    Prompt,
    RunRecord,
    Sampling,
    System,
    TaskResult,
    check_schema,
)

MANIFEST = "manifest.json"
GENERATIONS = "generations.jsonl"
TIMINGS = "timings.jsonl"
RUN_RECORD = "run.json"


class RunError(ValueError):
    """A run folder or its inputs are unusable; the message is one line."""


@dataclass(frozen=True)
class PlannedTask:
    """One suite entry resolved against its task: prompts, sampling and scoring mode."""

    entry: TaskEntry
    task: Task
    prompts: list[Prompt]
    sampling: Sampling
    mode: str  # "exact" or "sampled"

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry": self.entry.to_dict(),
            "task": self.task.name,
            "task_id": self.task.task_id,
            "family": self.task.family,
            "prompt_set_hash": self.task.prompt_set_hash,
            "prompt_ids": [p.id for p in self.prompts],
            "sampling": self.sampling.to_dict(),
            "mode": self.mode,
        }


# ---------------------------------------------------------------- building blocks


def build_backend(system: System, options: BackendOptions) -> Backend:
    factory = registry.get("backends", system.backend)
    return factory(system.model, system.adapter, options)


def build_task(entry: TaskEntry) -> Task:
    cls = registry.get("tasks", entry.name)
    try:
        return cls(**entry.options)
    except TypeError as exc:
        raise TaskError(f"task {entry.name!r}: bad options {entry.options}: {exc}") from exc


def build_strategy(name: str, options: dict[str, Any] | None = None) -> Strategy:
    """The strategy registered as ``name`` with ``options`` (bad options: one-line StrategyError)."""
    return registry.get("strategies", name)(**(options or {}))


def check_strategy(strategy: Strategy, suite: Suite) -> None:
    """Refuse task families the strategy does not support (reads task classes only: no model, no data)."""
    for entry in suite.tasks:
        strategy.check_family(entry.name, registry.get("tasks", entry.name).family)
        if entry.scoring == "exact" and not strategy.keeps_exact_scoring:
            raise StrategyError(f"task {entry.name!r} asks for exact scoring, but strategy {strategy.name!r} "
                                "changes how texts are produced; use scoring = \"sampled\" or \"auto\"")


def plan_tasks(suite: Suite, backend: Backend, strategy: Strategy | None = None) -> list[PlannedTask]:
    """Build every task of the suite (failing early, before anything is written).

    A strategy that produces texts its own way (not only new messages) makes random-choice tasks
    sampled: their texts are parsed by the task instead of scoring the options exactly.
    """
    strategy = strategy or build_strategy("none")
    check_strategy(strategy, suite)
    strategy.check_backend(backend)
    planned = []
    for entry in suite.tasks:
        task = build_task(entry)
        prompts = task.prompts[: entry.limit] if entry.limit is not None else task.prompts
        exact_ok = (strategy.keeps_exact_scoring and backend.can_score_options
                    and all(task.option_surfaces(p) for p in prompts))
        if entry.scoring == "exact" and not exact_ok:
            raise TaskError(f"task {task.name!r}: exact scoring needs enumerable options and a backend "
                            f"that scores them ({backend.name} with this task cannot)")
        mode = "exact" if entry.scoring == "exact" or (entry.scoring == "auto" and exact_ok) else "sampled"
        planned.append(PlannedTask(entry, task, prompts, entry.resolve_sampling(task.default_sampling), mode))
    return planned


def slug(text: str) -> str:
    """A short filesystem-safe name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "system"


def make_run_id(system: System, fingerprint: str, suite: Suite, seed: int) -> str:
    """Date, system slug and a short hash of everything that decides the generations (task versions too:
    they enter every set's seed)."""
    versions = [registry.get("tasks", e.name).version for e in suite.tasks]
    digest = stable_hash([system.to_dict(), fingerprint, suite.to_dict(), seed, versions], length=8)
    return f"{dt.date.today():%Y%m%d}-{slug(system.label)}-{digest}"


def library_versions() -> dict[str, str]:
    """Versions of what can change the numbers, read from package metadata (nothing is imported)."""
    versions = {"divbench": __version__, "python": platform.python_version()}
    for package in ("numpy", "scipy", "torch", "transformers", "peft", "sentence-transformers", "nltk"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


# ---------------------------------------------------------------- stage 1: generate


class Generator:
    """Generates (or takes from the store) every set of a run, in prompt order."""

    def __init__(self, backend: Backend, strategy: Strategy, seed: int, store: GenerationStore | None,
                 out_path: Path, reporter: Reporter) -> None:
        self.backend, self.strategy, self.seed, self.store = backend, strategy, seed, store
        self.out_path, self.reporter = out_path, reporter
        self.fingerprint = backend.fingerprint()

    def set_key(self, plan: PlannedTask, rendered: str, seed: int) -> str:
        return stable_hash([self.fingerprint, self.strategy.key, rendered, plan.sampling.to_dict(),
                            plan.mode, seed], length=24)

    def run_task(self, plan: PlannedTask, chunk_rows: int) -> list[GenerationSet]:
        """All sets of one task; new ones are stored and appended as soon as they exist."""
        slots = []
        for prompt in plan.prompts:
            messages = self.strategy.messages(prompt)
            rendered = self.backend.render(messages)
            seed = derive_seed(self.seed, plan.task.task_id, prompt.id)
            key = self.set_key(plan, rendered, seed)
            stored = self.store.get(key) if self.store else None
            slots.append((prompt, messages, rendered, seed, key, stored))
        missing = [s for s in slots if s[5] is None]
        self.reporter.start_task(plan.task.name, len(missing), len(slots) - len(missing))
        made: dict[str, GenerationSet] = {}
        per_call = max(1, chunk_rows // plan.sampling.n) if plan.mode == "sampled" else 8
        for start in range(0, len(missing), per_call):
            for gset in self._make(plan, missing[start : start + per_call]):
                made[gset.key] = gset
                if self.store is not None:
                    self.store.put(gset)
        self.reporter.finish_task()
        return [replace(s[5], cached=True) if s[5] else made[s[4]] for s in slots]

    def _make(self, plan: PlannedTask, slots: Sequence[tuple]) -> list[GenerationSet]:
        if plan.mode == "exact":
            return self._score_options(plan, slots)
        requests = [GenRequest(messages, seed, tuple(prompt.meta.get("references", ())), prompt)
                    for prompt, messages, _, seed, _, _ in slots]
        outputs = self.strategy.generate(self.backend, requests, plan.sampling, self._progress)
        return [self._to_set(plan, slot, out) for slot, out in zip(slots, outputs, strict=True)]

    def _progress(self, sets: int, tokens: int) -> None:
        self.reporter.advance(sets, tokens)

    def _to_set(self, plan: PlannedTask, slot: tuple, out: GenOutput) -> GenerationSet:
        prompt, _, rendered, seed, key, _ = slot
        return GenerationSet(plan.task.name, prompt.id, stable_hash(rendered), tuple(out.texts),
                             tuple(out.finish_reasons), seed, out.tokens, round(out.seconds, 4), key=key)

    def _score_options(self, plan: PlannedTask, slots: Sequence[tuple]) -> list[GenerationSet]:
        import time

        start = time.perf_counter()
        surfaces = [plan.task.option_surfaces(slot[0]) or {} for slot in slots]
        requests = [OptionRequest(slot[1], tuple(s for forms in table.values() for s in forms), plan.sampling)
                    for slot, table in zip(slots, surfaces, strict=True)]
        logprobs = self.backend.score_options(requests)
        seconds = (time.perf_counter() - start) / max(1, len(slots))
        sets = []
        for slot, table, values in zip(slots, surfaces, logprobs, strict=True):
            prompt, _, rendered, seed, key, _ = slot
            scores = option_scores(table, values)
            sets.append(GenerationSet(plan.task.name, prompt.id, stable_hash(rendered), (), (), seed, 0,
                                      round(seconds, 4), option_scores=scores, key=key))
        self.reporter.advance(len(slots), 0)
        return sets


def option_scores(table: dict[str, list[str]], values: Sequence[float]) -> OptionScores:
    """Sum each option's surface probabilities; the rest of the mass is invalid."""
    options, logprobs, index = [], [], 0
    for option, forms in table.items():
        logprobs.append(_logsumexp(values[index : index + len(forms)]))
        options.append(option)
        index += len(forms)
    valid = sum(math.exp(v) for v in logprobs)
    return OptionScores(tuple(options), tuple(logprobs), max(0.0, 1.0 - valid))


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


def generate(system: System, suite: Suite, seed: int, backend: Backend, run_dir: Path, *,
             strategy: Strategy | None = None, store: GenerationStore | None = None,
             reporter: Reporter | None = None, chunk_rows: int = 64) -> list[PlannedTask]:
    """Stage 1: write ``manifest.json`` and ``generations.jsonl`` into ``run_dir``."""
    reporter = reporter or NullReporter()
    strategy = strategy or build_strategy(system.strategy, system.options.get("strategy"))
    plans = plan_tasks(suite, backend, strategy)
    run_dir.mkdir(parents=True, exist_ok=True)
    manifest = {
        "schema_version": SCHEMA_VERSION, "run_id": run_dir.name, "system": system.to_dict(),
        "suite": suite.to_dict(), "seed": seed, "fingerprint": backend.fingerprint(),
        "backend": backend.describe(), "versions": library_versions(),
        "tasks": [p.to_dict() for p in plans],
    }
    write_atomic(run_dir / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    generator = Generator(backend, strategy, seed, store, run_dir / GENERATIONS, reporter)
    sets = [gset for plan in plans for gset in generator.run_task(plan, chunk_rows)]
    write_atomic(run_dir / GENERATIONS, _jsonl(set_line(g) for g in sets))
    write_atomic(run_dir / TIMINGS, _jsonl(timing_line(g) for g in sets))
    return plans


def _jsonl(objects: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(obj, ensure_ascii=False) + "\n" for obj in objects)


# ---------------------------------------------------------------- stage 2: score


def read_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / MANIFEST
    if not path.exists():
        raise RunError(f"'{run_dir}' is not a run folder (no {MANIFEST}); run `divbench run` first")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunError(f"{path}: not valid JSON ({exc.msg})") from exc
    check_schema(manifest, str(path))
    return manifest


def read_sets(path: Path) -> list[GenerationSet]:
    if not path.exists():
        raise RunError(f"'{path}' does not exist")
    try:
        return [GenerationSet.from_dict(obj) for _, obj in read_jsonl(path)]
    except (KeyError, TypeError) as exc:
        raise RunError(f"{path}: a line is not a generation set ({exc!r})") from exc


def views_for(task: Task | None, prompts: dict[str, Prompt], sets: Sequence[GenerationSet]) -> list[SetView]:
    """Pair each set with its prompt and the task's reading of its texts."""
    views = []
    for gset in sets:
        prompt = prompts.get(gset.prompt_id) or Prompt(gset.task, gset.prompt_id, ())
        parsed = tuple(task.parse(t, prompt) for t in gset.texts) if task and task.parses else None
        views.append(SetView(prompt, gset, parsed))
    return views


def score_views(views: list[SetView], family: str, context: dict[str, Any],
                metric_names: list[str] | None, bootstrap: Any) -> list:
    from divbench.metrics.scoring import score_task

    return score_task(views, family, context, metric_names, bootstrap)


def score_run(run_dir: Path, metric_names: list[str] | None = None, bootstrap: Any = None,
              reporter: Reporter | None = None) -> RunRecord:
    """Stage 2: score ``generations.jsonl`` of a run folder into ``run.json`` (no model needed)."""
    from divbench.metrics.scoring import Bootstrap

    manifest = read_manifest(run_dir)
    timings = _timings(run_dir)
    sets = [replace(s, seconds=timings.get((s.task, s.prompt_id), 0.0)) for s in read_sets(run_dir / GENERATIONS)]
    by_task: dict[str, list[GenerationSet]] = {}
    for gset in sets:
        by_task.setdefault(gset.task, []).append(gset)
    results = [_score_planned(t, by_task.get(t["task"], []), metric_names, bootstrap or Bootstrap())
               for t in manifest["tasks"]]
    record = RunRecord(
        run_id=manifest["run_id"], created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        system=System.from_dict(manifest["system"]), suite=manifest["suite"], seed=manifest["seed"],
        tasks=tuple(results), versions=manifest["versions"], cost=_cost(sets),
    )
    write_atomic(run_dir / RUN_RECORD, json.dumps(record.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return record


def _score_planned(info: dict[str, Any], sets: list[GenerationSet], metric_names: list[str] | None,
                   bootstrap: Any) -> TaskResult:
    entry = TaskEntry.from_dict(info["entry"])
    task = build_task(entry)
    if task.prompt_set_hash != info["prompt_set_hash"]:
        raise RunError(f"task {task.name!r} changed since these generations were made "
                       f"(prompt-set hash {task.prompt_set_hash} != {info['prompt_set_hash']})")
    prompts = {p.id: p for p in task.prompts}
    sampling = Sampling.from_dict(info["sampling"])
    context = {"n": sampling.n, "sampling": sampling.signature(), "task": info["task_id"],
               "prompts": info["prompt_set_hash"], "scoring": info["mode"]}
    views = views_for(task, prompts, sets)
    metrics = score_views(views, task.family, context, metric_names, bootstrap)
    return TaskResult(task.name, task.family, task.version, info["prompt_set_hash"], len(sets), sampling.n,
                      tuple(metrics), sum(s.tokens for s in sets), round(sum(s.seconds for s in sets), 3))


def _cost(sets: Sequence[GenerationSet]) -> dict[str, float]:
    """Sets, new tokens and generation seconds (stored sets count with the time they first took)."""
    return {"sets": len(sets), "tokens": sum(s.tokens for s in sets),
            "seconds": round(sum(s.seconds for s in sets), 3)}


def _timings(run_dir: Path) -> dict[tuple[str, str], float]:
    path = run_dir / TIMINGS
    if not path.exists():
        return {}
    return {(obj["task"], str(obj["prompt_id"])): float(obj["seconds"]) for _, obj in read_jsonl(path)}


def load_run(run_dir: Path) -> RunRecord:
    """Read ``run.json`` of a run folder (or a run.json path)."""
    path = run_dir if run_dir.suffix == ".json" else run_dir / RUN_RECORD
    if not path.exists():
        raise RunError(f"'{path}' does not exist; score the run first (`divbench score {run_dir}`)")
    try:
        return RunRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise RunError(f"{path}: not valid JSON ({exc.msg})") from exc
