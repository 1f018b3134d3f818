"""Strategies that send one prompt per text: possibility numbers, seed injection, iterative prompting.

Each text of a set is one ``n=1`` request with its own seed derived from the set's seed and the text
index, so a set's texts never depend on batching. ``possibility`` and ``seed-injection`` send all N
prompts of all sets in one backend call; ``iterative`` needs N sequential rounds (each batched
across sets), because text i is asked to differ from texts 1..i-1.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar

from divbench.models.base import Backend, GenOutput, GenRequest, ProgressFn
from divbench.strategies._common import (
    DIALOGUE_HEAD,
    check_range,
    dialogue_context,
    expand,
    merge,
    one_each,
    source_prompt,
    sub_seed,
    tokens_only,
    with_system,
    with_user_text,
)
from divbench.strategies.base import Strategy, StrategyError
from divbench.types import Message, Prompt, Sampling

#: PoExFT's prompt-only possibility-number ablation (seed-papers.md §1.3), after DIALOGUE_HEAD
DIALOGUE_POSSIBILITY = (
    "Think about all the possibilities in which person B might respond next and then provide the response that "
    "corresponds to possibility number #{k}. Keep the response short with no more than 25 words."
)
GENERIC_POSSIBILITY = (
    "Think about all the possible answers to this request, then give only the answer that corresponds to "
    "possibility number #{k}."
)
ITERATIVE = ("{text}\n\nThese answers were already given:\n{previous}\n\n"
             "Give a new answer that is different from all of them.")
SEED_STRING = ("Random seed for this answer: {token}. Let it steer you toward an answer you would not usually "
               "give.")
SEED_PERSONA = "Answer as someone who {mood}, {interest} and {style}."
SEED_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
# Traits carry no gender, age, country or occupation: the persona and story tasks measure those.
MOODS = ("is in a cheerful mood", "feels a little tired today", "is curious about everything",
         "is feeling nostalgic", "is in a hurry", "is calm and relaxed", "is slightly grumpy",
         "is excited about something new")
INTERESTS = ("loves astronomy", "collects old maps", "grows tomatoes", "plays chess", "repairs bicycles",
             "watches birds", "writes short poems", "listens to jazz records", "hikes in the hills",
             "solves crosswords", "makes soup from whatever is left", "reads ghost stories")
STYLES = ("speaks plainly", "likes vivid details", "tends to joke", "chooses words carefully",
          "is very direct", "tells small anecdotes")


def _one_per_text(backend: Backend, subs: list[GenRequest], sampling: Sampling, count: int,
                  progress: ProgressFn | None) -> list[GenOutput]:
    """Generate ``count`` single-text sub-requests per set in one call and merge them back per set."""
    outs = backend.generate(subs, one_each(sampling), tokens_only(progress))
    merged = [merge(outs[i : i + count]) for i in range(0, len(outs), count)]
    if progress:
        progress(len(merged), 0)
    return merged


def possibility_messages(prompt: Prompt, k: int | str) -> tuple[Message, ...]:
    """``prompt`` asking for the answer that is possibility number #k."""
    context = dialogue_context(prompt)
    if context is not None:
        text = DIALOGUE_HEAD.format(context=context) + DIALOGUE_POSSIBILITY.format(k=k)
    else:
        text = f"{prompt.text}\n\n{GENERIC_POSSIBILITY.format(k=k)}"
    return with_user_text(prompt.messages, text)


class PossibilityStrategy(Strategy):
    """N prompts that differ only by "possibility number #k" (k = 1..N), one batched call."""

    name = "possibility"
    description = "PoExFT's possibility-number prompt without training: text k answers 'possibility #k'"

    def messages(self, prompt: Prompt) -> tuple[Message, ...]:
        return possibility_messages(prompt, "k")

    def generate(self, backend: Backend, requests: Sequence[GenRequest], sampling: Sampling,
                 progress: ProgressFn | None = None) -> list[GenOutput]:
        subs = expand(requests, lambda prompt, _req, k: possibility_messages(prompt, k + 1), sampling.n, self.name)
        return _one_per_text(backend, subs, sampling, sampling.n, progress)


