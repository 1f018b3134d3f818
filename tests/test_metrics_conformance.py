"""Reproduce PoExFT's reference figures on its released outputs (shared/data, outside the repo)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from divbench.metrics.base import SetView
from divbench.metrics.distinct import POEXFT_DISTINCT_1, POEXFT_DISTINCT_2
from divbench.metrics.embedding import SEMANTIC_DIVERSITY, Embedder, set_embedder
from divbench.metrics.scoring import Bootstrap, score_task
from divbench.types import GenerationSet, Prompt

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "peft" / "reference_outputs" / "peft_mistral_out.jsonl"

pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"PoExFT reference outputs not found at {DATA}")


@pytest.fixture(scope="module")
def views() -> list[SetView]:
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    out = []
    for i, row in enumerate(rows):
        prompt = Prompt("poexft", str(i), ({"role": "user", "content": row["context"]},))
        preds = tuple(row["preds"])
        out.append(SetView(prompt, GenerationSet("poexft", str(i), "h", preds, ("stop",) * len(preds), 0, 0, 0.0)))
    return out


def test_poexft_distinct(views: list[SetView]) -> None:
    assert len(views) == 300 and all(len(v.texts) == 5 for v in views)
    assert POEXFT_DISTINCT_1.score_units(POEXFT_DISTINCT_1.units(views)) == pytest.approx(0.1352, abs=0.002)
    assert POEXFT_DISTINCT_2.score_units(POEXFT_DISTINCT_2.units(views)) == pytest.approx(0.5727, abs=0.002)


@pytest.mark.slow
def test_poexft_semantic_diversity(views: list[SetView]) -> None:
    import torch

    torch.set_num_threads(1)
    set_embedder(Embedder.default())
    try:
        (result,) = score_task(views, "dialogue", {"n": 5}, ["semantic_diversity"], Bootstrap(200))
    finally:
        set_embedder(None)
    assert result.name == SEMANTIC_DIVERSITY.name
    assert result.value == pytest.approx(0.4897, abs=0.002)
