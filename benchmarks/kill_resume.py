"""Kill `divbench run` with SIGKILL halfway, start it again, and compare with an uninterrupted run.

    python benchmarks/kill_resume.py [--model default] [--tasks dialogue,story] [--threads 2]

Prints how many sets the killed run had stored, how many the resumed run generated and took from
the store, and whether its generations.jsonl is byte-identical to the uninterrupted run's.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def cli(args: list[str], out: Path) -> list[str]:
    return [sys.executable, "-m", "divbench.cli", "run", "--display", "none", "--out", str(out), *args]


def count_lines(folder: Path) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in folder.glob("*.jsonl"))


def kill_halfway(args: list[str], out: Path, store: Path, env: dict[str, str], total: int) -> int:
    """Start a run, SIGKILL it once about half the sets are stored; return how many were."""
    proc = subprocess.Popen(cli(args, out), env=env, stdout=subprocess.DEVNULL)
    while proc.poll() is None and count_lines(store) < total // 2:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return count_lines(store)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--tasks", default="dialogue,story")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    opts = parser.parse_args()
    store = Path(tempfile.mkdtemp(prefix="divbench-store-"))
    env = {**os.environ, "DIVBENCH_STORE": str(store)}
    args = ["--model", opts.model, "--tasks", opts.tasks, "--threads", str(opts.threads), "--seed", "1234"]
    reference_out, resumed_out = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    subprocess.run(cli([*args, "--no-cache"], reference_out), env=env, check=True, stdout=subprocess.DEVNULL)
    (reference_dir,) = reference_out.iterdir()
    total = len((reference_dir / "generations.jsonl").read_text().splitlines())
    stored = kill_halfway(args, resumed_out, store, env, total)
    subprocess.run(cli(args, resumed_out), env=env, check=True, stdout=subprocess.DEVNULL)
    (resumed_dir,) = resumed_out.iterdir()
    timings = [json.loads(line) for line in (resumed_dir / "timings.jsonl").read_text().splitlines()]
    cached = sum(t["cached"] for t in timings)
    same = (resumed_dir / "generations.jsonl").read_bytes() == (reference_dir / "generations.jsonl").read_bytes()
    print(f"sets in the run: {total}")
    print(f"stored before SIGKILL: {stored}")
    print(f"resumed run: {cached} taken from the store, {total - cached} generated")
    print(f"generations.jsonl identical to the uninterrupted run: {same}")
    sys.exit(0 if same and cached == stored else 1)


if __name__ == "__main__":
    main()
