"""The fake-backend smoke run must reproduce the committed golden run.json (schema v1).

A metric or task change that moves a number needs a version bump and a golden update:
``DIVBENCH_UPDATE_GOLDEN=1 pytest tests/test_golden.py``.
"""

import json
import math
import os
from pathlib import Path

from divbench.models.fake import FakeBackend
from divbench.runner import generate, score_run
from divbench.suite import Suite, TaskEntry
from divbench.types import RunRecord, System

GOLDEN = Path(__file__).parent / "data" / "golden" / "smoke_run_v1.json"
VOLATILE = ("created", "versions")


def _smoke_record(tmp_path) -> dict:
    suite = Suite("smoke", (TaskEntry("toy_text"), TaskEntry("toy_choice", scoring="sampled")))
    run_dir = tmp_path / "smoke"
    generate(System("fake", backend="fake", model="fake:diverse"), suite, 0, FakeBackend("diverse"), run_dir)
    data = score_run(run_dir).to_dict()
    for key in VOLATILE:
        data.pop(key)
    data["cost"].pop("seconds")
    for task in data["tasks"]:
        task.pop("seconds")
    return data


def _assert_close(new, old, where="run") -> None:
    if isinstance(old, float) or isinstance(new, float):
        assert math.isclose(new, old, rel_tol=1e-9, abs_tol=1e-9), f"{where}: {new} != {old}"
    elif isinstance(old, dict):
        assert new.keys() == old.keys(), f"{where}: keys {sorted(new)} != {sorted(old)}"
        for key in old:
            _assert_close(new[key], old[key], f"{where}.{key}")
    elif isinstance(old, list):
        assert len(new) == len(old), f"{where}: length {len(new)} != {len(old)}"
        for index, (a, b) in enumerate(zip(new, old, strict=True)):
            _assert_close(a, b, f"{where}[{index}]")
    else:
        assert new == old, f"{where}: {new!r} != {old!r}"


def test_smoke_run_matches_golden(tmp_path):
    record = json.loads(json.dumps(_smoke_record(tmp_path)))
    if os.environ.get("DIVBENCH_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    _assert_close(record, json.loads(GOLDEN.read_text()))


def test_golden_file_reads_as_a_v1_run_record():
    data = json.loads(GOLDEN.read_text())
    data.update(created="2026-01-01T00:00:00+00:00", versions={})
    record = RunRecord.from_dict(data)
    assert record.schema_version == 1
    assert {t.task for t in record.tasks} == {"toy_text", "toy_choice"}
