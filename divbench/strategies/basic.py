"""The baseline strategy: the task's prompt, sampled N times."""

from divbench.strategies.base import Strategy


class NoStrategy(Strategy):
    """No intervention: the prompt as the task wrote it."""

    name = "none"
    description = "the task's prompt as written, N independent samples"
