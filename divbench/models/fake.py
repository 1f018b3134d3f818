"""Deterministic backends for tests and demos: ``fake:diverse`` and ``fake:collapsed``.

``diverse`` draws each text's words from a fixed vocabulary with the request's seed, so texts differ
within a set and repeat exactly across runs. ``collapsed`` answers every prompt with the same text.
Both score options: ``diverse`` spreads 90% of the mass uniformly over the surfaces, ``collapsed``
puts 90% on the first one; the remaining 10% is invalid mass.

So that list-asking strategies can be tested, ``diverse`` answers a last user message that asks for
"a list of K ..." with a numbered list of K texts (each followed by "(probability: p)" when the message
mentions probabilities), continuing after an assistant reply prefix when there is one.
``generate_beams`` is a toy diverse beam search: one seeded word sequence, shifted by one vocabulary
place per group when the diversity penalty is positive (identical beams when it is 0).
"""

from __future__ import annotations

import math
import random
import re
import time
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

VOCABULARY = (
    "river", "stone", "lantern", "quiet", "orange", "market", "violin", "harbor", "meadow", "copper",
    "whisper", "garden", "thunder", "pepper", "candle", "forest", "silver", "morning", "ladder", "bicycle",
    "ocean", "pencil", "mountain", "velvet", "puzzle", "honey", "rocket", "window", "shadow", "maple",
    "cotton", "echo", "island", "marble", "feather", "basket", "summer", "anchor", "tulip", "glacier",
)
COLLAPSED_TEXT = "That sounds great, I love it!"
LIST_REQUEST = re.compile(r"\blist of (\d{1,3})\b", re.IGNORECASE)
VALID_MASS = 0.9


class FakeBackend:
    """A backend with no model: texts come from a seeded word generator."""

    def __init__(self, mode: str) -> None:
        if mode not in ("diverse", "collapsed"):
            raise BackendError(f"unknown fake backend 'fake:{mode}'; known: fake:diverse, fake:collapsed")
        self.mode = mode
        self.name = f"fake:{mode}"

    def fingerprint(self) -> str:
        return f"{self.name}@1"

    def describe(self) -> dict[str, str]:
        return {"model": self.name}

    def render(self, messages: Sequence[Message]) -> str:
        return render_plain(messages)

    def generate(
        self, requests: Sequence[GenRequest], sampling: Sampling, progress: ProgressFn | None = None
    ) -> list[GenOutput]:
        outputs = []
        for request in requests:
            start = time.perf_counter()
            rng = random.Random(request.seed)
            texts = [self._reply(request.messages, rng, sampling) for _ in range(sampling.n)]
            tokens = sum(len(t.split()) for t in texts)
            reasons = ["length" if len(t.split()) >= sampling.max_new_tokens else "stop" for t in texts]
            outputs.append(GenOutput(texts, reasons, tokens, time.perf_counter() - start))
            if progress:
                progress(1, tokens)
        return outputs

    def _reply(self, messages: Sequence[Message], rng: random.Random, sampling: Sampling) -> str:
        user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        match = LIST_REQUEST.search(user) if self.mode == "diverse" else None
        if match is None:
            return self._text(rng, sampling)
        count = int(match.group(1))
        items = [self._text(rng, sampling) for _ in range(count)]
        if "probabilit" in user.lower():
            weights = [rng.random() + 0.05 for _ in items]
            items = [f"{t} (probability: {w / sum(weights):.2f})" for t, w in zip(items, weights, strict=True)]
        text = "\n".join(f"{i}. {t}" for i, t in enumerate(items, start=1))
        prefix = messages[-1]["content"] if messages and messages[-1]["role"] == "assistant" else ""
        return text[len(prefix) :].lstrip() if prefix and text.startswith(prefix) else text

    def generate_beams(
        self, requests: Sequence[GenRequest], sampling: Sampling, diversity_penalty: float,
        progress: ProgressFn | None = None,
    ) -> list[GenOutput]:
        """Toy diverse beam search: group g shifts a seeded word sequence by g places (if the penalty is > 0)."""
        outputs = []
        for request in requests:
            start = time.perf_counter()
            rng = random.Random(request.seed)
            base = [rng.randrange(len(VOCABULARY)) for _ in range(min(sampling.max_new_tokens, 6))]
            shift = 1 if diversity_penalty > 0 else 0
            texts = [COLLAPSED_TEXT if self.mode == "collapsed" else
                     " ".join(VOCABULARY[(b + g * shift) % len(VOCABULARY)] for b in base).capitalize() + "."
                     for g in range(sampling.n)]
            tokens = sum(len(t.split()) for t in texts)
            outputs.append(GenOutput(texts, ["stop"] * len(texts), tokens, time.perf_counter() - start))
            if progress:
                progress(1, tokens)
        return outputs

    def _text(self, rng: random.Random, sampling: Sampling) -> str:
        if self.mode == "collapsed":
            return COLLAPSED_TEXT
        length = min(sampling.max_new_tokens, rng.randint(4, 12))
        words = [rng.choice(VOCABULARY) for _ in range(length)]
        return " ".join(words).capitalize() + "."

    @property
    def can_score_options(self) -> bool:
        return True

    def score_options(self, requests: Sequence[OptionRequest]) -> list[list[float]]:
        return [self._option_logprobs(len(r.surfaces)) for r in requests]

    def _option_logprobs(self, count: int) -> list[float]:
        if count == 0:
            return []
        if self.mode == "diverse":
            return [math.log(VALID_MASS / count)] * count
        rest = [math.log(1e-12)] * (count - 1)
        return [math.log(VALID_MASS), *rest]


def create_fake_backend(model: str, adapter: str | None, options: BackendOptions) -> FakeBackend:
    """``model`` is ``fake:diverse`` / ``fake:collapsed`` (or just the mode)."""
    if adapter:
        raise BackendError("fake backends take no adapter")
    return FakeBackend(model.removeprefix("fake:"))
