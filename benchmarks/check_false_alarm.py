"""How often does `divbench check` cry wolf, and how often does it catch a worse system?

    python benchmarks/check_false_alarm.py [--pairs 100] [--suite quick] [--words 33]

Everything runs in-process through the library (no subprocesses, no generation store):

1. **Seeds matter.** Two runs of ``fake:diverse`` with different seeds must differ in their texts,
   or a false-alarm rate measured on them means nothing; the share of sampled sets whose texts differ
   is printed (and must be ~100%).
2. **False alarms.** ``--pairs`` independent pairs of ``fake:diverse`` runs (seeds 2i vs 2i+1, no run
   shared between pairs) go through :func:`divbench.check.compare_runs`. A false alarm is exit code 3
   (something "regressed"); "any movement" also counts "improved" verdicts. Both rates come with
   Clopper–Pearson 95% intervals. Target: false alarms <= 5% (the gate's family-wise confidence is 95%).
3. **Calibration per test.** For each (task, metric), the share of null pairs whose *unadjusted* 95%
   interval excludes zero: about 5% means the interval itself is honest.
4. **Detection.** Each null pair's baseline against a worse system: a fake whose words come from only
   the first K of fake:diverse's 40-word vocabulary (``--words``, several give a power curve, each
   adds about a minute), and ``fake:collapsed``.

About three minutes of CPU on one thread with the defaults (most of it generating and scoring the
runs; 4.5 minutes wall on a busy shared 2-core machine).

Embedding metrics use divbench's model-free hashing embedder here (MiniLM would take minutes per
run on a CPU); they are per-set metrics like any other for the gate's statistics.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from scipy.stats import beta

from divbench.check import CheckOptions, compare_runs
from divbench.metrics import embedding
from divbench.metrics.stats import Bootstrap
from divbench.models.base import GenOutput, GenRequest, ProgressFn
from divbench.models.fake import VOCABULARY, FakeBackend
from divbench.runner import GENERATIONS, generate, read_sets, score_run
from divbench.suite import Suite, load_suite
from divbench.types import Sampling, System


class NarrowFake(FakeBackend):
    """fake:diverse with a smaller vocabulary: same text lengths, fewer distinct words (less diverse)."""

    def __init__(self, words: int) -> None:
        super().__init__("diverse")
        self.words = VOCABULARY[:words]
        self.name = f"fake:narrow{words}"

    def fingerprint(self) -> str:
        return f"{self.name}@1"

    def generate(self, requests: Sequence[GenRequest], sampling: Sampling,
                 progress: ProgressFn | None = None) -> list[GenOutput]:
        outputs = []
        for request in requests:
            rng = random.Random(request.seed)
            texts = []
            for _ in range(sampling.n):
                length = min(sampling.max_new_tokens, rng.randint(4, 12))
                texts.append(" ".join(rng.choice(self.words) for _ in range(length)).capitalize() + ".")
            tokens = sum(len(t.split()) for t in texts)
            outputs.append(GenOutput(texts, ["stop"] * len(texts), tokens, 0.0))
            if progress:
                progress(1, tokens)
        return outputs


def make_run(root: Path, name: str, backend: FakeBackend, suite: Suite, seed: int) -> Path:
    """Generate (no store) and score one run; the stored CIs are not used by check, so none are drawn."""
    run_dir = root / name
    system = System(label=backend.name, backend="fake", model=backend.name)
    generate(system, suite, seed, backend, run_dir)
    score_run(run_dir, None, Bootstrap(n_resamples=0))
    return run_dir


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def rate(label: str, k: int, n: int) -> str:
    lo, hi = clopper_pearson(k, n)
    return f"{label:44} {k:4d}/{n:<4d} = {k / n:6.1%}   95% CI [{lo:.1%}, {hi:.1%}]"


def texts_differ(a: Path, b: Path) -> tuple[int, int]:
    """(sampled sets whose texts differ between two runs, sampled sets)."""
    sets_a = {(s.task, s.prompt_id): s.texts for s in read_sets(a / GENERATIONS) if s.texts}
    sets_b = {(s.task, s.prompt_id): s.texts for s in read_sets(b / GENERATIONS) if s.texts}
    return sum(sets_a[k] != sets_b.get(k) for k in sets_a), len(sets_a)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--suite", default="quick")
    parser.add_argument("--words", default="33", help="vocabulary sizes of the worse systems (of 40), comma-separated")
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--resamples", type=int, default=2000)
    opts = parser.parse_args()
    embedding.set_embedder(embedding.Embedder.hashing())
    suite = load_suite(opts.suite)
    check_options = CheckOptions(confidence=opts.confidence, resamples=opts.resamples)
    root = Path(tempfile.mkdtemp(prefix="divbench-check-bench-"))
    start = time.perf_counter()
    try:
        diverse, collapsed = FakeBackend("diverse"), FakeBackend("collapsed")
        baselines, news = [], []
        for i in range(opts.pairs):
            baselines.append(make_run(root, f"base{i}", diverse, suite, 2 * i))
            news.append(make_run(root, f"new{i}", diverse, suite, 2 * i + 1))
        differ, total = texts_differ(baselines[0], news[0])
        print(f"suite {opts.suite!r}, {opts.pairs} pairs, confidence {opts.confidence}, {opts.resamples} resamples")
        print(f"seeds change the texts: {differ}/{total} sampled sets differ between seed 0 and seed 1")

        false_alarm = moved = 0
        tests, per_metric, per_metric_n = [], defaultdict(int), defaultdict(int)
        for base, new in zip(baselines, news, strict=True):
            report = compare_runs(new, base, check_options)
            tests.append(report.tests)
            false_alarm += report.exit_code == 3
            moved += any(r.verdict in ("regressed", "improved") for r in report.rows)
            for row in report.rows:
                if row.tested and row.estimate is not None:
                    lo, hi = row.estimate.interval(0.95)
                    per_metric[(row.task, row.metric)] += lo > 0 or hi < 0
                    per_metric_n[(row.task, row.metric)] += 1
        print(f"tests per check: {min(tests)}-{max(tests)} (Bonferroni denominator)")
        met = "met" if false_alarm <= (1 - opts.confidence) * opts.pairs else "NOT met"
        print(rate("false alarm (exit 3), same system", false_alarm, opts.pairs)
              + f"   target <= {1 - opts.confidence:.0%}: {met}")
        print(rate("any metric moved (regressed or improved)", moved, opts.pairs))
        pooled = sum(per_metric.values()), sum(per_metric_n.values())
        print(rate("per-test unadjusted 95% CI excludes 0 (pooled)", *pooled))
        worst = sorted(per_metric, key=lambda k: -per_metric[k] / per_metric_n[k])[:5]
        print("  highest per-test rates: " + ", ".join(
            f"{t}/{m} {per_metric[(t, m)]}/{per_metric_n[(t, m)]}" for t, m in worst))

        worse_systems: list[tuple[str, FakeBackend, bool]] = [
            (f"fake:narrow{w} (first {w} of 40 words)", NarrowFake(int(w)), True) for w in opts.words.split(",")
        ]
        worse_systems.append(("fake:collapsed", collapsed, False))
        for label, backend, seeded in worse_systems:
            caught, regressed_counts = 0, []
            fixed = None if seeded else make_run(root, f"{backend.name}-0", backend, suite, 0)
            for i, base in enumerate(baselines):
                run = fixed or make_run(root, f"{backend.name}-{i}", backend, suite, 10_000 + i)
                report = compare_runs(run, base, check_options)
                caught += report.exit_code == 3
                regressed_counts.append(len(report.regressed))
            print(rate(f"detected: {label}", caught, opts.pairs)
                  + f"   metrics regressed per check: median {sorted(regressed_counts)[len(regressed_counts) // 2]}")
        print(f"wall time {time.perf_counter() - start:.0f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
