import json

import pytest

from divbench.store import GenerationStore, StoreError, append_line, read_jsonl, set_line
from divbench.types import GenerationSet


def _set(key: str, texts=("a", "b")) -> GenerationSet:
    return GenerationSet("t", key, "h", tuple(texts), ("stop",) * len(texts), 1, 2, 0.1, key=key)


def test_put_then_reload_finds_sets(tmp_path):
    path = tmp_path / "s.jsonl"
    store = GenerationStore(path)
    store.put(_set("k1"))
    store.put(_set("k2", ("c",)))
    again = GenerationStore(path)
    assert len(again) == 2
    assert again.get("k2").texts == ("c",)
    assert again.get("missing") is None


def test_torn_last_line_is_dropped_and_next_append_is_clean(tmp_path):
    path = tmp_path / "s.jsonl"
    store = GenerationStore(path)
    store.put(_set("k1"))
    with path.open("a") as fh:  # what a SIGKILL mid-write leaves behind
        fh.write('{"task": "t", "prompt_id": "k2", "te')
    store = GenerationStore(path)
    assert len(store) == 1
    store.put(_set("k3"))
    assert [obj["key"] for _, obj in read_jsonl(path)] == ["k1", "k3"]


def test_malformed_middle_line_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"a": 1}\nnot json\n{"b": 2}\n')
    with pytest.raises(StoreError, match=r"s.jsonl:2"):
        list(read_jsonl(path))


def test_set_line_drops_the_run_local_cached_flag(tmp_path):
    line = set_line(_set("k1"))
    assert "cached" not in line
    append_line(tmp_path / "x.jsonl", line)
    assert json.loads((tmp_path / "x.jsonl").read_text())["key"] == "k1"
