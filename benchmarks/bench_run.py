"""Time `divbench run` end to end on the default model: fresh generation vs a replay from the store.

    python benchmarks/bench_run.py [--threads 2] [--suite quick] [-- extra divbench run args]

Runs the CLI twice in subprocesses with the same seed: first with ``--no-cache`` (everything is
generated), then twice more through a fresh store (the first fills it, the second replays it).
Prints wall time, peak RSS, tokens and tokens/s side by side, and the replay speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, Path]:
    """Run `divbench run` and return (wall seconds, run folder)."""
    out = Path(tempfile.mkdtemp(prefix="divbench-bench-"))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "divbench.cli", "run", "--display", "none", "--out", str(out), *args],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    (run_dir,) = out.iterdir()
    return wall, run_dir


def peak_rss_mb() -> float:
    """Largest resident set of any finished child so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--suite", default="quick")
    parser.add_argument("extra", nargs="*", help="more `divbench run` arguments")
    opts = parser.parse_args()
    env = {**os.environ, "DIVBENCH_STORE": tempfile.mkdtemp(prefix="divbench-store-")}
    common = ["--suite", opts.suite, "--threads", str(opts.threads), "--seed", str(int(time.time())), *opts.extra]
    rows = []
    for label, flags in (("fresh (--no-cache)", ["--no-cache"]), ("fill store", []), ("replay store", [])):
        wall, run_dir = run_cli(common + flags, env)
        record = json.loads((run_dir / "run.json").read_text())
        cost = record["cost"]
        rows.append((label, wall, peak_rss_mb(), cost["tokens"], cost["seconds"]))
    print(f"divbench run --suite {opts.suite} --threads {opts.threads} on the default model")
    print(f"{'':20} {'wall s':>8} {'peak RSS MB':>12} {'tokens':>8} {'gen s':>8} {'tok/s':>8}")
    for label, wall, rss, tokens, seconds in rows:
        rate = tokens / seconds if seconds else 0.0
        print(f"{label:20} {wall:8.1f} {rss:12.0f} {tokens:8d} {seconds:8.1f} {rate:8.1f}")
    print(f"replay vs fresh wall-time ratio: {rows[0][1] / rows[2][1]:.1f}x faster")


if __name__ == "__main__":
    main()