class SeedInjectionStrategy(Strategy):
    """Each text's prompt gets a random string or a random (non-demographic) persona as a system message."""

    name = "seed-injection"
    description = "a random string (kind=string) or persona (kind=persona) per text, seeded per set"
    defaults: ClassVar[dict[str, Any]] = {"kind": "string"}

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        if self.options["kind"] not in ("string", "persona"):
            raise StrategyError(f"strategy {self.name!r} option 'kind' must be 'string' or 'persona', "
                                f"got {self.options['kind']!r}")

    def messages(self, prompt: Prompt) -> tuple[Message, ...]:
        template = SEED_STRING.format(token="<random>") if self.options["kind"] == "string" else (
            SEED_PERSONA.format(mood="<mood>", interest="<interest>", style="<style>"))
        return with_system(prompt.messages, template)

    def injection(self, seed: int, k: int) -> str:
        """The system text of text ``k`` of the set with ``seed``."""
        rng = random.Random(sub_seed(seed, self.name, "inject", k))
        if self.options["kind"] == "string":
            return SEED_STRING.format(token="".join(rng.choice(SEED_ALPHABET) for _ in range(10)))
        return SEED_PERSONA.format(mood=rng.choice(MOODS), interest=rng.choice(INTERESTS), style=rng.choice(STYLES))

    def generate(self, backend: Backend, requests: Sequence[GenRequest], sampling: Sampling,
                 progress: ProgressFn | None = None) -> list[GenOutput]:
        def build(prompt: Prompt, request: GenRequest, k: int) -> tuple[Message, ...]:
            return with_system(prompt.messages, self.injection(request.seed, k))

        subs = expand(requests, build, sampling.n, self.name)
        return _one_per_text(backend, subs, sampling, sampling.n, progress)


class IterativeStrategy(Strategy):
    """Text i answers a prompt that lists texts 1..i-1 and asks for something different (N rounds)."""

    name = "iterative"
    description = "sequential: text i is asked to differ from texts 1..i-1 (N rounds, batched across sets)"
    defaults: ClassVar[dict[str, Any]] = {"max_chars": 400}

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        check_range(self.name, "max_chars", self.options["max_chars"], 20)

    def messages(self, prompt: Prompt) -> tuple[Message, ...]:
        return self.round_messages(prompt, ["<earlier answers>"])

    def round_messages(self, prompt: Prompt, previous: Sequence[str]) -> tuple[Message, ...]:
        """``prompt`` followed by the earlier non-empty answers and the request to differ from them."""
        shown = [self._shorten(t) for t in previous if t.strip()]
        if not shown:
            return prompt.messages
        listed = "\n".join(f"{i}. {t}" for i, t in enumerate(shown, start=1))
        return with_user_text(prompt.messages, ITERATIVE.format(text=prompt.text, previous=listed))

    def _shorten(self, text: str) -> str:
        flat = " ".join(text.split())
        limit = self.options["max_chars"]
        return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"

    def generate(self, backend: Backend, requests: Sequence[GenRequest], sampling: Sampling,
                 progress: ProgressFn | None = None) -> list[GenOutput]:
        rounds: list[list[GenOutput]] = [[] for _ in requests]
        for k in range(sampling.n):
            subs = [replace(r, messages=self.round_messages(source_prompt(r), [t for o in done for t in o.texts]),
                            seed=sub_seed(r.seed, self.name, k))
                    for r, done in zip(requests, rounds, strict=True)]
            outs = backend.generate(subs, one_each(sampling), tokens_only(progress))
            for done, out in zip(rounds, outs, strict=True):
                done.append(out)
        if progress:
            progress(len(requests), 0)
        return [merge(done) for done in rounds]
