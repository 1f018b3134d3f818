"""The ``reference`` backend: a data file's own reference replies, scored like any system.

With ``--model reference --data FILE`` a dialogue file that carries candidate replies (PoExFT's
format) is measured next to the models, as the human-like ceiling.
"""

from __future__ import annotations

from collections.abc import Sequence

from divbench.models.base import (
    BackendError,
    BackendOptions,
    GenOutput,
    GenRequest,
    OptionRequest,
    ProgressFn,
    render_plain,
)
from divbench.types import Message, Sampling


class ReferenceBackend:
    """Returns the first N reference replies of each prompt."""

    name = "reference"

    def fingerprint(self) -> str:
        return "reference@1"

    def describe(self) -> dict[str, str]:
        return {"model": "reference replies from the task's data"}

    def render(self, messages: Sequence[Message]) -> str:
        return render_plain(messages)

    def generate(
        self, requests: Sequence[GenRequest], sampling: Sampling, progress: ProgressFn | None = None
    ) -> list[GenOutput]:
        outputs = []
        for request in requests:
            if len(request.references) < sampling.n:
                raise BackendError(f"a prompt has {len(request.references)} reference replies, fewer than "
                                   f"n={sampling.n}; lower --n or use data with more references")
            texts = list(request.references[: sampling.n])
            outputs.append(GenOutput(texts, ["reference"] * len(texts), 0, 0.0))
            if progress:
                progress(1, 0)
        return outputs

    @property
    def can_score_options(self) -> bool:
        return False

    def score_options(self, requests: Sequence[OptionRequest]) -> list[list[float]]:
        raise BackendError("reference replies have no option probabilities")


def create_reference_backend(model: str, adapter: str | None, options: BackendOptions) -> ReferenceBackend:
    if adapter:
        raise BackendError("the reference backend takes no adapter")
    return ReferenceBackend()
