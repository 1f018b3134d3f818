"""Exact option scoring against sampling, on the default model: do they agree, and how much faster is exact?

For one random-choice prompt this script

1. scores every valid option exactly (teacher forcing each complete reply + end-of-turn), timed;
2. samples ``--samples`` replies at T=1 with no truncation, just long enough to tell whether a reply
   is exactly one of the scored surfaces, and tests the counts {each option, anything else} against
   the exact probabilities with a Monte-Carlo chi-square test (many expected counts are tiny, so the
   asymptotic test would be wrong) and a binomial test of the valid share;
3. runs the task's own sampled mode (``--samples`` texts of the task's max_new_tokens, answers read
   from free text by the task's tolerant parser), timed, and prints its distribution beside the exact
   one: it answers a different question (any answer inside prose counts), so it is shown, not tested.

Usage::

    python benchmarks/exact_vs_sampled.py --task choice_days --prompt day-0 --samples 1000 --threads 1
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from scipy import stats

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


def mc_chi2(observed: np.ndarray, probs: np.ndarray, draws: int = 20000, seed: int = 0) -> tuple[float, float]:
    """Pearson chi-square statistic and its Monte-Carlo p-value under the multinomial(probs) null."""
    total = int(observed.sum())
    expected = probs * total
    keep = expected > 0
    stat = float(((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum())
    sims = np.random.default_rng(seed).multinomial(total, probs, size=draws)
    sim_stats = ((sims[:, keep] - expected[keep]) ** 2 / expected[keep]).sum(axis=1)
    return stat, float((1 + (sim_stats >= stat).sum()) / (draws + 1))


def parsed_counts(task: Task, prompt: Prompt, replies: list[tuple[str, str]]) -> Counter[str]:
    return Counter(task.parse(text, prompt) or "<invalid>" for text, _ in replies)


def surface_tokens(backend: HFBackend, table: dict[str, list[str]]) -> int:
    return max(len(backend.encode(s)) for forms in table.values() for s in forms)


def top(mapping: dict[str, float], k: int = 6) -> str:
    return ", ".join(f"{o}={v:.3f}" for o, v in sorted(mapping.items(), key=lambda kv: -kv[1])[:k])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="choice_days")
    parser.add_argument("--prompt", default="day-0", help="prompt id within the task")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-task-mode", action="store_true", help="skip step 3 (the task's sampled mode)")
    args = parser.parse_args()

    backend = create_hf_backend("default", None, BackendOptions(threads=args.threads, batch_size=CHUNK))
    task: Task = registry.get("tasks", args.task)()
    prompt = next((p for p in task.prompts if p.id == args.prompt), None)
    if prompt is None:
        raise SystemExit(f"no prompt {args.prompt!r} in {args.task}; ids: {', '.join(p.id for p in task.prompts)}")
    table = task.option_surfaces(prompt)
    probs, invalid, exact_s = exact(backend, prompt, table)
    print(f"{args.task}/{args.prompt}: {len(table)} options, {sum(map(len, table.values()))} surfaces")
    print(f"exact:   {exact_s:.2f} s; valid mass {1 - invalid:.5f}; conditional on valid: "
          f"{top({o: p / (1 - invalid) for o, p in probs.items()})}")

    short = surface_tokens(backend, table) + 2
    replies, strict_s = sample(backend, prompt, args.samples, short)
    counts = strict_counts(replies, table)
    options = list(table)
    observed = np.array([counts.get(o, 0) for o in options] + [counts.get("<other>", 0)], dtype=float)
    null = np.array([probs[o] for o in options] + [invalid])
    stat, p_chi2 = mc_chi2(observed, null / null.sum())
    valid = int(observed[:-1].sum())
    p_binom = stats.binomtest(valid, args.samples, 1 - invalid).pvalue
    print(f"strict:  {args.samples} samples of <= {short} tokens in {strict_s:.1f} s; exactly-valid replies "
          f"{valid} (expected {args.samples * (1 - invalid):.1f}); binomial p = {p_binom:.3f}; "
          f"Monte-Carlo chi-square over {len(options)} options + other: X2 = {stat:.2f}, p = {p_chi2:.3f}")
    print(f"         observed valid: {dict(sorted(((o, int(c)) for o, c in counts.items() if o != '<other>')))}")

    if not args.skip_task_mode:
        mnt = task.default_sampling.max_new_tokens
        free, task_s = sample(backend, prompt, args.samples, mnt)
        parsed = parsed_counts(task, prompt, free)
        share = {o: c / args.samples for o, c in parsed.items() if o != "<invalid>"}
        print(f"task sampled mode: {args.samples} samples of <= {mnt} tokens in {task_s:.1f} s; invalid rate "
              f"{parsed.get('<invalid>', 0) / args.samples:.3f}; valid shares: {top(share)}")
        print(f"speed: exact {exact_s:.2f} s vs sampled {task_s:.1f} s -> exact is {task_s / exact_s:.0f}x faster")


if __name__ == "__main__":
    main()
