"""Suites: which tasks a run covers, at what N and sampling. Read from TOML.

A suite is a built-in name (``quick``, ``full``: files in ``divbench/suites/``) or a path to a TOML
file::

    name = "quick"
    seed = 0
    [[tasks]]
    name = "dialogue"
    limit = 10            # the first K prompts (optional)
    n = 5                 # any Sampling field may be set
    max_new_tokens = 48
    scoring = "auto"      # exact | sampled | auto
    options = {data = "path/to/file.jsonl"}   # task options (optional)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from divbench.types import Sampling

Scoring = Literal["exact", "sampled", "auto"]
SUITES_DIR = Path(__file__).parent / "suites"
_SAMPLING_FIELDS = {f.name for f in fields(Sampling)}
_ENTRY_KEYS = {"name", "limit", "scoring", "options"} | _SAMPLING_FIELDS


class SuiteError(ValueError):
    """A suite file is missing or malformed; the message is one line."""


@dataclass(frozen=True)
class TaskEntry:
    """One task of a suite, with its overrides."""

    name: str
    limit: int | None = None
    scoring: Scoring = "auto"
    sampling: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def resolve_sampling(self, default: Sampling) -> Sampling:
        """The task's default sampling with this entry's overrides."""
        values = dict(self.sampling)
        if "stop" in values:
            values["stop"] = tuple(values["stop"])
        return replace(default, **values)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "limit": self.limit, "scoring": self.scoring,
                "sampling": self.sampling, "options": self.options}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskEntry:
        return cls(data["name"], data.get("limit"), data.get("scoring", "auto"),
                   dict(data.get("sampling", {})), dict(data.get("options", {})))


@dataclass(frozen=True)
class Suite:
    """A named list of task entries and a default seed."""

    name: str
    tasks: tuple[TaskEntry, ...]
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "seed": self.seed, "tasks": [t.to_dict() for t in self.tasks]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Suite:
        return cls(data["name"], tuple(TaskEntry.from_dict(t) for t in data["tasks"]), int(data.get("seed", 0)))

    def select(self, task_names: list[str] | None = None, n: int | None = None,
               limit: int | None = None, sampling: dict[str, Any] | None = None) -> Suite:
        """A copy narrowed to some tasks, with N, the prompt limit and/or sampling fields overridden."""
        entries = list(self.tasks)
        if task_names:
            known = {t.name for t in entries}
            entries = [t for t in entries if t.name in task_names]
            entries += [TaskEntry(name) for name in task_names if name not in known]
        if n is not None:
            entries = [replace(t, sampling={**t.sampling, "n": n}) for t in entries]
        if sampling:
            entries = [replace(t, sampling={**t.sampling, **sampling}) for t in entries]
        if limit is not None:
            entries = [replace(t, limit=limit if t.limit is None else min(t.limit, limit)) for t in entries]
        return replace(self, tasks=tuple(entries))


def builtin_suites() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.toml"))


def load_suite(name_or_path: str) -> Suite:
    """Load a built-in suite by name or a suite TOML file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SUITES_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise SuiteError(f"unknown suite {name_or_path!r}; built-in: {', '.join(builtin_suites())} "
                             "(or pass a .toml path)")
    if not path.exists():
        raise SuiteError(f"suite file '{path}' does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SuiteError(f"suite file '{path}' is not valid TOML: {exc}") from exc
    return _parse_suite(data, path)


def _parse_suite(data: dict[str, Any], path: Path) -> Suite:
    raw_tasks = data.get("tasks")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        raise SuiteError(f"suite file '{path}' needs at least one [[tasks]] table")
    entries = []
    for index, raw in enumerate(raw_tasks, start=1):
        unknown = set(raw) - _ENTRY_KEYS
        if "name" not in raw or unknown:
            problem = f"unknown keys {sorted(unknown)}" if unknown else "no name"
            raise SuiteError(f"suite file '{path}': task #{index} has {problem}")
        if raw.get("scoring", "auto") not in ("exact", "sampled", "auto"):
            raise SuiteError(f"suite file '{path}': task #{index} scoring must be exact, sampled or auto")
        sampling = {k: v for k, v in raw.items() if k in _SAMPLING_FIELDS}
        entries.append(TaskEntry(raw["name"], raw.get("limit"), raw.get("scoring", "auto"), sampling,
                                 dict(raw.get("options", {}))))
    names = [e.name for e in entries]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SuiteError(f"suite file '{path}': tasks appear more than once: {', '.join(twice)} "
                         "(compare scoring modes or settings in separate runs)")
    return Suite(str(data.get("name", path.stem)), tuple(entries), int(data.get("seed", 0)))
