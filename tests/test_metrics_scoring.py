"""score_task and the bootstrap: selection, values, CIs, details, signatures, Undefined."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest

from divbench.metrics.base import Metric, SetView, Undefined
from divbench.metrics.distinct import CORPUS_DISTINCT_1
from divbench.metrics.embedding import Embedder, set_embedder
from divbench.metrics.scoring import Bootstrap, score_task
from divbench.metrics.stats import mean_ci, units_ci
from divbench.registry import UnknownNameError
from divbench.types import GenerationSet, Prompt

CONTEXT = {"n": 3, "sampling": "t:1", "task": "dlg@1", "prompts": "abc123"}


def _view(texts: list[str], pid: str, parsed: tuple[Any, ...] | None = None, **meta: Any) -> SetView:
    prompt = Prompt("t", pid, ({"role": "user", "content": "q"},), meta)
    return SetView(prompt, GenerationSet("t", pid, "h", tuple(texts), ("stop",) * len(texts), 0, 0, 0.0), parsed)


@pytest.fixture(autouse=True)
def fake_embedder() -> Iterator[None]:
    set_embedder(Embedder.hashing(32))
    yield
    set_embedder(None)


DIALOGUE = [
    _view(["I like tea.", "I like coffee a lot.", "Tea is fine."], "p1"),
    _view(["Sure, let's go!", "No way.", "Maybe later, friend."], "p2"),
    _view(["only one"], "p3"),
]


def test_free_text_task_gets_lexical_and_embedding_metrics() -> None:
    results = {r.name: r for r in score_task(DIALOGUE, "dialogue", CONTEXT, bootstrap=Bootstrap(200))}
    assert {"self_bleu", "distinct_2", "corpus_distinct_1", "poexft_distinct_2", "semantic_diversity"} <= set(results)
    assert not any(name.startswith(("entropy", "skew_", "kl_")) for name in results)
    sb = results["self_bleu"]
    assert sb.n == 2 and sb.value is not None and sb.ci is not None
    assert sb.ci[0] <= sb.value <= sb.ci[1]
    assert set(sb.details["per_prompt"]) == {"p1", "p2"}
    assert "p3" in sb.details["undefined"]
    assert sb.value == pytest.approx(np.mean(list(sb.details["per_prompt"].values())))
    for key in ("n:3", "task:dlg@1", "prompts:abc123", "boot:200", "boot_seed:0", "ci:0.95", "metric:self_bleu@1"):
        assert key in sb.signature
    corpus = results["corpus_distinct_1"]
    assert corpus.scope == "per_task" and corpus.n == 7 and corpus.ci is not None


def test_all_undefined_gives_none_and_reason() -> None:
    (result,) = score_task([DIALOGUE[2]], "dialogue", CONTEXT, ["self_bleu"])
    assert result.value is None and result.ci is None
    assert "at least two texts" in (result.reason or "")


def test_named_metrics_and_unknown_name() -> None:
    results = score_task(DIALOGUE, "dialogue", CONTEXT, ["distinct_1", "entropy_bits"], Bootstrap(50))
    assert [r.name for r in results] == ["distinct_1", "entropy_bits"]
    assert results[1].value is None and "does not apply" in (results[1].reason or "")
    with pytest.raises(UnknownNameError):
        score_task(DIALOGUE, "dialogue", CONTEXT, ["no_such_metric"])


def test_random_choice_task_gets_distribution_metrics() -> None:
    views = [_view(["1", "2", "2"], f"p{i}", ("1", "2", "2"), options=["1", "2", "3"]) for i in range(3)]
    results = {r.name: r for r in score_task(views, "random_choice", CONTEXT, bootstrap=Bootstrap(100))}
    assert "self_bleu" not in results and "kl_to_population" not in results
    assert results["coverage"].value == pytest.approx(2 / 3)
    assert results["entropy_bits"].details["prompts"]["p0"]["counts"] == [1, 2, 0]


def test_same_seed_same_ci_and_seed_changes_it() -> None:
    values = list(np.random.default_rng(0).random(30))
    assert mean_ci(values, Bootstrap(500, seed=1)) == mean_ci(values, Bootstrap(500, seed=1))
    assert mean_ci(values, Bootstrap(500, seed=1)) != mean_ci(values, Bootstrap(500, seed=2))
    lo, hi = mean_ci(values)  # type: ignore[misc]
    assert lo < np.mean(values) < hi
    assert mean_ci([0.5]) is None and mean_ci(values, Bootstrap(0)) is None
    lo90, hi90 = mean_ci(values, Bootstrap(confidence=0.9))  # type: ignore[misc]
    assert lo < lo90 and hi90 < hi


def test_bootstrap_validates() -> None:
    with pytest.raises(ValueError):
        Bootstrap(confidence=1.5)
    with pytest.raises(ValueError):
        Bootstrap(n_resamples=-1)


class _MeanOfUnits(Metric):
    """A per-task metric without a vectorised path."""

    name = "mean_units"
    scope = "per_task"

    def units(self, views: Sequence[SetView]) -> list[float]:
        return []

    def score_units(self, units: Sequence[float]) -> float:
        return float(np.mean(units))


class _VectorisedMean(_MeanOfUnits):
    def score_resamples(self, units: Sequence[float], idx: np.ndarray) -> np.ndarray:
        return np.asarray(units)[idx].mean(axis=1)


def test_units_ci_fast_path_equals_loop() -> None:
    units = list(np.random.default_rng(3).normal(size=25))
    value = float(np.mean(units))
    slow = units_ci(_MeanOfUnits(), units, value, Bootstrap(300))
    fast = units_ci(_VectorisedMean(), units, value, Bootstrap(300))
    assert slow == pytest.approx(fast)
    assert slow[0] < value < slow[1]  # type: ignore[index]


def test_corpus_distinct_ci_contains_value() -> None:
    texts = [f"w{i % 7} w{i % 5} w{i % 11} w{i}" for i in range(60)]
    view = _view(texts, "p")
    units = CORPUS_DISTINCT_1.units([view])
    value = CORPUS_DISTINCT_1.score_units(units)
    lo, hi = units_ci(CORPUS_DISTINCT_1, units, value, Bootstrap(200))  # type: ignore[misc]
    assert lo < value < hi


def test_undefined_resamples_are_dropped() -> None:
    class Picky(_MeanOfUnits):
        def score_units(self, units: Sequence[float]) -> float:
            if min(units) < 0:
                raise Undefined("negative")
            return float(np.mean(units))

    assert units_ci(Picky(), [1.0, 2.0, 3.0, -50.0], 2.0, Bootstrap(200)) is None


def test_recentred_ci_is_clipped_to_bounds() -> None:
    view = _view([f"u{i} v{i}" for i in range(30)], "p")  # every unigram unique: distinct-1 = 1
    units = CORPUS_DISTINCT_1.units([view])
    lo, hi = units_ci(CORPUS_DISTINCT_1, units, 1.0, Bootstrap(200))  # type: ignore[misc]
    assert 0.0 <= lo <= hi <= 1.0 and hi == 1.0


def test_per_task_ci_is_plain_percentile_for_skew_like_metrics() -> None:
    units = [1.0] * 10 + [0.0] * 10
    lo, hi = units_ci(_VectorisedMean(), units, 0.5, Bootstrap(300))  # type: ignore[misc]
    assert 0.0 <= lo < 0.5 < hi <= 1.0
