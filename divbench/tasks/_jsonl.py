"""Reading the packaged JSONL prompt files."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import Any

from divbench.tasks.base import TaskError


def jsonl_objects(lines: Iterable[str], where: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(0-based line index, object) for every non-blank line; TaskError names ``where:line`` of a bad one."""
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise TaskError(f"{where}:{index + 1}: not valid JSON ({exc.msg})") from exc
        if not isinstance(rec, dict):
            raise TaskError(f"{where}:{index + 1}: expected a JSON object")
        yield index, rec


def packaged_jsonl(name: str, required: tuple[str, ...]) -> list[dict[str, Any]]:
    """Records of ``divbench/tasks/data/<name>``; TaskError names the line of a bad record."""
    text = resources.files("divbench.tasks").joinpath("data", name).read_text(encoding="utf-8")
    records = []
    for index, rec in jsonl_objects(text.splitlines(), name):
        missing = [k for k in required if not isinstance(rec.get(k), str)]
        if missing:
            raise TaskError(f"{name}:{index + 1}: missing string field(s) {missing}")
        records.append(rec)
    return records
