"""Exact option scoring against sampling, on the default model: do they agree, and how much faster is exact?

For each prompt of a random-choice task this script

1. scores every valid option exactly (teacher forcing each complete reply + end-of-turn), timed;
2. samples ``--samples`` replies at T=1 with no truncation, just long enough to tell whether a reply
   is exactly one of the scored surfaces, and tests the counts {each option, anything else} against
   the exact probabilities with a Monte-Carlo chi-square test (many expected counts are tiny, so the
   asymptotic test would be wrong), pooled over the prompts, and a z-test of the valid share;
3. with ``--task-mode ID``, runs the task's own sampled mode on that prompt (``--samples`` texts of the
   task's max_new_tokens, answers read from free text by the task's parser), timed, and prints its
   distribution beside the exact one: it answers a different question (an answer inside prose counts),
   so it is shown, not tested.

Usage::

    python benchmarks/exact_vs_sampled.py --task choice_numbers --samples 1000 --task-mode odd-1 --threads 1
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from divbench import registry
from divbench.models.base import BackendOptions, GenRequest, OptionRequest
from divbench.models.hf import HFBackend, create_hf_backend
from divbench.runner import option_scores
from divbench.tasks.base import Task
from divbench.types import Prompt, Sampling

CHUNK = 64  # sampled rows per backend call


def exact(backend: HFBackend, prompt: Prompt, table: dict[str, list[str]]) -> tuple[dict[str, float], float, float]:
    """Exact probability of each option (surfaces summed), the invalid mass, and the seconds it took."""
    start = time.perf_counter()
    surfaces = tuple(s for forms in table.values() for s in forms)
    values = backend.score_options([OptionRequest(prompt.messages, surfaces)])[0]
    seconds = time.perf_counter() - start
    scores = option_scores(table, values)
    probs = {o: math.exp(lp) for o, lp in zip(scores.options, scores.logprobs, strict=True)}
    return probs, scores.invalid_mass, seconds


def sample(backend: HFBackend, prompt: Prompt, total: int, max_new_tokens: int) -> tuple[list[tuple[str, str]], float]:
    """``total`` replies at T=1 (no top-p/top-k/min-p), in seeded chunks; (text, finish reason) and seconds."""
    replies: list[tuple[str, str]] = []
    start = time.perf_counter()
    for index, begin in enumerate(range(0, total, CHUNK)):
        sampling = Sampling(n=min(CHUNK, total - begin), temperature=1.0, max_new_tokens=max_new_tokens)
        out = backend.generate([GenRequest(prompt.messages, seed=7919 * (index + 1))], sampling)[0]
        replies += list(zip(out.texts, out.finish_reasons, strict=True))
    return replies, time.perf_counter() - start


def strict_counts(replies: list[tuple[str, str]], table: dict[str, list[str]]) -> Counter[str]:
    """Which option each reply is exactly (a complete reply that ended by itself), else ``<other>``."""
    surface_to_option = {s: o for o, forms in table.items() for s in forms}
    return Counter(surface_to_option.get(text, "<other>") if reason == "stop" else "<other>"
                   for text, reason in replies)


def chi2_stat(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Pearson statistic over the last axis, cells with expected count 0 left out."""
    keep = expected > 0
    return ((observed[..., keep] - expected[keep]) ** 2 / expected[keep]).sum(axis=-1)


def pooled_mc_chi2(cases: list[tuple[np.ndarray, np.ndarray]], draws: int = 20000,
                   seed: int = 0) -> tuple[float, float]:
    """Sum of per-prompt Pearson statistics and its Monte-Carlo p-value: each prompt's counts are
    drawn from its own multinomial(total, probs) under the null, so tiny expected counts are fine."""
    rng = np.random.default_rng(seed)
    stat, sims = 0.0, np.zeros(draws)
    for observed, probs in cases:
        total = int(observed.sum())
        stat += float(chi2_stat(observed, probs * total))
        sims += chi2_stat(rng.multinomial(total, probs, size=draws).astype(float), probs * total)
    return stat, float((1 + (sims >= stat).sum()) / (draws + 1))


def parsed_counts(task: Task, prompt: Prompt, replies: list[tuple[str, str]]) -> Counter[str]:
    return Counter(task.parse(text, prompt) or "<invalid>" for text, _ in replies)


def surface_tokens(backend: HFBackend, table: dict[str, list[str]]) -> int:
    return max(len(backend.encode(s)) for forms in table.values() for s in forms)


