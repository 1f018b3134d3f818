"""Self-BLEU equals nltk's sentence_bleu loop, on random and edge cases, for every smoothing method."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from divbench.metrics.base import SetView, Undefined
from divbench.metrics.selfbleu import SELF_BLEU, SMOOTHING, SelfBLEU, self_bleu, self_bleu_scores
from divbench.metrics.tokenize import tokenize_all
from divbench.types import GenerationSet, Prompt


def _view(texts: list[str]) -> SetView:
    prompt = Prompt("t", "p", ({"role": "user", "content": "q"},))
    return SetView(prompt, GenerationSet("t", "p", "h", tuple(texts), ("stop",) * len(texts), 0, 0, 0.0))


def nltk_scores(token_lists: list[list[str]], n: int = 4, method: str = "method1") -> np.ndarray | None:
    """The reference: nltk sentence_bleu of each text against the others (None where nltk raises)."""
    smooth = getattr(SmoothingFunction(), method)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, hyp in enumerate(token_lists):
            refs = [t for j, t in enumerate(token_lists) if j != i]
            try:
                out.append(sentence_bleu(refs, hyp, weights=(1 / n,) * n, smoothing_function=smooth))
            except (AssertionError, IndexError):
                return None
    return np.array(out, dtype=float)


def assert_matches_nltk(token_lists: list[list[str]], n: int, method: str) -> None:
    expected = nltk_scores(token_lists, n, method)
    if expected is None:
        with pytest.raises(Undefined):
            self_bleu_scores(token_lists, n, method)
        return
    got = self_bleu_scores(token_lists, n, method)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def _random_case(rng: random.Random) -> list[list[str]]:
    vocab = rng.choice([2, 3, 5, 30])
    docs = rng.choice([2, 2, 3, 4, 6, 9])
    lists = [[f"w{rng.randrange(vocab)}" for _ in range(rng.choice([0, 1, 1, 2, 3, 4, 6, 9, 15]))]
             for _ in range(docs)]
    if rng.random() < 0.3:
        lists.append(list(rng.choice(lists)))
    return lists


@pytest.mark.parametrize("method", SMOOTHING)
def test_random_cases_equal_nltk(method: str) -> None:
    rng = random.Random(SMOOTHING.index(method))
    for _ in range(120):
        assert_matches_nltk(_random_case(rng), rng.choice([1, 2, 3, 4, 5]), method)


EDGE_CASES = {
    "two texts": [["a", "b", "c"], ["a", "b", "d"]],
    "one-token texts": [["a"], ["a"], ["b"]],
    "empty texts": [[], ["a", "b"], [], ["a", "b", "c", "d"]],
    "all empty": [[], []],
    "duplicates": [["x", "y", "z", "w"], ["x", "y", "z", "w"], ["x", "y", "q"]],
    "no overlap": [["a", "b"], ["c", "d"]],
    "length ties": [["a", "b", "c"], ["a", "b"], ["a", "b", "c", "d"], ["b"]],
    "repeated tokens": [["a", "a", "a", "a", "a"], ["a", "a"], ["a", "a", "a"]],
    "long": [["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"] * 3,
             ["the", "lazy", "dog", "jumps", "over", "the", "quick", "brown", "fox"]],
}


@pytest.mark.parametrize("method", SMOOTHING)
@pytest.mark.parametrize("case", sorted(EDGE_CASES))
@pytest.mark.parametrize("n", [1, 2, 4])
def test_edge_cases_equal_nltk(case: str, method: str, n: int) -> None:
    assert_matches_nltk(EDGE_CASES[case], n, method)


def test_metric_on_real_text_equals_nltk_loop() -> None:
    texts = ["I love hiking in the mountains.", "I love hiking, it's great!", "Hiking? Not my thing.",
             "Do you like the mountains? I do.", ""]
    tokens = [list(t) for t in tokenize_all(texts, "nltk-word")]
    assert SELF_BLEU.score_set(_view(texts)) == pytest.approx(nltk_scores(tokens).mean(), abs=1e-9)
    assert SelfBLEU(tokenizer="whitespace").score_set(_view(texts)) == pytest.approx(
        nltk_scores([t.split() for t in texts]).mean(), abs=1e-9)


def test_one_text_is_undefined() -> None:
    with pytest.raises(Undefined):
        SELF_BLEU.score_set(_view(["just one"]))
    with pytest.raises(Undefined):
        self_bleu([["a"]])


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="smoothing"):
        SelfBLEU(smoothing="method9")
    with pytest.raises(ValueError, match="tokenizer"):
        SelfBLEU(tokenizer="nope")
    with pytest.raises(ValueError):
        SelfBLEU(n=0)


def test_params_and_direction() -> None:
    metric = SelfBLEU(n=3, smoothing="method2", tokenizer="whitespace")
    assert metric.params() == {"order": 3, "smooth": "method2", "tok": "whitespace", "lc": False}
    assert metric.higher_is_better is False
    assert "smooth:method2" in metric.signature({"n": 8})


tokens = st.sampled_from(["a", "b", "c", "d", "e"])
token_lists = st.lists(st.lists(tokens, max_size=8), min_size=2, max_size=7)


@settings(max_examples=150, deadline=None)
@given(token_lists, st.integers(1, 4), st.sampled_from(["method1", "method2", "method3", "method4", "method7"]))
def test_property_equals_nltk(lists: list[list[str]], n: int, method: str) -> None:
    assert_matches_nltk(lists, n, method)


@settings(max_examples=100, deadline=None)
@given(token_lists, st.randoms(use_true_random=False))
def test_property_order_invariant_and_bounded(lists: list[list[str]], rnd: random.Random) -> None:
    shuffled = list(lists)
    rnd.shuffle(shuffled)
    value = self_bleu(lists)
    assert 0.0 <= value <= 1.0
    assert self_bleu(shuffled) == pytest.approx(value, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.lists(tokens, min_size=4, max_size=12), st.integers(2, 6))
def test_property_identical_texts_score_one(text: list[str], copies: int) -> None:
    assert self_bleu([text] * copies) == pytest.approx(1.0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 10), min_size=2, max_size=6))
def test_property_disjoint_vocabularies_score_zero(lengths: list[int]) -> None:
    lists = [[f"t{i}_{k}" for k in range(length)] for i, length in enumerate(lengths)]
    assert self_bleu(lists) == pytest.approx(0.0, abs=1e-12)
