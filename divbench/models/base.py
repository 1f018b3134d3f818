"""The Backend protocol: what the runner asks of anything that produces texts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from divbench.types import Message, Prompt, Sampling


class BackendError(RuntimeError):
    """A backend cannot be built or used (bad path, missing package, ...). The message is one line."""


@dataclass(frozen=True)
class GenRequest:
    """One prompt to sample ``sampling.n`` texts for, with its own seed."""

    messages: tuple[Message, ...]
    seed: int
    #: reference replies of the prompt, when its data carry them (used by the ``reference`` backend)
    references: tuple[str, ...] = ()
    #: the task's prompt behind ``messages`` (strategies that send several prompts per set rebuild from it)
    prompt: Prompt | None = None


@dataclass
class GenOutput:
    """The texts sampled for one request, with their cost."""

    texts: list[str]
    finish_reasons: list[str]  # "stop" (EOS or a stop string) or "length"
    tokens: int  # new tokens generated, summed over the N texts
    seconds: float  # wall time attributed to this request


@dataclass(frozen=True)
class OptionRequest:
    """Exact scoring: the log-probability of each surface string as the complete reply.

    With ``sampling``, the probability under the distribution that sampling draws from (each step's
    logits divided by the temperature, then top-k / top-p / min-p applied; temperature 0 is greedy);
    without, under the model itself.
    """

    messages: tuple[Message, ...]
    surfaces: tuple[str, ...]
    sampling: Sampling | None = None


ProgressFn = Callable[[int, int], None]  # (requests done, new tokens) after each finished batch


@runtime_checkable
class Backend(Protocol):
    """Samples texts and, when it can, scores options exactly."""

    name: str

    def fingerprint(self) -> str:
        """Identifies the weights (and adapter): model and adapter file hashes, never a path."""
        ...

    def describe(self) -> dict[str, str]:
        """Human-facing facts for run.json: model path, dtype, device, ..."""
        ...

    def render(self, messages: Sequence[Message]) -> str:
        """The exact prompt string the model sees (chat template applied)."""
        ...

    def generate(
        self, requests: Sequence[GenRequest], sampling: Sampling, progress: ProgressFn | None = None
    ) -> list[GenOutput]:
        """Sample ``sampling.n`` texts per request. Each request's texts depend only on its seed."""
        ...

    @property
    def can_score_options(self) -> bool: ...

    def score_options(self, requests: Sequence[OptionRequest]) -> list[list[float]]:
        """Summed natural-log probability of each surface (+ end-of-turn token) as the whole reply."""
        ...


@dataclass
class BackendOptions:
    """Options every backend factory accepts (unknown ones are ignored by backends that lack them)."""

    threads: int | None = None
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 64  # rows (prompts x N) per forward batch
    extra: dict[str, str] = field(default_factory=dict)


def render_plain(messages: Sequence[Message]) -> str:
    """The prompt string of a backend without a chat template: one ``<role> content`` line per message."""
    return "\n".join(f"<{m['role']}> {m['content']}" for m in messages)
