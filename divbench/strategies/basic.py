"""Strategies that only change the messages: the baseline and a "be original" system prompt."""

from divbench.strategies._common import with_system
from divbench.strategies.base import Strategy
from divbench.types import Message, Prompt

DIVERSE_SYSTEM = (
    "Be original. Give the answer that few others would think of, not the most common or obvious one, "
    "and don't fall back on a safe default. If you were asked the same thing many times, each of your "
    "answers should be different."
)


class NoStrategy(Strategy):
    """No intervention: the prompt as the task wrote it."""

    name = "none"
    description = "the task's prompt as written, N independent samples"


class DiversePromptStrategy(Strategy):
    """A system message asking for an original, uncommon answer; N independent samples."""

    name = "diverse-prompt"
    description = "a 'be original, avoid the most common answer' system message, N independent samples"

    def messages(self, prompt: Prompt) -> tuple[Message, ...]:
        return with_system(prompt.messages, DIVERSE_SYSTEM)
