#!/bin/sh
# Rebuilds this board: real runs of the bundled SmolLM2-135M-Instruct on the quick suite (seed 0).
# Baselines and sampling settings run every task; the text-producing strategies run the quick suite's
# text tasks (their random-choice runs would be sampled at N=100: ~62k tokens each, too slow for this
# 2-core CPU; `divbench run --system ... ` without --tasks runs them). ~25 min on 2 idle cores.
set -e
cd "$(dirname "$0")"
rm -rf runs  # a fresh board; sets already made come back from the generation store
THREADS=${THREADS:-2}
run() { divbench run --suite quick --out runs --threads "$THREADS" --display plain "$@" > /dev/null; }
SYSTEMS=../../benchmarks/systems
for s in baseline temperature-0.7 temperature-1.3 temperature-1.6 min-p-0.1 diverse-prompt; do
  run --system "$SYSTEMS/$s.toml"
done
for s in possibility seed-injection iterative diverse-beam; do
  run --system "$SYSTEMS/$s.toml" --tasks dialogue,story,persona
done
for s in listing verbalized; do  # they refuse stories
  run --system "$SYSTEMS/$s.toml" --tasks dialogue,persona
done
divbench leaderboard .
