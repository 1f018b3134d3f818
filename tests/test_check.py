"""`divbench check`: comparability, the paired and unpaired bootstraps, verdicts and exit codes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import t as student_t
from typer.testing import CliRunner

from divbench.check import (
    CheckError,
    CheckOptions,
    Estimate,
    compare_runs,
    paired_difference,
    parse_signature,
    signature_difference,
    unpaired_difference,
    verdict_for,
)
from divbench.cli import app
from divbench.metrics import embedding
from divbench.metrics.base import Metric
from divbench.metrics.stats import Bootstrap
from divbench.types import Sampling

runner = CliRunner()
TASKS = "toy_text,toy_choice"


def _cli(*args: str):
    return runner.invoke(app, list(args))


def _make_run(root: Path, model: str, seed: int, *extra: str) -> Path:
    out = root / f"{model.replace(':', '-')}-{seed}-{'-'.join(extra) or 'default'}"
    result = _cli("run", "--model", model, "--tasks", TASKS, "--seed", str(seed), "--out", str(out),
                  "--display", "none", "--threads", "1", "--no-cache", *extra)
    assert result.exit_code == 0, result.output
    (run_dir,) = out.iterdir()
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A handful of toy runs, made once: two seeds of fake:diverse, fake:collapsed, and N=3."""
    embedding.set_embedder(embedding.Embedder.hashing())
    root = tmp_path_factory.mktemp("check-runs")
    try:
        return {
            "diverse1": _make_run(root, "fake:diverse", 1),
            "diverse2": _make_run(root, "fake:diverse", 2),
            "collapsed": _make_run(root, "fake:collapsed", 1),
            "diverse_n3": _make_run(root, "fake:diverse", 1, "--n", "3"),
        }
    finally:
        embedding.set_embedder(None)


def _check(new: Path, baseline: Path, *extra: str):
    return _cli("check", str(new), "--baseline", str(baseline), *extra)


def _signatures(run_dir: Path) -> dict[tuple[str, str], str]:
    record = json.loads((run_dir / "run.json").read_text())
    return {(t["task"], m["name"]): m["signature"] for t in record["tasks"] for m in t["metrics"]}


# ---------------------------------------------------------------- end to end through the CLI


def test_same_system_with_another_seed_passes(runs, tmp_path):
    gens = [(runs[k] / "generations.jsonl").read_text() for k in ("diverse1", "diverse2")]
    assert gens[0] != gens[1]  # the seed really changes the texts
    assert _signatures(runs["diverse1"]) == _signatures(runs["diverse2"])  # and no signature holds the seed
    out = tmp_path / "check.json"
    result = _check(runs["diverse2"], runs["diverse1"], "--json", str(out))
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    report = json.loads(out.read_text())
    assert report["exit_code"] == 0 and report["summary"]["regressed"] == 0
    tests = report["decision"]["tests"]
    assert tests > 0
    assert report["decision"]["per_test_confidence"] == pytest.approx(1 - 0.05 / tests)
    # exact-scored toy_choice metrics of a deterministic backend are identical: unchanged, not counted
    choice = [r for r in report["rows"] if r["task"] == "toy_choice" and r["verdict"] != "untested"]
    assert choice and all(r["verdict"] == "unchanged" and not r["tested"] for r in choice)
    assert tests == sum(r["tested"] for r in report["rows"])


def test_collapsed_new_run_regresses(runs, tmp_path):
    out = tmp_path / "check.json"
    result = _check(runs["collapsed"], runs["diverse1"], "--json", str(out))
    assert result.exit_code == 3, result.output
    assert "REGRESSED" in result.output
    assert "toy_text/self_bleu" in result.output
    report = json.loads(out.read_text())
    regressed = {r["metric"] for r in report["rows"] if r["verdict"] == "regressed"}
    assert {"self_bleu", "distinct_1", "distinct_2", "semantic_diversity", "corpus_distinct_1"} <= regressed
    verdicts = [r["verdict"] for r in report["rows"]]
    assert verdicts == sorted(verdicts, key=["regressed", "improved", "unchanged", "untested", "missing"].index)
    self_bleu = next(r for r in report["rows"] if r["metric"] == "self_bleu")
    assert self_bleu["diff"] > 0 and self_bleu["ci"][0] > 0  # lower is better: a rise is the regression
    assert self_bleu["diff"] == pytest.approx(self_bleu["new"] - self_bleu["old"])


