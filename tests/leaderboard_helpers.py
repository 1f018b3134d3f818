"""Run folders for the leaderboard tests: real runs on the fake backends, and hand-made records."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from divbench.metrics import embedding
from divbench.models.fake import FakeBackend
from divbench.runner import generate, score_run
from divbench.suite import Suite, TaskEntry
from divbench.types import MetricResult, RunRecord, System, TaskResult

SCRIPT = "<script>window.__pwned=1;document.title='pwned'</script>"
IMG = "<img src=x onerror=\"window.__pwned=2;document.title='pwned'\">"
IMG_ALERT = "<img src=x onerror=alert(1)>"
HOSTILE = (SCRIPT, IMG, IMG_ALERT, "</li></ol></div>\"'&amp; <b>not bold</b>")
PERSONA_TEXTS = (
    "Hi, I'm Maria, a 34-year-old nurse from Brazil.",
    "My name is John, I am 52 and I work as an engineer in Canada.",
    "Hello! I'm Aiko, 27, a teacher living in Japan. She likes tea.",
    "I'm Sarah, a 29-year-old teacher from the United States.",
)


def make_run(root: Path, name: str, mode: str = "diverse", label: str | None = None,
             tasks: Sequence[tuple[str, dict[str, Any]]] = (("toy_text", {}), ("toy_choice", {})),
             kind: str = "baseline", strategy: str = "none", seed: int = 0,
             rewrite: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Generate with ``fake:<mode>`` and score into ``root/name`` (hashing embedder, no store).

    ``tasks`` are (task name, suite entry overrides: ``sampling``, ``limit``, ``scoring``).
    ``rewrite`` may edit each generations.jsonl line (a dict) before scoring.
    """
    entries = tuple(TaskEntry(task, limit=o.get("limit"), scoring=o.get("scoring", "auto"),
                              sampling=dict(o.get("sampling", {}))) for task, o in tasks)
    system = System(label or f"fake:{mode}", kind=kind, backend="fake", model=f"fake:{mode}", strategy=strategy)
    run_dir = root / name
    previous = embedding._state["embedder"]
    embedding.set_embedder(embedding.Embedder.hashing())
    try:
        generate(system, Suite("test", entries), seed, FakeBackend(mode), run_dir)
        if rewrite is not None:
            path = run_dir / "generations.jsonl"
            lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
            for line in lines:
                rewrite(line)
            path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
        score_run(run_dir)
    finally:
        embedding.set_embedder(previous)
    return run_dir


def hostile_texts(line: dict[str, Any]) -> None:
    """Put the hostile payloads into the first set of every free-text task."""
    if line["texts"] and line["task"] == "toy_text" and line["prompt_id"] == "p0":
        line["texts"][: len(HOSTILE)] = HOSTILE


def persona_texts(line: dict[str, Any]) -> None:
    if line["task"] == "persona":
        line["texts"] = [PERSONA_TEXTS[i % len(PERSONA_TEXTS)] for i in range(len(line["texts"]))]


def metric(name: str, value: float | None, higher_is_better: bool = True, signature: str | None = None,
           ci: tuple[float, float] | None = None) -> MetricResult:
    """A hand-made metric result; the default signature is shared by every run."""
    return MetricResult(name, 1, "per_set", higher_is_better, {}, value,
                        ci if ci is not None or value is None else (value - 0.1, value + 0.1),
                        3 if value is not None else 0,
                        signature or f"metric:{name}@1|n:4|task:t@1|prompts:abc",
                        None if value is not None else "made undefined")


def write_record(root: Path, name: str, label: str, metrics: Sequence[MetricResult], task: str = "t",
                 family: str = "dialogue", **system: Any) -> Path:
    """A run folder holding only a hand-made run.json (one task)."""
    record = RunRecord(
        run_id=name, created="2026-01-01T00:00:00+00:00",
        system=System(label, backend="fake", model=system.pop("model", "m"), **system),
        suite={"name": "hand-made"}, seed=0,
        tasks=(TaskResult(task, family, 1, "abc", 3, 4, tuple(metrics), tokens=30, seconds=1.5),),
        versions={"divbench": "test"}, cost={"sets": 3, "tokens": 30, "seconds": 1.5},
    )
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps(record.to_dict(), indent=2) + "\n", encoding="utf-8")
    return folder
