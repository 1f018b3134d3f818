"""The Task contract: a family of prompts, how to read answers, and what exact scoring needs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property
from typing import Any, ClassVar

from divbench.signature import stable_hash
from divbench.types import Prompt, Sampling


class TaskError(ValueError):
    """A task cannot be built (bad data file, unknown option). The message is one line."""


class Task(ABC):
    """A named, versioned set of prompts of one family.

    ``family`` is one of: dialogue, story, random_choice, persona (plugins may add more).
    Bump ``version`` whenever prompts, parsing or options change what a run measures.
    """

    name: ClassVar[str]
    family: ClassVar[str]
    version: ClassVar[int] = 1
    description: ClassVar[str] = ""
    #: sampling defaults for this family (the suite's values override them)
    default_sampling: ClassVar[Sampling] = Sampling()

    def __init__(self, **options: Any) -> None:
        if options:
            raise TaskError(f"task {self.name!r} takes no options, got {sorted(options)}")

    @abstractmethod
    def load_prompts(self) -> list[Prompt]:
        """Build the prompts (called once; use :attr:`prompts`)."""

    @cached_property
    def prompts(self) -> list[Prompt]:
        prompts = self.load_prompts()
        ids = [p.id for p in prompts]
        if len(set(ids)) != len(ids):
            raise TaskError(f"task {self.name!r} has duplicate prompt ids")
        return prompts

    @property
    def task_id(self) -> str:
        """``name@version``: what seeds and signatures name."""
        return f"{self.name}@{self.version}"

    @property
    def prompt_set_hash(self) -> str:
        return stable_hash([p.to_dict() for p in self.prompts])

    def parse(self, text: str, prompt: Prompt) -> Any:
        """Read one generated text (a canonical option, an attribute dict...). None: free text."""
        return None

    @property
    def parses(self) -> bool:
        """Whether :meth:`parse` means anything for this task."""
        return type(self).parse is not Task.parse

    def option_surfaces(self, prompt: Prompt) -> dict[str, list[str]] | None:
        """For exact scoring: each valid option's accepted complete replies. None: not enumerable."""
        return None
