import json

import pytest

from divbench.types import (
    SCHEMA_VERSION,
    GenerationSet,
    MetricResult,
    OptionScores,
    Prompt,
    RunRecord,
    Sampling,
    SchemaError,
    System,
    TaskResult,
)


def _record() -> RunRecord:
    metric = MetricResult("distinct_1", 1, "per_set", True, {"n": 1}, 0.5, (0.4, 0.6), 3, "metric:distinct_1@1")
    undefined = MetricResult("self_bleu", 1, "per_set", False, {}, None, None, 0, "sig", reason="one text")
    task = TaskResult("toy", "dialogue", 1, "abc", 3, 4, (metric, undefined), 12, 0.5)
    return RunRecord("r1", "2026-11-23T00:00:00+00:00", System("sys"), {"name": "quick"}, 0, (task,),
                     {"divbench": "0.1.0"}, {"sets": 3})


def test_records_round_trip_through_json():
    prompt = Prompt("t", "p1", ({"role": "user", "content": "hi"},), {"options": ["1", "2"]})
    scores = OptionScores(("1", "2"), (-0.5, -1.5), 0.17)
    gset = GenerationSet("t", "p1", "h", ("a", "b"), ("stop", "length"), 7, 3, 0.1, option_scores=scores, key="k")
    for obj in (prompt, Sampling(n=3, stop=("\n",)), System("s", adapter="a"), gset, _record()):
        again = type(obj).from_dict(json.loads(json.dumps(obj.to_dict())))
        assert again == obj


def test_run_record_carries_schema_version_and_refuses_newer():
    data = _record().to_dict()
    assert data["schema_version"] == SCHEMA_VERSION
    data["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(SchemaError, match="newer than this divbench"):
        RunRecord.from_dict(data)


def test_malformed_run_record_is_a_schema_error():
    data = _record().to_dict()
    del data["tasks"]
    with pytest.raises(SchemaError, match="malformed"):
        RunRecord.from_dict(data)


@pytest.mark.parametrize("bad", [{"n": 0}, {"temperature": -1.0}, {"top_p": 0.0}, {"max_new_tokens": 0}])
def test_sampling_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        Sampling(**bad)


def test_sampling_signature_changes_with_every_field():
    base = Sampling()
    variants = [Sampling(n=9), Sampling(temperature=0.7), Sampling(top_p=0.9), Sampling(top_k=5),
                Sampling(min_p=0.1), Sampling(max_new_tokens=9), Sampling(stop=("x",))]
    signatures = {base.signature(), *(v.signature() for v in variants)}
    assert len(signatures) == len(variants) + 1
