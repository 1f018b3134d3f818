"""The Strategy contract: how a prompt becomes requests and requests become N texts."""

from __future__ import annotations

from abc import ABC
from collections.abc import Sequence
from typing import ClassVar

from divbench.models.base import Backend, GenOutput, GenRequest, ProgressFn
from divbench.types import Message, Prompt, Sampling


class Strategy(ABC):
    """A prompting intervention. The default renders the prompt as is and samples N texts."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    description: ClassVar[str] = ""
    #: task families this strategy makes sense for; None means all
    families: ClassVar[frozenset[str] | None] = None

    def messages(self, prompt: Prompt) -> tuple[Message, ...]:
        """The chat messages sent for ``prompt``."""
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

    @property
    def strategy_id(self) -> str:
        return f"{self.name}@{self.version}"