def test_collapsed_baseline_diverse_new_improves(runs, tmp_path):
    out = tmp_path / "check.json"
    result = _check(runs["diverse1"], runs["collapsed"], "--json", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["summary"]["regressed"] == 0
    improved = {r["metric"] for r in report["rows"] if r["verdict"] == "improved"}
    assert {"self_bleu", "distinct_1", "corpus_distinct_1"} <= improved


def test_metric_filter_and_tolerance(runs, tmp_path):
    out = tmp_path / "check.json"
    result = _check(runs["collapsed"], runs["diverse1"], "--metrics", "self_bleu", "--json", str(out))
    assert result.exit_code == 3, result.output
    report = json.loads(out.read_text())
    assert {r["metric"] for r in report["rows"]} == {"self_bleu"}
    # a tolerance larger than any possible self-BLEU change: nothing moved
    result = _check(runs["collapsed"], runs["diverse1"], "--metrics", "self_bleu", "--tolerance", "2")
    assert result.exit_code == 0, result.output


def _assert_user_error(result, *texts: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for text in texts:
        assert text in result.output


def test_signature_mismatch_names_the_field(runs):
    result = _check(runs["diverse_n3"], runs["diverse1"])
    _assert_user_error(result, "not comparable", "signature field 'n' differs", "baseline 4", "new 3")
    assert len(result.output.strip().splitlines()) == 1


def test_missing_unscored_and_newer_runs(runs, tmp_path):
    _assert_user_error(_check(tmp_path / "nope", runs["diverse1"]), "new run", "does not exist")
    _assert_user_error(_check(runs["diverse1"], tmp_path / "nope"), "baseline run", "does not exist")
    unscored = tmp_path / "unscored"
    unscored.mkdir()
    for name in ("manifest.json", "generations.jsonl"):
        (unscored / name).write_text((runs["diverse2"] / name).read_text())
    _assert_user_error(_check(unscored, runs["diverse1"]), "score the run first")
    newer = tmp_path / "newer"
    newer.mkdir()
    record = json.loads((runs["diverse2"] / "run.json").read_text())
    (newer / "run.json").write_text(json.dumps({**record, "schema_version": 99}))
    _assert_user_error(_check(newer, runs["diverse1"]), "newer than this divbench")


def test_unknown_or_unscored_metric(runs):
    _assert_user_error(_check(runs["diverse2"], runs["diverse1"], "--metrics", "nope"), "unknown metric 'nope'")
    _assert_user_error(_check(runs["diverse2"], runs["diverse1"], "--metrics", "skew_tv_gender"),
                       "scored in neither run")


def test_bad_options_are_one_line(runs):
    _assert_user_error(_check(runs["diverse2"], runs["diverse1"], "--confidence", "1.5"), "--confidence")


def test_stale_run_json_is_refused(runs, tmp_path):
    """A per-task value that its generations no longer reproduce means the run needs re-scoring."""
    stale = tmp_path / "stale"
    stale.mkdir()
    for name in ("manifest.json", "generations.jsonl"):
        (stale / name).write_text((runs["diverse2"] / name).read_text())
    record = json.loads((runs["diverse2"] / "run.json").read_text())
    for task in record["tasks"]:
        for metric in task["metrics"]:
            if metric["name"] == "corpus_distinct_1":
                metric["value"] += 0.1
    (stale / "run.json").write_text(json.dumps(record))
    _assert_user_error(_check(stale, runs["diverse1"]), "corpus_distinct_1 recomputes to", "re-score")


def test_library_report_without_the_cli(runs):
    report = compare_runs(runs["collapsed"], runs["diverse1"], CheckOptions(metrics=("distinct_1",)))
    assert report.exit_code == 3
    (row,) = [r for r in report.rows if r.task == "toy_text"]
    assert row.verdict == "regressed" and row.estimate is not None and row.estimate.n_old == 6
    with pytest.raises(CheckError, match="signature field 'n'"):
        compare_runs(runs["diverse_n3"], runs["diverse1"])


# ---------------------------------------------------------------- the statistics, on constructed cases


def test_paired_bootstrap_constant_shift_is_exact():
    old = {f"p{i}": float(i * i) for i in range(12)}  # very different prompts
    new = {k: v + 0.25 for k, v in old.items()}  # every prompt moved by the same amount
    est = paired_difference(old, new, Bootstrap(500, seed=1))
    assert est is not None
    assert est.diff == pytest.approx(0.25) and est.se == 0.0
    assert est.interval(0.999) == pytest.approx((0.25, 0.25))
    assert verdict_for(est.interval(0.999), higher_is_better=True) == "improved"
    assert verdict_for(est.interval(0.999), higher_is_better=False) == "regressed"


def test_paired_bootstrap_matches_the_paired_t_interval():
    """Known answer: for a mean of paired differences the corrected bootstrap SE is s/sqrt(n)."""
    rng = np.random.default_rng(7)
    base = rng.uniform(0, 100, size=30)  # prompt effects far larger than the change
    noise = rng.normal(0, 1, size=30)
    old = {f"p{i}": float(v) for i, v in enumerate(base)}
    new = {f"p{i}": float(v + 0.8 + e) for i, (v, e) in enumerate(zip(base, noise, strict=True))}
    est = paired_difference(old, new, Bootstrap(20_000, seed=3))
    assert est is not None
    d = np.array([new[k] - old[k] for k in old])
    expected_se = d.std(ddof=1) / math.sqrt(len(d))
    assert est.diff == pytest.approx(d.mean())
    assert est.se == pytest.approx(expected_se, rel=0.03)
    assert est.df == 29
    half = student_t.ppf(0.975, 29) * expected_se
    lo, hi = est.interval(0.95)
    assert lo == pytest.approx(d.mean() - half, abs=0.03 * half)
    assert hi == pytest.approx(d.mean() + half, abs=0.03 * half)
    # pairing is what makes the change visible: unpaired, the prompt spread (sd ~29) would swamp it
    assert lo > 0


def test_paired_bootstrap_uses_only_shared_prompts():
    old = {"a": 1.0, "b": 2.0, "c": 3.0}
    new = {"b": 2.5, "c": 3.5, "d": 100.0}
    est = paired_difference(old, new, Bootstrap(200, seed=0))
    assert est is not None and est.n_old == 2
    assert (est.old, est.new, est.diff) == pytest.approx((2.5, 3.0, 0.5))
    assert paired_difference({"a": 1.0}, {"a": 2.0}, Bootstrap(200)) is None  # one prompt: no spread
    same = paired_difference({"a": 1.0}, {"a": 1.0}, Bootstrap(200))
    assert same is not None and same.degenerate


class _MeanMetric(Metric):
    """A per-task metric whose value is the mean of its units (for a known-answer test)."""

    name = "unit_mean"
    scope = "per_task"

    def units(self, views):
        return list(views)

    def score_units(self, units):
        return float(np.mean(units))

    def score_resamples(self, units, idx):
        return np.asarray(units, dtype=float)[idx].mean(axis=1)


def test_unpaired_bootstrap_known_standard_error():
    rng = np.random.default_rng(11)
    old, new = list(rng.normal(0, 2, 200)), list(rng.normal(1, 1, 100))
    est = unpaired_difference(_MeanMetric(), old, new, Bootstrap(20_000, seed=1), Bootstrap(20_000, seed=2))
    assert est is not None
    expected = math.sqrt(np.var(old, ddof=1) / 200 + np.var(new, ddof=1) / 100)
    assert est.diff == pytest.approx(np.mean(new) - np.mean(old))
    assert est.se == pytest.approx(expected, rel=0.03)
    assert 99 <= est.df <= 298  # Welch–Satterthwaite lies between min(n) - 1 and n1 + n2 - 2


def test_verdicts_follow_direction_and_tolerance():
    assert verdict_for((-0.3, -0.1), higher_is_better=True) == "regressed"
    assert verdict_for((-0.3, -0.1), higher_is_better=False) == "improved"
    assert verdict_for((0.1, 0.3), higher_is_better=False) == "regressed"
    assert verdict_for((-0.1, 0.3), higher_is_better=True) == "unchanged"
    assert verdict_for((-0.3, -0.1), higher_is_better=True, tolerance=0.2) == "unchanged"
    assert verdict_for((-0.3, -0.25), higher_is_better=True, tolerance=0.2) == "regressed"


def test_degenerate_estimates_are_not_tests():
    assert Estimate(1.0, 1.0, 0.0, 0.0, 5, 6, 6).degenerate
    assert not Estimate(1.0, 1.5, 0.5, 0.0, 5, 6, 6).degenerate


# ---------------------------------------------------------------- signatures


def test_parse_signature_nests_sampling_and_keeps_stop_strings_whole():
    sampling = Sampling(n=5, temperature=0.7, stop=("\n\n", "User|Bot"))
    sig = f"metric:self_bleu@1|order:4|n:5|sampling:{sampling.signature()}|task:story@1|prompts:abc|ci:0.95"
    fields = parse_signature(sig)
    assert fields["metric"] == "self_bleu@1" and fields["n"] == "5"
    assert fields["sampling.n"] == "5" and fields["sampling.t"] == "0.7"
    assert fields["sampling.stop"] == "\n\n|User|Bot"
    assert fields["task"] == "story@1" and fields["prompts"] == "abc"


def test_signature_difference_ignores_bootstrap_fields_only():
    a = "metric:distinct_1@1|order:1|n:4|task:t@1|prompts:x|ci:0.95|boot:1000|boot_seed:0"
    b = "metric:distinct_1@1|order:1|n:4|task:t@1|prompts:x|ci:0.9|boot:0|boot_seed:5"
    assert signature_difference(a, b) is None
    assert signature_difference(a, a.replace("n:4", "n:8")) == ("n", "4", "8")
    assert signature_difference(a, a.replace("@1", "@2")) == ("metric", "distinct_1@1", "distinct_1@2")
    assert signature_difference(a, a.replace("|order:1", "")) == ("order", "1", None)