def top(mapping: dict[str, float], k: int = 6) -> str:
    return ", ".join(f"{o}={v:.3f}" for o, v in sorted(mapping.items(), key=lambda kv: -kv[1])[:k])


def check_prompt(backend: HFBackend, task: Task, prompt: Prompt, args: argparse.Namespace
                 ) -> tuple[np.ndarray, np.ndarray, float]:
    """Exact vs strict sampling for one prompt (printed); returns (observed, null probs, exact seconds)."""
    table = task.option_surfaces(prompt)
    probs, invalid, exact_s = exact(backend, prompt, table)
    conditional = top({o: p / (1 - invalid) for o, p in probs.items()})
    print(f"{task.name}/{prompt.id}: {len(table)} options; exact {exact_s:.2f} s, valid mass {1 - invalid:.5f}; "
          f"given valid: {conditional}")
    short = surface_tokens(backend, table) + 2
    replies, strict_s = sample(backend, prompt, args.samples, short)
    counts = strict_counts(replies, table)
    observed = np.array([counts.get(o, 0) for o in table] + [counts.get("<other>", 0)], dtype=float)
    null = np.array([probs[o] for o in table] + [invalid])
    valid = int(observed[:-1].sum())
    seen = dict(sorted(((o, int(c)) for o, c in counts.items() if o != "<other>")))
    print(f"  strict: {args.samples} samples of <= {short} tokens in {strict_s:.1f} s; exactly-valid {valid} "
          f"(expected {args.samples * (1 - invalid):.1f}): {seen}")
    return observed, null / null.sum(), exact_s


def task_mode(backend: HFBackend, task: Task, prompt: Prompt, samples: int, exact_s: float) -> None:
    """The task's own sampled mode on one prompt: invalid rate, shares, and the speed ratio."""
    mnt = task.default_sampling.max_new_tokens
    free, task_s = sample(backend, prompt, samples, mnt)
    parsed = parsed_counts(task, prompt, free)
    share = {o: c / samples for o, c in parsed.items() if o != "<invalid>"}
    print(f"task sampled mode, {prompt.id}: {samples} samples of <= {mnt} tokens in {task_s:.1f} s; "
          f"invalid rate {parsed.get('<invalid>', 0) / samples:.3f}; valid shares: {top(share)}")
    print(f"speed: exact {exact_s:.2f} s vs sampled {task_s:.1f} s -> exact is {task_s / exact_s:.0f}x faster")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="choice_numbers")
    parser.add_argument("--prompts", default="all", help="comma-separated prompt ids, or all")
    parser.add_argument("--samples", type=int, default=1000, help="samples per prompt")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--task-mode", default=None, metavar="PROMPT_ID",
                        help="also run the task's own sampled mode on this prompt and time it against exact")
    args = parser.parse_args()

    backend = create_hf_backend("default", None, BackendOptions(threads=args.threads, batch_size=CHUNK))
    task: Task = registry.get("tasks", args.task)()
    by_id = {p.id: p for p in task.prompts}
    wanted = list(by_id) if args.prompts == "all" else args.prompts.split(",")
    unknown = [w for w in wanted if w not in by_id]
    if unknown:
        raise SystemExit(f"no prompt {unknown[0]!r} in {args.task}; ids: {', '.join(by_id)}")
    cases, exact_seconds = [], {}
    for pid in wanted:
        observed, probs, exact_seconds[pid] = check_prompt(backend, task, by_id[pid], args)
        cases.append((observed, probs))
    valid = sum(int(o[:-1].sum()) for o, _ in cases)
    expected = sum(args.samples * (1 - p[-1]) for _, p in cases)
    z = (valid - expected) / math.sqrt(sum(args.samples * (1 - p[-1]) * p[-1] for _, p in cases))
    stat, p_value = pooled_mc_chi2(cases)
    print(f"pooled over {len(cases)} prompts: exactly-valid {valid} vs expected {expected:.1f} (z = {z:.2f}); "
          f"Monte-Carlo chi-square X2 = {stat:.1f}, p = {p_value:.3f}")
    if args.task_mode:
        prompt = by_id.get(args.task_mode)
        if prompt is None:
            raise SystemExit(f"no prompt {args.task_mode!r} in {args.task}")
        exact_s = exact_seconds.get(prompt.id) or exact(backend, prompt, task.option_surfaces(prompt))[2]
        task_mode(backend, task, prompt, args.samples, exact_s)


if __name__ == "__main__":
    main()
