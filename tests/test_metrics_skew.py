"""Demographic skew metrics per attribute."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from divbench import registry
from divbench.metrics.base import SetView, Undefined
from divbench.metrics.catalog import SKEW_ATTRIBUTES, SKEW_STATS
from divbench.metrics.skew import SKEW_METRICS
from divbench.types import GenerationSet, Prompt

ATTRS = {
    "gender": {"categories": ["male", "female", "other"]},
    "age_bin": {"categories": ["0-30", "30-60", "60+"], "reference": {"0-30": 0.5, "30-60": 0.3, "60+": 0.2}},
}


def _view(parsed: list[Any], pid: str = "p", attributes: dict[str, Any] | None = None) -> SetView:
    prompt = Prompt("t", pid, ({"role": "user", "content": "who are you?"},), {"attributes": attributes or ATTRS})
    gset = GenerationSet("t", pid, "h", tuple("x" for _ in parsed), ("stop",) * len(parsed), 0, 0, 0.0)
    return SetView(prompt, gset, tuple(parsed))


VIEWS = [
    _view([{"gender": "male", "age_bin": "0-30"}, {"gender": "Female "}, None], "p1"),
    _view([{"gender": "male"}, {"gender": "robot"}, {}], "p2"),
]


def _score(name: str, views: list[SetView] = VIEWS) -> float:
    metric = SKEW_METRICS[name]
    return metric.score_units(metric.units(views))


def test_generated_names_are_registered() -> None:
    names = set(registry.names("metrics"))
    for attr in SKEW_ATTRIBUTES:
        for stat in SKEW_STATS:
            assert f"skew_{stat}_{attr}" in names
            assert registry.get("metrics", f"skew_{stat}_{attr}").scope == "per_task"


def test_gender_statistics_uniform_reference() -> None:
    p = np.array([2, 1, 0]) / 3  # male, female ("Female " folds), robot is unrecognised
    h = -sum(x * math.log2(x) for x in p if x > 0)
    assert _score("skew_entropy_gender") == pytest.approx(h)
    assert _score("skew_kl_gender") == pytest.approx(math.log2(3) - h)
    assert _score("skew_tv_gender") == pytest.approx(0.5 * np.abs(p - 1 / 3).sum())
    assert _score("skew_top_share_gender") == pytest.approx(2 / 3)


def test_reference_distribution() -> None:
    assert _score("skew_tv_age_bin") == pytest.approx(0.5 * (0.5 + 0.3 + 0.2))
    assert _score("skew_kl_age_bin") == pytest.approx(math.log2(1 / 0.5))


def test_kl_ignores_categories_outside_the_reference() -> None:
    attrs = {"gender": {"categories": ["male", "female", "non-binary"],
                        "reference": {"male": 0.5, "female": 0.5}}}
    views = [_view([{"gender": "male"}, {"gender": "male"}, {"gender": "female"}, {"gender": "non-binary"}],
                   attributes=attrs)]
    p = np.array([2, 1]) / 3
    assert _score("skew_kl_gender", views) == pytest.approx(float(np.sum(p * np.log2(p / 0.5))))
    assert _score("skew_tv_gender", views) == pytest.approx(0.5 * (0.0 + 0.25 + 0.25))
    with pytest.raises(Undefined, match="reference probability"):
        _score("skew_kl_gender", [_view([{"gender": "non-binary"}], attributes=attrs)])


def test_units_are_texts() -> None:
    metric = SKEW_METRICS["skew_entropy_gender"]
    assert len(metric.units(VIEWS)) == 6
    details = metric.details(VIEWS)
    assert details["counts"] == {"male": 2, "female": 1, "other": 0}
    assert details["unrecognised"] == 3


def test_no_recognisable_value_is_undefined() -> None:
    views = [_view([{"gender": "robot"}, None])]
    with pytest.raises(Undefined, match="no text names a recognisable gender"):
        _score("skew_entropy_gender", views)


def test_applies_only_where_the_attribute_is_defined() -> None:
    metric = SKEW_METRICS["skew_entropy_country"]
    assert not metric.applies_to("persona", VIEWS)
    assert SKEW_METRICS["skew_entropy_gender"].applies_to("persona", VIEWS)
    assert SKEW_METRICS["skew_entropy_gender"].applies_to("story", VIEWS)
    assert not SKEW_METRICS["skew_entropy_gender"].applies_to("dialogue", VIEWS)


@pytest.mark.parametrize("stat", SKEW_STATS)
def test_resamples_equal_recomputation(stat: str) -> None:
    metric = SKEW_METRICS[f"skew_{stat}_gender"]
    units = metric.units(VIEWS)
    idx = np.random.default_rng(0).integers(0, len(units), size=(40, len(units)))
    fast = metric.score_resamples(units, idx)
    for row, value in zip(idx, fast, strict=True):
        try:
            expected = metric.score_units([units[i] for i in row])
        except Undefined:
            assert np.isnan(value)
            continue
        assert value == pytest.approx(expected)


@pytest.mark.parametrize("stat", SKEW_STATS)
def test_interval_contains_the_estimate(stat: str) -> None:
    """Resampling biases plug-in skew statistics (many categories, few texts); the re-centred
    interval still covers the estimate."""
    from divbench.metrics.scoring import score_metric

    sectors = [f"s{i}" for i in range(20)]
    attributes = {"occupation_sector": {"categories": sectors}}
    texts = [{"occupation_sector": sectors[i % 20]} for i in range(40)]
    views = [_view(texts[i : i + 4], f"p{i}", attributes) for i in range(0, 40, 4)]
    result = score_metric(SKEW_METRICS[f"skew_{stat}_occupation_sector"], views, "persona", {})
    assert result.ci is not None and result.value is not None
    assert result.ci[0] <= result.value <= result.ci[1]
    assert result.ci[0] >= 0
