"""The typed records divbench passes between stages and writes to disk.

Every record round-trips through JSON with ``to_dict``/``from_dict``. Files carry an integer
``schema_version``; readers refuse a newer one (see :func:`check_schema`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

SCHEMA_VERSION = 1

Message = dict[str, str]  # {"role": "user" | "system" | "assistant", "content": "..."}
SystemKind = Literal["baseline", "prompting", "finetuned", "reference"]
Scope = Literal["per_set", "per_task"]


class SchemaError(ValueError):
    """A file's schema_version is newer than this divbench understands, or a record is malformed."""


def check_schema(data: dict[str, Any], what: str) -> None:
    """Refuse records written by a newer divbench, with a message that says what to do."""
    version = data.get("schema_version")
    if not isinstance(version, int):
        raise SchemaError(f"{what}: missing or non-integer schema_version")
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"{what} has schema_version {version}, newer than this divbench's {SCHEMA_VERSION}; "
            "upgrade divbench to read it"
        )


def _from_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """Keep only the keys that are fields of ``cls`` (tolerates extra keys from newer minors)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class Prompt:
    """One prompt of a task: chat messages plus task-specific metadata.

    ``meta`` holds e.g. the valid options and target weights of a random-choice prompt, or the
    reference replies of a dialogue context.
    """

    task: str
    id: str
    messages: tuple[Message, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The last user message: what the prompt asks."""
        return next(m["content"] for m in reversed(self.messages) if m["role"] == "user")

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "id": self.id, "messages": [dict(m) for m in self.messages], "meta": self.meta}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Prompt:
        return cls(data["task"], str(data["id"]), tuple(dict(m) for m in data["messages"]), dict(data.get("meta", {})))


@dataclass(frozen=True)
class Sampling:
    """How N texts are drawn for one prompt. ``top_k=0`` and ``min_p=0`` mean off."""

    n: int = 8
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    max_new_tokens: int = 64
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"sampling n must be >= 1, got {self.n}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sampling:
        d = _from_fields(cls, data)
        d["stop"] = tuple(d.get("stop", ()))
        return cls(**d)

    def signature(self) -> str:
        stop = "|".join(self.stop) or "none"
        return (
            f"n:{self.n}|t:{self.temperature:g}|top_p:{self.top_p:g}|top_k:{self.top_k}"
            f"|min_p:{self.min_p:g}|max_tok:{self.max_new_tokens}|stop:{stop}"
        )


@dataclass(frozen=True)
class System:
    """What produces texts: backend + model + optional adapter + prompting strategy."""

    label: str
    kind: SystemKind = "baseline"
    backend: str = "hf"
    model: str = "default"
    adapter: str | None = None
    strategy: str = "none"
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> System:
        return cls(**_from_fields(cls, data))


@dataclass(frozen=True)
class OptionScores:
    """Exact probabilities of every valid option of a prompt, by teacher forcing.

    ``logprobs[i]`` is the natural-log probability of ``options[i]`` (all its surface forms summed);
    ``invalid_mass`` is 1 - sum(exp(logprobs)), the mass the model puts on anything else. An option
    the sampling can never draw (cut by top-k / top-p / min-p) has log-probability -inf (null in JSON).
    """

    options: tuple[str, ...]
    logprobs: tuple[float, ...]
    invalid_mass: float

    def to_dict(self) -> dict[str, Any]:
        logprobs = [None if lp == -math.inf else lp for lp in self.logprobs]  # JSON has no -Infinity
        return {"options": list(self.options), "logprobs": logprobs, "invalid_mass": self.invalid_mass}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OptionScores:
        logprobs = tuple(-math.inf if x is None else float(x) for x in data["logprobs"])
        return cls(tuple(data["options"]), logprobs, float(data["invalid_mass"]))


@dataclass(frozen=True)
class GenerationSet:
    """The unit divbench measures: one prompt and the N texts a system produced for it."""

    task: str
    prompt_id: str
    prompt_hash: str
    texts: tuple[str, ...]
    finish_reasons: tuple[str, ...]
    seed: int
    tokens: int
    seconds: float = 0.0
    cached: bool = False
    option_scores: OptionScores | None = None
    key: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["texts"] = list(self.texts)
        d["finish_reasons"] = list(self.finish_reasons)
        d["option_scores"] = self.option_scores.to_dict() if self.option_scores else None
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationSet:
        d = _from_fields(cls, data)
        d["prompt_id"] = str(d["prompt_id"])
        d["texts"] = tuple(d["texts"])
        d["finish_reasons"] = tuple(d.get("finish_reasons") or ("unknown",) * len(d["texts"]))
        scores = d.get("option_scores")
        d["option_scores"] = OptionScores.from_dict(scores) if scores else None
        return cls(**d)


@dataclass(frozen=True)
class MetricResult:
    """One number with everything needed to compare it: CI, sample size and signature.

    ``value`` is None when the metric is undefined for the data; ``reason`` then says why.
    ``details`` holds optional breakdowns (per-prompt values, distributions) for reports.
    """

    name: str
    version: int
    scope: Scope
    higher_is_better: bool
    params: dict[str, Any]
    value: float | None
    ci: tuple[float, float] | None
    n: int
    signature: str
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ci"] = list(self.ci) if self.ci is not None else None
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricResult:
        d = _from_fields(cls, data)
        d["ci"] = tuple(d["ci"]) if d.get("ci") is not None else None
        return cls(**d)


@dataclass(frozen=True)
class TaskResult:
    """All metric results of one task in a run."""

    task: str
    family: str
    version: int
    prompt_set_hash: str
    n_prompts: int
    n: int
    metrics: tuple[MetricResult, ...]
    tokens: int = 0
    seconds: float = 0.0

    def metric(self, name: str) -> MetricResult | None:
        return next((m for m in self.metrics if m.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["metrics"] = [m.to_dict() for m in self.metrics]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskResult:
        d = _from_fields(cls, data)
        d["metrics"] = tuple(MetricResult.from_dict(m) for m in d["metrics"])
        return cls(**d)


@dataclass(frozen=True)
class RunRecord:
    """Everything a run produced, as written to ``run.json``."""

    run_id: str
    created: str
    system: System
    suite: dict[str, Any]
    seed: int
    tasks: tuple[TaskResult, ...]
    versions: dict[str, str]
    cost: dict[str, float]
    schema_version: int = SCHEMA_VERSION

    def task(self, name: str) -> TaskResult | None:
        return next((t for t in self.tasks if t.task == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "run_id": self.run_id,
            "created": self.created,
            "system": self.system.to_dict(),
            "suite": self.suite,
            "seed": self.seed,
            "versions": self.versions,
            "cost": self.cost,
            "tasks": [t.to_dict() for t in self.tasks],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        check_schema(data, "run record")
        try:
            return cls(
                run_id=data["run_id"],
                created=data["created"],
                system=System.from_dict(data["system"]),
                suite=data["suite"],
                seed=int(data["seed"]),
                tasks=tuple(TaskResult.from_dict(t) for t in data["tasks"]),
                versions=data.get("versions", {}),
                cost=data.get("cost", {}),
                schema_version=data["schema_version"],
            )
        except (KeyError, TypeError) as exc:
            raise SchemaError(f"run record is malformed: {exc!r}") from exc
