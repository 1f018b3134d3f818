"""Random-choice distribution metrics, sampled and exact."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chisquare

from divbench.metrics import distribution as d
from divbench.metrics.base import SetView, Undefined
from divbench.metrics.distribution import choice_distribution, overrepresentation
from divbench.types import GenerationSet, OptionScores, Prompt

OPTIONS = ["1", "2", "3", "4"]


def _view(parsed: list[str | None] | None = None, scores: OptionScores | None = None, **meta: object) -> SetView:
    meta = {"options": OPTIONS, **meta}
    prompt = Prompt("t", "p", ({"role": "user", "content": "pick"},), meta)
    texts = tuple(p or "??" for p in parsed) if parsed is not None else ()
    gset = GenerationSet("t", "p", "h", texts, ("stop",) * len(texts), 0, 0, 0.0, option_scores=scores)
    return SetView(prompt, gset, tuple(parsed) if parsed is not None else None)


SAMPLED = ["1", "1", "2", "1", None, "5", "2", "3"]  # 6 valid: 1x3 2x2 3x1 4x0; 2 invalid


def test_sampled_distribution() -> None:
    dist = choice_distribution(_view(SAMPLED))
    assert dist.mode == "sampled"
    np.testing.assert_array_equal(dist.counts, [3, 2, 1, 0])
    np.testing.assert_allclose(dist.model, [0.5, 1 / 3, 1 / 6, 0])
    assert dist.invalid == pytest.approx(2 / 8)


def test_sampled_metrics() -> None:
    view = _view(SAMPLED)
    p, t = np.array([0.5, 1 / 3, 1 / 6, 0]), np.full(4, 0.25)
    h = -sum(x * math.log2(x) for x in p if x > 0)
    assert d.ENTROPY_BITS.score_set(view) == pytest.approx(h)
    assert d.NORMALIZED_ENTROPY.score_set(view) == pytest.approx(h / 2)
    smoothed = (np.array([3, 2, 1, 0]) + 0.5) / (6 + 2)
    assert d.KL_TO_TARGET.score_set(view) == pytest.approx(float(np.sum(t * np.log2(t / smoothed))))
    assert d.TV_DISTANCE.score_set(view) == pytest.approx(0.5 * np.abs(p - t).sum())
    m = (p + t) / 2
    js = 0.5 * sum(x * math.log2(x / y) for x, y in zip(p, m, strict=True) if x > 0) + 0.5 * np.sum(t * np.log2(t / m))
    assert d.JS_DIVERGENCE.score_set(view) == pytest.approx(js)
    assert d.COVERAGE.score_set(view) == pytest.approx(0.75)
    assert d.UNIQUE_COUNT.score_set(view) == 3
    assert d.INVALID_RATE.score_set(view) == pytest.approx(0.25)
    assert d.CHI2_PVALUE.score_set(view) == pytest.approx(chisquare([3, 2, 1, 0]).pvalue)
    assert d.ENTROPY_MM.score_set(view) == pytest.approx(h + 2 / (2 * 6 * math.log(2)))


def test_target_weights() -> None:
    view = _view(["1", "1", "2", "2"], weights=[2, 2, 0, 0])
    assert d.TV_DISTANCE.score_set(view) == pytest.approx(0.0)
    assert d.COVERAGE.score_set(view) == 1.0
    assert d.JS_DIVERGENCE.score_set(view) == pytest.approx(0.0)


def test_open_set_answers_outside_the_options_are_valid() -> None:
    view = _view(["1", "9", "9", None], exhaustive=False)
    dist = choice_distribution(view)
    assert dist.options == ("1", "2", "3", "4", "9") and dist.n_options == 4
    np.testing.assert_allclose(dist.model, [1 / 3, 0, 0, 0, 2 / 3])
    np.testing.assert_allclose(dist.target, [0.25] * 4 + [0])
    assert d.INVALID_RATE.score_set(view) == pytest.approx(0.25)
    assert d.UNIQUE_COUNT.score_set(view) == 2
    assert d.COVERAGE.score_set(view) == pytest.approx(0.25)
    h = -(1 / 3 * math.log2(1 / 3) + 2 / 3 * math.log2(2 / 3))
    assert d.NORMALIZED_ENTROPY.score_set(view) == pytest.approx(h / 2)
    assert d.TV_DISTANCE.score_set(view) == pytest.approx(0.5 * (1 / 12 + 3 * 0.25 + 2 / 3))
    assert d.INVALID_RATE.score_set(_view(["1", "9"])) == pytest.approx(0.5)  # exhaustive: 9 is invalid


def test_exact_mode() -> None:
    probs = [0.4, 0.3, 0.2, 0.0]
    scores = OptionScores(("4", "3", "2", "1"), tuple(math.log(x) if x else -math.inf for x in probs[::-1]), 0.1)
    view = _view(None, scores)
    dist = choice_distribution(view)
    assert dist.mode == "exact"
    np.testing.assert_allclose(dist.model, np.array(probs) / 0.9)
    assert d.INVALID_RATE.score_set(view) == pytest.approx(0.1)
    assert d.COVERAGE.score_set(view) == pytest.approx(0.75)
    assert d.UNIQUE_COUNT.score_set(view) == 3
    with pytest.raises(Undefined, match="probability 0"):
        d.KL_TO_TARGET.score_set(view)
    with pytest.raises(Undefined, match="sampled"):
        d.CHI2_PVALUE.score_set(view)
    assert not d.CHI2_PVALUE.applies_to("random_choice", [view])
    assert not d.ENTROPY_MM.applies_to("random_choice", [view])
    assert d.ENTROPY_BITS.applies_to("random_choice", [view])
    assert not d.ENTROPY_BITS.applies_to("dialogue", [view])


def test_exact_kl_without_zeros() -> None:
    probs = np.array([0.1, 0.2, 0.3, 0.2])
    view = _view(None, OptionScores(tuple(OPTIONS), tuple(np.log(probs)), 0.2))
    q = probs / probs.sum()
    assert d.KL_TO_TARGET.score_set(view) == pytest.approx(float(np.sum(0.25 * np.log2(0.25 / q))))


def test_undefined_cases() -> None:
    all_invalid = _view([None, "x"])
    assert d.INVALID_RATE.score_set(all_invalid) == 1.0
    for metric in (d.ENTROPY_BITS, d.KL_TO_TARGET, d.TV_DISTANCE):
        with pytest.raises(Undefined, match="no valid answer"):
            metric.score_set(all_invalid)
    with pytest.raises(Undefined, match="target option"):
        d.CHI2_PVALUE.score_set(all_invalid)
    with pytest.raises(Undefined, match="too few for KL"):
        d.KL_TO_TARGET.score_set(_view(["1", "2", "3"]))  # 3 valid samples, 4 target options
    with pytest.raises(Undefined, match="options"):
        choice_distribution(SetView(Prompt("t", "p", ()), GenerationSet("t", "p", "h", (), (), 0, 0, 0.0), ()))
    with pytest.raises(Undefined, match="parsed"):
        d.ENTROPY_BITS.score_set(_view(None))


def test_details_hold_per_prompt_distributions() -> None:
    details = d.ENTROPY_BITS.details([_view(SAMPLED), _view(None)])
    entry = details["prompts"]["p"]
    assert "undefined" in entry  # the second view (same id) has no data
    good = d.ENTROPY_BITS.details([_view(SAMPLED)])["prompts"]["p"]
    assert good["options"] == OPTIONS and good["counts"] == [3, 2, 1, 0] and good["invalid"] == 0.25
    assert good["target"] == [0.25] * 4 and good["mode"] == "sampled"


def test_population_overrepresentation_and_kl() -> None:
    population = {"1": 50.0, "2": 30.0, "3": 15.0, "4": 5.0, "99": 100.0}
    view = _view(["4", "4", "4", "1"], population=population)
    rows = overrepresentation(view)
    assert rows[0][0] == "4"
    assert rows[0][1] == pytest.approx(0.75) and rows[0][2] == pytest.approx(5 / 200)
    assert rows[0][3] == pytest.approx(0.75 / (5 / 200))
    assert [r[0] for r in rows] == ["4", "1", "2", "3"]
    q = np.array([50, 30, 15, 5]) / 200  # population shares are over the whole population
    p = np.array([0.25, 0, 0, 0.75])
    expected = float(sum(x * math.log2(x / y) for x, y in zip(p, q, strict=True) if x > 0))
    assert d.KL_TO_POPULATION.score_set(view) == pytest.approx(expected)
    top = d.KL_TO_POPULATION.details([view])["prompts"]["p"]["overrepresented"][0]
    assert top["answer"] == "4" and top["ratio"] == pytest.approx(30.0)


def test_population_counts_answers_outside_the_options() -> None:
    population = {"1": 50.0, "2": 30.0, "3": 15.0, "4": 5.0, "Zed": 100.0}
    view = _view(["Zed", "Zed", "1", "Nobody"], population=population)  # "Nobody" has no frequency
    shares = {a: m for a, m, _, _ in overrepresentation(view)}
    assert shares["Zed"] == pytest.approx(2 / 3) and shares["1"] == pytest.approx(1 / 3)
    assert d.INVALID_RATE.score_set(view) == pytest.approx(3 / 4)  # outside the options = invalid
    expected = (2 / 3) * math.log2((2 / 3) / 0.5) + (1 / 3) * math.log2((1 / 3) / 0.25)
    assert d.KL_TO_POPULATION.score_set(view) == pytest.approx(expected)
    assert d.KL_TO_POPULATION.applies_to("random_choice", [view])
    assert not d.KL_TO_POPULATION.applies_to("random_choice", [_view(SAMPLED)])
    with pytest.raises(Undefined, match="population"):
        d.KL_TO_POPULATION.score_set(_view(SAMPLED))
