"""Helpers shared by the strategies: derived seeds, message edits, merged outputs, progress."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace

from divbench.models.base import GenOutput, GenRequest, ProgressFn
from divbench.tasks.dialogue import TEMPLATE as DIALOGUE_TEMPLATE
from divbench.tasks.dialogue import label_turns
from divbench.types import Message, Prompt, Sampling

#: PoExFT's opening of every dialogue prompt (seed-papers.md §1.3)
DIALOGUE_HEAD = (
    "Given this conversation:\n\n{context}\n\nImagine you are person B and act as if you were a real individual. "
)


def sub_seed(seed: int, *parts: object) -> int:
    """A seed derived from a request's seed and labels (e.g. the strategy and the text index)."""
    text = "\x00".join([str(seed), *(str(p) for p in parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


def source_prompt(request: GenRequest) -> Prompt:
    """The task's own prompt behind a request (its messages when the caller gave no Prompt)."""
    return request.prompt if request.prompt is not None else Prompt("", "", request.messages)


def dialogue_context(prompt: Prompt) -> str | None:
    """The Person A/B context when ``prompt`` is the dialogue task's PoExFT prompt, else None."""
    turns = prompt.meta.get("turns")
    if not isinstance(turns, list) or not prompt.messages:
        return None
    context = label_turns(turns)
    return context if prompt.text == DIALOGUE_TEMPLATE.format(context=context) else None


def with_user_text(messages: Sequence[Message], text: str) -> tuple[Message, ...]:
    """``messages`` with the last user message's content replaced by ``text``."""
    out = [dict(m) for m in messages]
    index = max((i for i, m in enumerate(out) if m["role"] == "user"), default=None)
    if index is None:
        out.append({"role": "user", "content": text})
    else:
        out[index]["content"] = text
    return tuple(out)


def with_system(messages: Sequence[Message], text: str) -> tuple[Message, ...]:
    """``messages`` with ``text`` as the system message (put before an existing one)."""
    out = [dict(m) for m in messages]
    if out and out[0]["role"] == "system":
        out[0]["content"] = f"{text}\n\n{out[0]['content']}"
        return tuple(out)
    return ({"role": "system", "content": text}, *out)


def with_reply_prefix(messages: Sequence[Message], prefix: str) -> tuple[Message, ...]:
    """``messages`` plus an assistant message that the reply continues (backends render it as a prefix)."""
    return (*messages, {"role": "assistant", "content": prefix})


def join_prefix(prefix: str, completion: str) -> str:
    """The reply as the model sees it: the prefix, then the completion."""
    if not prefix or completion[:1].isspace():
        return prefix + completion
    return f"{prefix} {completion}"


def one_each(sampling: Sampling, max_new_tokens: int | None = None, keep_stop: bool = True) -> Sampling:
    """``sampling`` for calls that draw one text per request."""
    return replace(sampling, n=1, max_new_tokens=max_new_tokens or sampling.max_new_tokens,
                   stop=sampling.stop if keep_stop else ())


def merge(outputs: Sequence[GenOutput]) -> GenOutput:
    """One output holding all texts of ``outputs``, with their summed tokens and seconds."""
    return GenOutput(
        texts=[t for o in outputs for t in o.texts],
        finish_reasons=[r for o in outputs for r in o.finish_reasons],
        tokens=sum(o.tokens for o in outputs),
        seconds=sum(o.seconds for o in outputs),
    )


def tokens_only(progress: ProgressFn | None) -> ProgressFn | None:
    """A progress callback for sub-calls: counts their tokens, not their requests as sets."""
    if progress is None:
        return None
    return lambda _sets, tokens: progress(0, tokens)


Builder = Callable[[Prompt, GenRequest, int], tuple[Message, ...]]


def expand(requests: Sequence[GenRequest], build: Builder, count: int, label: str) -> list[GenRequest]:
    """``count`` sub-requests per request: ``build(prompt, request, k)`` gives the k-th messages (k from 0)."""
    out = []
    for request in requests:
        prompt = source_prompt(request)
        for k in range(count):
            messages = build(prompt, request, k)
            out.append(replace(request, messages=messages, seed=sub_seed(request.seed, label, k)))
    return out


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` cut at the first stop string, and whether one was found."""
    hits = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return (text[: min(hits)].strip(), True) if hits else (text, False)


def check_range(strategy: str, name: str, value: float, low: float, high: float | None = None) -> None:
    """A one-line StrategyError unless ``low <= value <= high``."""
    from divbench.strategies.base import StrategyError

    if value < low or (high is not None and value > high):
        bound = f">= {low:g}" if high is None else f"between {low:g} and {high:g}"
        raise StrategyError(f"strategy {strategy!r} option {name!r} must be {bound}, got {value!r}")
