"""Diverse beam search (Vijayakumar et al.), as PoExFT's baseline: N groups of one beam each.

Decoding is deterministic (no sampling: temperature, top-p, top-k and min-p do not apply; N,
``max_new_tokens`` and stop strings do). Group g picks, at every step, the token maximising its
log-probability minus ``diversity_penalty`` times the number of earlier groups that picked that token
at the same step. Needs a backend with ``generate_beams`` (the hf backend; the fake backend has a toy one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from divbench.models.base import Backend, GenOutput, GenRequest, ProgressFn
from divbench.strategies._common import check_range
from divbench.strategies.base import Strategy, StrategyError
from divbench.types import Sampling


class DiverseBeamStrategy(Strategy):
    """N deterministic beams, one per group, pushed apart by a Hamming diversity penalty."""

    name = "diverse-beam"
    description = "diverse beam search: num_beams = num_beam_groups = N, diversity_penalty (hf backend)"
    defaults: ClassVar[dict[str, Any]] = {"diversity_penalty": 5.0}

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        check_range(self.name, "diversity_penalty", self.options["diversity_penalty"], 0.0)

    def check_backend(self, backend: Backend) -> None:
        super().check_backend(backend)
        if not callable(getattr(backend, "generate_beams", None)):
            raise StrategyError(f"strategy {self.name!r} needs a backend with diverse beam search "
                                f"(the hf backend); {backend.name!r} has none")

    def generate(self, backend: Backend, requests: Sequence[GenRequest], sampling: Sampling,
                 progress: ProgressFn | None = None) -> list[GenOutput]:
        beams = getattr(backend, "generate_beams")  # noqa: B009 - not part of the Backend protocol
        return beams(requests, sampling, self.options["diversity_penalty"], progress)
