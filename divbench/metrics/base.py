"""The Metric contract.

A metric sees a task's GenerationSets through :class:`SetView` and returns plain floats. Scope
decides how its confidence interval is bootstrapped:

* ``per_set`` metrics implement :meth:`Metric.score_set`; the task value is the mean over prompts
  and the CI resamples prompts.
* ``per_task`` metrics implement :meth:`Metric.units` and :meth:`Metric.score_units`; the CI
  resamples the units (samples, texts, ...) the metric returns.

A value that is undefined for the data raises :class:`Undefined` with the reason; it is recorded as
``null`` plus that reason, never as 0.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from divbench.signature import signature
from divbench.types import GenerationSet, Prompt, Scope


class Undefined(Exception):  # noqa: N818 - reads as `raise Undefined("why")`
    """The metric has no value for these data; the message says why."""


@dataclass(frozen=True)
class SetView:
    """What a metric may look at for one prompt.

    ``parsed[i]`` is the task's reading of ``gset.texts[i]``: a canonical option (random choice),
    an attribute dict (persona) or None when the text could not be read. It is None as a whole for
    free-text tasks.
    """

    prompt: Prompt
    gset: GenerationSet
    parsed: tuple[Any, ...] | None = None

    @property
    def texts(self) -> tuple[str, ...]:
        return self.gset.texts


class Metric(ABC):
    """Base of every metric: name, version, scope, direction, parameters and signature."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    scope: ClassVar[Scope] = "per_set"
    higher_is_better: ClassVar[bool] = True
    #: task families this metric applies to; None means every family with free text
    families: ClassVar[frozenset[str] | None] = None
    description: ClassVar[str] = ""

    def params(self) -> dict[str, Any]:
        """Everything that changes the value, for the signature and run.json."""
        return {}

    def signature(self, context: dict[str, Any] | None = None) -> str:
        """``name@version|param:value|...`` plus run context (N, sampling, task@version, ...)."""
        fields: dict[str, Any] = {"metric": f"{self.name}@{self.version}", **self.params()}
        clash = set(fields) & set(context or {})
        if clash:
            raise ValueError(f"metric {self.name!r}: run context would overwrite its parameters {sorted(clash)}")
        fields.update(context or {})
        return signature(fields)

    def applies_to(self, family: str, views: Sequence[SetView]) -> bool:
        """Whether this metric means anything for a task of ``family``."""
        return self.families is None or family in self.families

    def score_set(self, view: SetView) -> float:
        """Per-set value (scope ``per_set``)."""
        raise NotImplementedError

    def units(self, views: Sequence[SetView]) -> list[Any]:
        """The resampling units of a per-task metric (scope ``per_task``)."""
        raise NotImplementedError

    def score_units(self, units: Sequence[Any]) -> float:
        """Per-task value from units (scope ``per_task``)."""
        raise NotImplementedError

    def details(self, views: Sequence[SetView]) -> dict[str, Any]:
        """Optional breakdown for reports (per-prompt distributions, top categories, ...)."""
        return {}
