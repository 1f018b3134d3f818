"""Scoring outputs of systems divbench did not run: a JSONL of ``{"prompt_id", "texts"}`` lines.

A line may also name its ``task``; lines of a known task are read with that task's prompts and
parser (so random-choice answers are parsed), others are scored as free text.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from divbench import registry
from divbench.runner import RUN_RECORD, RunError, build_task, library_versions, score_views, views_for
from divbench.signature import stable_hash
from divbench.store import read_jsonl, write_atomic
from divbench.suite import TaskEntry
from divbench.tasks.base import Task
from divbench.types import GenerationSet, RunRecord, System, TaskResult

FREE_TEXT_FAMILY = "text"


def parse_line(number: int, obj: dict[str, Any], path: Path) -> GenerationSet:
    """One input line as a GenerationSet; a clear error naming the line otherwise."""
    texts = obj.get("texts")
    if "prompt_id" not in obj or not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise RunError(f"{path}:{number}: each line needs \"prompt_id\" and \"texts\" (a list of strings)")
    task = str(obj.get("task", "custom"))
    prompt_id = str(obj["prompt_id"])
    return GenerationSet(task, prompt_id, stable_hash(prompt_id), tuple(texts), ("unknown",) * len(texts),
                         0, 0, 0.0)


def score_sets_file(path: Path, out_dir: Path, metric_names: list[str] | None, bootstrap: Any) -> RunRecord:
    """Score every task found in ``path`` and write ``out_dir/run.json``."""
    if not path.exists():
        raise RunError(f"'{path}' does not exist")
    sets = [parse_line(number, obj, path) for number, obj in read_jsonl(path)]
    if not sets:
        raise RunError(f"{path}: no generation sets in the file")
    by_task: dict[str, list[GenerationSet]] = {}
    for gset in sets:
        by_task.setdefault(gset.task, []).append(gset)
    results = [_score_group(name, group, metric_names, bootstrap) for name, group in by_task.items()]
    record = RunRecord(
        run_id=f"scored-{path.stem}", created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        system=System(label=path.stem, kind="reference", backend="file", model=str(path)),
        suite={"name": "file", "source": str(path)}, seed=0, tasks=tuple(results),
        versions=library_versions(), cost={"sets": len(sets), "tokens": 0, "seconds": 0.0},
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / RUN_RECORD, json.dumps(record.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return record


def _known_task(name: str) -> Task | None:
    return build_task(TaskEntry(name)) if name in registry.names("tasks") else None


def _score_group(name: str, sets: list[GenerationSet], metric_names: list[str] | None,
                 bootstrap: Any) -> TaskResult:
    task = _known_task(name)
    prompts = {p.id: p for p in task.prompts} if task else {}
    family = task.family if task else FREE_TEXT_FAMILY
    sizes = sorted({len(s.texts) for s in sets})
    n = sizes[0] if len(sizes) == 1 else 0
    prompt_hash = stable_hash(sorted(s.prompt_id for s in sets))
    context = {"n": n if n else "mixed", "task": task.task_id if task else name, "prompts": prompt_hash}
    metrics = score_views(views_for(task, prompts, sets), family, context, metric_names, bootstrap)
    return TaskResult(name, family, task.version if task else 0, prompt_hash, len(sets), n, tuple(metrics))
