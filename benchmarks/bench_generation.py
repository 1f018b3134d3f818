"""Speed of divbench's HF generation against a plain ``model.generate`` loop, on the default model.

Both sides sample the same prompts x N texts x max new tokens at temperature 1 from the same loaded
SmolLM2-135M-Instruct. divbench batches whole requests (left padding, seeded per-request sampling);
the plain loop runs one prompt at a time with ``num_return_sequences=N, do_sample=True``. Tokens are
counted honestly on both sides: new tokens up to and including the first end-of-turn, never the
padding after it. Usage::

    python benchmarks/bench_generation.py --threads 1
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from divbench.models.base import BackendOptions, GenRequest
from divbench.models.hf import HFBackend, create_hf_backend
from divbench.types import Sampling

PROMPTS = [
    "Write a one-sentence story about a cat.",
    "Describe a doctor in one sentence.",
    "Give me a name for a new coffee shop.",
    "Pick a random number between 1 and 10.",
    "Write the opening line of a mystery novel.",
    "What is a good hobby to start this year?",
    "Invent a new holiday and describe it briefly.",
    "Describe a CEO in one sentence.",
]


@dataclass
class Result:
    label: str
    seconds: float
    tokens: int
    texts: int

    @property
    def tok_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


def run_divbench(backend: HFBackend, prompts: list[str], sampling: Sampling, label: str) -> Result:
    requests = [GenRequest(({"role": "user", "content": p},), seed=1000 + i) for i, p in enumerate(prompts)]
    start = time.perf_counter()
    outs = backend.generate(requests, sampling)
    seconds = time.perf_counter() - start
    return Result(label, seconds, sum(o.tokens for o in outs), sum(len(o.texts) for o in outs))


def honest_tokens(new_ids: torch.Tensor, eos_ids: set[int]) -> int:
    """New tokens per row up to and including the first EOS, summed."""
    total = 0
    for row in new_ids.tolist():
        end = next((i + 1 for i, t in enumerate(row) if t in eos_ids), len(row))
        total += end
    return total


def run_plain(backend: HFBackend, prompts: list[str], sampling: Sampling) -> Result:
    model, tok = backend.model, backend.tokenizer
    eos = sorted(backend.eos_ids)
    tokens = texts = 0
    torch.manual_seed(0)
    start = time.perf_counter()
    for prompt in prompts:
        enc = tok(backend.render([{"role": "user", "content": prompt}]), return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(
                **enc,
                do_sample=True,
                temperature=sampling.temperature,
                top_k=0,
                top_p=1.0,
                max_new_tokens=sampling.max_new_tokens,
                num_return_sequences=sampling.n,
                eos_token_id=eos,
                pad_token_id=tok.pad_token_id,
            )
        tokens += honest_tokens(out[:, enc["input_ids"].shape[1] :], set(eos))
        texts += out.shape[0]
    return Result("plain model.generate, 1 prompt/call", time.perf_counter() - start, tokens, texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--prompts", type=int, default=len(PROMPTS))
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=64, help="divbench rows per batch")
    args = parser.parse_args()

    load_start = time.perf_counter()
    backend = create_hf_backend("default", None, BackendOptions(threads=args.threads, batch_size=args.batch_size))
    print(f"model loaded in {time.perf_counter() - load_start:.1f}s; threads={torch.get_num_threads()}")
    prompts = (PROMPTS * ((args.prompts + len(PROMPTS) - 1) // len(PROMPTS)))[: args.prompts]
    sampling = Sampling(n=args.n, temperature=1.0, max_new_tokens=args.max_new_tokens)

    run_divbench(backend, prompts[:1], Sampling(n=2, max_new_tokens=4), "warm-up")
    results = [
        run_plain(backend, prompts, sampling),
        run_divbench(backend, prompts, sampling, f"divbench HFBackend.generate, batch {args.batch_size} rows"),
    ]
    backend.batch_size = args.n
    results.append(run_divbench(backend, prompts, sampling, f"divbench HFBackend.generate, batch {args.n} rows"))

    base = results[0]
    print(f"\n{len(prompts)} prompts x N={args.n} x {args.max_new_tokens} new tokens (T=1), {args.threads} thread(s)")
    print(f"{'system':<48} {'wall s':>8} {'tokens':>7} {'tok/s':>8} {'speed vs plain':>15}")
    for r in results:
        ratio = r.tok_per_s / base.tok_per_s if base.tok_per_s else 0.0
        print(f"{r.label:<48} {r.seconds:>8.2f} {r.tokens:>7d} {r.tok_per_s:>8.1f} {ratio:>14.2f}x")


if __name__ == "__main__":
    main()
