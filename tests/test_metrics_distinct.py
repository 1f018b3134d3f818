"""distinct-n (per set, per task, PoExFT variant) and the named tokenizers."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nltk.tokenize import word_tokenize

from divbench.metrics.base import SetView, Undefined
from divbench.metrics.distinct import (
    CORPUS_DISTINCT_1,
    CORPUS_DISTINCT_2,
    DISTINCT_1,
    DISTINCT_2,
    POEXFT_DISTINCT_1,
    POEXFT_DISTINCT_2,
    Distinct,
    distinct_resamples,
)
from divbench.metrics.tokenize import TOKENIZERS, check_tokenizer, tokenize
from divbench.types import GenerationSet, Prompt


def _view(texts: list[str], pid: str = "p") -> SetView:
    prompt = Prompt("t", pid, ({"role": "user", "content": "q"},))
    return SetView(prompt, GenerationSet("t", pid, "h", tuple(texts), ("stop",) * len(texts), 0, 0, 0.0))


def test_tokenizers() -> None:
    text = "Dr. Smith's cat can't swim. It is 3.50 dollars!"
    assert list(tokenize(text, "nltk-treebank")) == word_tokenize(text, preserve_line=True)
    assert tokenize(text, "whitespace") == tuple(text.split())
    word = tokenize(text, "nltk-word")
    assert "swim" in word and "." in word  # the sentence-final period inside the text is split off
    assert "swim." in tokenize(text, "nltk-treebank")
    assert tokenize("Hello World", "whitespace", lowercase=True) == ("hello", "world")
    assert set(TOKENIZERS) == {"nltk-word", "nltk-treebank", "whitespace"}
    with pytest.raises(ValueError, match="unknown tokenizer"):
        check_tokenizer("spacy")


def test_distinct_per_set() -> None:
    view = _view(["a b a", "a c"])  # unigrams a b a a c -> 3/5; bigrams ab ba ac -> 3/3
    assert DISTINCT_1.score_set(view) == pytest.approx(3 / 5)
    assert DISTINCT_2.score_set(view) == pytest.approx(1.0)
    assert Distinct(1, lowercase=False).score_set(_view(["A a"])) == 1.0
    assert Distinct(1).score_set(_view(["A a"])) == 0.5


def test_distinct_without_ngrams_is_undefined() -> None:
    with pytest.raises(Undefined):
        DISTINCT_2.score_set(_view(["one", ""]))


def test_corpus_distinct_pools_texts_of_all_sets() -> None:
    views = [_view(["a b", "a c"], "p1"), _view(["a b"], "p2")]
    units = CORPUS_DISTINCT_1.units(views)
    assert len(units) == 3
    assert CORPUS_DISTINCT_1.score_units(units) == pytest.approx(3 / 6)
    assert CORPUS_DISTINCT_2.score_units(CORPUS_DISTINCT_2.units(views)) == pytest.approx(2 / 3)
    assert CORPUS_DISTINCT_1.scope == "per_task"


def test_resamples_equal_recomputation() -> None:
    rng = random.Random(0)
    texts = [" ".join(rng.choice("abcdefgh") for _ in range(rng.randrange(0, 9))) for _ in range(40)]
    units = CORPUS_DISTINCT_2.units([_view(texts)])
    idx = np.random.default_rng(1).integers(0, len(units), size=(30, len(units)))
    fast = distinct_resamples(units, idx)
    for row, value in zip(idx, fast, strict=True):
        chosen = [units[i] for i in row]
        if sum(len(u) for u in chosen) == 0:
            assert np.isnan(value)
        else:
            assert value == pytest.approx(CORPUS_DISTINCT_2.score_units(chosen))


def test_poexft_rules() -> None:
    views = [_view(["Hello, world!", "Yes", "hello there , world"])]
    # "yes" (one token) contributes nothing; unigrams: hello world hello there world -> 3/5
    assert POEXFT_DISTINCT_1.score_units(POEXFT_DISTINCT_1.units(views)) == pytest.approx(3 / 5)
    # bigrams without punctuation: (hello there) only
    assert POEXFT_DISTINCT_2.score_units(POEXFT_DISTINCT_2.units(views)) == pytest.approx(1.0)
    assert POEXFT_DISTINCT_1.params()["variant"] == "poexft"


words = st.sampled_from(["a", "b", "c", "dog", "cat", "run"])
texts_st = st.lists(st.lists(words, min_size=2, max_size=8).map(" ".join), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(texts_st, st.randoms(use_true_random=False))
def test_property_bounds_and_order(texts: list[str], rnd: random.Random) -> None:
    shuffled = list(texts)
    rnd.shuffle(shuffled)
    for metric in (DISTINCT_1, DISTINCT_2):
        value = metric.score_set(_view(texts))
        assert 0 < value <= 1
        assert metric.score_set(_view(shuffled)) == pytest.approx(value)
