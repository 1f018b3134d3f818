"""The Strategy contract: how a prompt becomes requests and requests become N texts.

A strategy has a name, a version, options (declared with their defaults in :attr:`Strategy.defaults`)
and the task families it makes sense for. :meth:`Strategy.messages` is what the set's rendered-prompt
hash names; strategies that send several prompts per set (one per text, or several rounds) build them
in :meth:`Strategy.generate` from ``GenRequest.prompt`` and report the whole cost of every call.
"""

from __future__ import annotations

import json
from abc import ABC
from collections.abc import Sequence
from typing import Any, ClassVar

from divbench.models.base import Backend, GenOutput, GenRequest, ProgressFn
from divbench.types import Message, Prompt, Sampling


class StrategyError(ValueError):
    """A strategy cannot run here (task family, backend, scoring mode, bad option). The message is one line."""


class Strategy(ABC):
    """A prompting intervention. The default renders the prompt as is and samples N texts."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    description: ClassVar[str] = ""
    #: task families this strategy makes sense for; None means all
    families: ClassVar[frozenset[str] | None] = None
    #: whether random-choice tasks may still be scored exactly (only the messages change). Subclasses
    #: that override :meth:`generate` default to False.
    keeps_exact_scoring: ClassVar[bool] = True
    #: option name -> default value; a given value must have the default's type (an int is a float)
    defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "generate" in cls.__dict__ and "keeps_exact_scoring" not in cls.__dict__:
            cls.keeps_exact_scoring = False

    def __init__(self, **options: Any) -> None:
        self.options = resolve_options(self.name, self.defaults, options)

    def messages(self, prompt: Prompt) -> tuple[Message, ...]:
        """The chat messages sent for ``prompt`` (for multi-prompt strategies: a representative template)."""
        return prompt.messages

    def generate(
        self,
        backend: Backend,
        requests: Sequence[GenRequest],
        sampling: Sampling,
        progress: ProgressFn | None = None,
    ) -> list[GenOutput]:
        """Produce N texts per request; strategies that need several calls override this."""
        return backend.generate(requests, sampling, progress)

    def check_family(self, task: str, family: str) -> None:
        """Refuse a task whose family this strategy does not support."""
        if self.families is not None and family not in self.families:
            raise StrategyError(f"strategy {self.name!r} does not support task {task!r} (family {family}); "
                                f"it supports: {', '.join(sorted(self.families))}")

    def check_backend(self, backend: Backend) -> None:
        """Refuse a backend this strategy cannot drive (called before anything is written)."""
        if backend.name == "reference" and self.name != "none":
            raise StrategyError(f"the reference backend returns the data's own replies; "
                                f"strategy {self.name!r} cannot apply to it")

    @property
    def strategy_id(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def key(self) -> str:
        """``name@version`` plus the options, for store keys (no options: just the id)."""
        if not self.options:
            return self.strategy_id
        return f"{self.strategy_id}{json.dumps(self.options, sort_keys=True, separators=(',', ':'))}"


def resolve_options(name: str, defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The defaults updated with ``given``; unknown names and wrong types are one-line StrategyErrors."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        known = ", ".join(sorted(defaults)) or "none"
        raise StrategyError(f"strategy {name!r} has no option {unknown[0]!r}; its options: {known}")
    resolved = dict(defaults)
    for key, value in given.items():
        resolved[key] = _typed(name, key, value, defaults[key])
    return resolved


def _typed(name: str, key: str, value: Any, default: Any) -> Any:
    kind = type(default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
        raise StrategyError(f"strategy {name!r} option {key!r} must be {kind.__name__}, "
                            f"got {type(value).__name__} {value!r}")
    return value
