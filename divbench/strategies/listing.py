"""Strategies that ask for a whole list in one call: PoExFT's listing baseline and verbalized sampling.

Both send one prompt per set with ``n=1`` and a token budget scaled by the list length, parse the
reply with :func:`divbench.strategies.parsing.parse_list`, and ask again (a new derived seed, same
prompt) while a reply has fewer items than wanted, up to ``attempts`` calls. The reply with the most
items is kept. Tokens and seconds of every call count toward the set.

* ``listing``: the first N items are the texts; items still missing after ``attempts`` calls are
  empty texts with finish reason ``parse_error`` (so N stays fixed and the failure is visible).
* ``verbalized``: asks for ``k`` answers with their probabilities, then draws the N texts from the
  parsed answers by those probabilities (numpy Generator seeded from the set's seed). Missing or
  unreadable probabilities get the mean of the stated ones; all zero means uniform. With no parsed
  answer at all, the N texts are empty with finish reason ``parse_error``.

Stop strings apply to each item, not to the list call. Story prompts are not offered: several
~150-word stories in one numbered reply do not parse reliably.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from divbench.models.base import Backend, GenOutput, GenRequest, ProgressFn
from divbench.strategies._common import (
    DIALOGUE_HEAD,
    check_range,
    cut_at_stop,
    dialogue_context,
    join_prefix,
    one_each,
    source_prompt,
    sub_seed,
    tokens_only,
    with_reply_prefix,
    with_user_text,
)
from divbench.strategies.base import Strategy
from divbench.strategies.parsing import Item, parse_list, split_probability
from divbench.types import Message, Prompt, Sampling

LIST_FAMILIES = frozenset({"dialogue", "persona", "random_choice"})
ITEM_OVERHEAD = 16  # tokens per item for its number, label and stated probability
PARSE_ERROR = "parse_error"

#: PoExFT's listing prompt (seed-papers.md §1.3), after DIALOGUE_HEAD; the reply starts "Person B's response 1:"
DIALOGUE_LISTING = (
    "Think about all the possibilities in which person B might respond next and then provide a list of {n} "
    "different diverse responses. Keep each response less than 25 words and semantically different from one "
    "another. Also make sure that each response is coherent and relevant with the conversation history."
)
DIALOGUE_VERBALIZED = (
    "Think about all the possibilities in which person B might respond next and then provide a list of {n} "
    "different responses, each followed by the probability (between 0 and 1) that person B would give it, "
    "written like (probability: 0.15). Keep each response less than 25 words."
)
GENERIC_LISTING = (
    "Write a list of {n} different answers to this request, each clearly different from the others. "
    "Number them 1., 2., 3. and so on, one answer per item, and write nothing else."
)
GENERIC_VERBALIZED = (
    "Instead of one answer, write a list of {n} different possible answers to this request. After each "
    "answer, write the probability (between 0 and 1) that you would give that answer, like "
    "(probability: 0.15). Number them 1., 2., 3. and so on, and write nothing else."
)
DIALOGUE_PREFIX = "Person B's response 1:"
GENERIC_PREFIX = "1."


def list_messages(prompt: Prompt, count: int | str, verbalized: bool) -> tuple[Message, ...]:
    """The list prompt for ``prompt``, ending with an assistant prefix that opens item 1."""
    context = dialogue_context(prompt)
    if context is not None:
        body = DIALOGUE_HEAD.format(context=context) + (DIALOGUE_VERBALIZED if verbalized else DIALOGUE_LISTING)
        return with_reply_prefix(with_user_text(prompt.messages, body.format(n=count)), DIALOGUE_PREFIX)
    instruction = (GENERIC_VERBALIZED if verbalized else GENERIC_LISTING).format(n=count)
    return with_reply_prefix(with_user_text(prompt.messages, f"{prompt.text}\n\n{instruction}"), GENERIC_PREFIX)


@dataclass
class ListReply:
    """The best-parsed reply of a set's list calls, and the cost of all of them."""

    items: list[Item] = field(default_factory=list)
    truncated: bool = False  # the kept reply ran out of tokens, so its last item may be cut
    tokens: int = 0
    seconds: float = 0.0

    def add(self, items: list[Item], reason: str, out: GenOutput) -> None:
        self.tokens += out.tokens
        self.seconds += out.seconds
        if len(items) > len(self.items):
            self.items, self.truncated = items, reason == "length"

    def reason(self, index: int) -> str:
        """Finish reason of item ``index``."""
        return "length" if self.truncated and index == len(self.items) - 1 else "stop"


class _ListStrategy(Strategy):
    """Shared list-asking loop of listing and verbalized."""

    families = LIST_FAMILIES
    verbalized = False
    defaults: ClassVar[dict[str, Any]] = {"attempts": 3}

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        check_range(self.name, "attempts", self.options["attempts"], 1, 20)

    def ask(self, backend: Backend, requests: Sequence[GenRequest], sampling: Sampling, count: int,
            progress: ProgressFn | None) -> list[ListReply]:
        """Ask each request for a list of ``count`` items until it parses that many (or attempts run out)."""
        call = one_each(sampling, count * (sampling.max_new_tokens + ITEM_OVERHEAD), keep_stop=False)
        replies = [ListReply() for _ in requests]
        pending = list(range(len(requests)))
        for attempt in range(self.options["attempts"]):
            messages = [list_messages(source_prompt(requests[i]), count, self.verbalized) for i in pending]
            subs = [replace(requests[i], messages=m, seed=sub_seed(requests[i].seed, self.name, attempt))
                    for i, m in zip(pending, messages, strict=True)]
            outs = backend.generate(subs, call, tokens_only(progress))
            for i, m, out in zip(pending, messages, outs, strict=True):
                items = self._items(join_prefix(m[-1]["content"], out.texts[0]), sampling)
                replies[i].add(items, out.finish_reasons[0], out)
            pending = [i for i in pending if len(replies[i].items) < count]
            if not pending:
                break
        return replies

    @staticmethod
    def _items(text: str, sampling: Sampling) -> list[Item]:
        items = [replace(it, text=cut_at_stop(it.text, sampling.stop)[0]) for it in parse_list(text)]
        return [it for it in items if it.text]


class ListingStrategy(_ListStrategy):
    """One call asks for N different replies as a numbered list (PoExFT's listing baseline)."""

    name = "listing"
    description = "one call asks for a numbered list of N different answers (PoExFT's listing baseline)"

    def messages(self, prompt: Prompt) -> tuple[Message, ...]:
        return list_messages(prompt, "N", verbalized=False)

    def generate(self, backend: Backend, requests: Sequence[GenRequest], sampling: Sampling,
                 progress: ProgressFn | None = None) -> list[GenOutput]:
        replies = self.ask(backend, requests, sampling, sampling.n, progress)
        if progress:
            progress(len(requests), 0)
        return [self._output(reply, sampling.n) for reply in replies]

    @staticmethod
    def _output(reply: ListReply, n: int) -> GenOutput:
        kept = reply.items[:n]
        missing = n - len(kept)
        reasons = [reply.reason(i) for i in range(len(kept))] + [PARSE_ERROR] * missing
        return GenOutput([it.text for it in kept] + [""] * missing, reasons, reply.tokens, reply.seconds)


class VerbalizedStrategy(_ListStrategy):
    """Ask for k answers with stated probabilities, then draw N of them by those probabilities."""

    name = "verbalized"
    description = "verbalized sampling: k answers with stated probabilities, N drawn from them (seeded)"
    verbalized = True
    defaults: ClassVar[dict[str, Any]] = {"k": 5, "attempts": 3}

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        check_range(self.name, "k", self.options["k"], 1, 100)

    def messages(self, prompt: Prompt) -> tuple[Message, ...]:
        return list_messages(prompt, self.options["k"], verbalized=True)

    def generate(self, backend: Backend, requests: Sequence[GenRequest], sampling: Sampling,
                 progress: ProgressFn | None = None) -> list[GenOutput]:
        replies = self.ask(backend, requests, sampling, self.options["k"], progress)
        if progress:
            progress(len(requests), 0)
        return [self._draw(request, reply, sampling.n) for request, reply in zip(requests, replies, strict=True)]

    def _draw(self, request: GenRequest, reply: ListReply, n: int) -> GenOutput:
        answers = [(i, *split_probability(it.text)) for i, it in enumerate(reply.items[: self.options["k"]])]
        answers = [a for a in answers if a[1]]
        if not answers:
            return GenOutput([""] * n, [PARSE_ERROR] * n, reply.tokens, reply.seconds)
        rng = np.random.default_rng(sub_seed(request.seed, self.name, "draw"))
        picks = rng.choice(len(answers), size=n, p=stated_weights([a[2] for a in answers]))
        texts = [answers[p][1] for p in picks]
        reasons = [reply.reason(answers[p][0]) for p in picks]
        return GenOutput(texts, reasons, reply.tokens, reply.seconds)


def stated_weights(probabilities: Sequence[float | None]) -> np.ndarray:
    """Normalised weights: a missing probability gets the mean of the stated ones; all zero is uniform."""
    stated = [p for p in probabilities if p is not None]
    fill = sum(stated) / len(stated) if stated else 1.0
    weights = np.array([fill if p is None else p for p in probabilities], dtype=float)
    total = weights.sum()
    if total <= 0:
        return np.full(len(weights), 1.0 / len(weights))
    return weights / total
