"""Keyed, append-only storage of GenerationSets, and JSONL helpers shared by the stages.

A set's key is a hash of (system fingerprint, rendered prompt, sampling, N, seed, scoring mode,
strategy), so a killed run resumes without regenerating and a re-run is a replay. Each set is one
JSON line, appended and flushed as soon as it exists; a torn last line (from a kill) is dropped on
read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from divbench.types import GenerationSet

CACHE_ENV = "DIVBENCH_CACHE"
STORE_ENV = "DIVBENCH_STORE"


def cache_dir() -> Path:
    """The user cache: ``$DIVBENCH_CACHE`` or ``~/.cache/divbench``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "divbench")


class StoreError(ValueError):
    """A generations file is unreadable (not a torn last line: a real malformation)."""


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each line; a torn *last* line is skipped, others raise."""
    with path.open("rb") as fh:
        lines = fh.read().split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            if number == len(lines):  # last line without newline: the write was cut off
                return
            raise StoreError(f"{path}:{number}: not valid JSON") from exc
        if not isinstance(obj, dict):
            raise StoreError(f"{path}:{number}: expected a JSON object")
        yield number, obj


def append_line(path: Path, obj: dict[str, Any]) -> None:
    """Append one JSON line and flush it to disk."""
    _repair_tail(path)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _repair_tail(path: Path) -> None:
    """Cut a torn last line (no trailing newline) so the next append starts clean."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return
        data = fh.seek(0) or fh.read()
        fh.truncate(data.rfind(b"\n") + 1)


def write_atomic(path: Path, text: str) -> None:
    """Write a whole file via a temp file and rename: readers never see half of it."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def set_line(gset: GenerationSet) -> dict[str, Any]:
    """A set as written to ``generations.jsonl``: only what the seed determines.

    Wall time and the run-local ``cached`` flag go to ``timings.jsonl`` instead (:func:`timing_line`),
    so the same system, suite and seed always give a byte-identical file.
    """
    data = gset.to_dict()
    del data["cached"], data["seconds"]
    return data


def timing_line(gset: GenerationSet) -> dict[str, Any]:
    """A set's cost as written to ``timings.jsonl``."""
    return {"task": gset.task, "prompt_id": gset.prompt_id, "tokens": gset.tokens, "seconds": gset.seconds,
            "cached": gset.cached}


class GenerationStore:
    """Sets of one system, keyed by :attr:`GenerationSet.key`, in one JSONL file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sets: dict[str, GenerationSet] = {}
        if path.exists():
            for _, obj in read_jsonl(path):
                gset = GenerationSet.from_dict(obj)
                self._sets[gset.key] = gset

    @classmethod
    def for_system(cls, fingerprint: str, root: Path | None = None) -> GenerationStore:
        """The store of one system: ``$DIVBENCH_STORE`` or ``<cache>/store``, one file per fingerprint."""
        folder = root or Path(os.environ.get(STORE_ENV) or cache_dir() / "store")
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder / f"{fingerprint[:32]}.jsonl")

    def __len__(self) -> int:
        return len(self._sets)

    def get(self, key: str) -> GenerationSet | None:
        return self._sets.get(key)

    def put(self, gset: GenerationSet) -> None:
        if not gset.key:
            raise ValueError("a stored set needs a key")
        line = gset.to_dict()
        del line["cached"]
        append_line(self.path, line)
        self._sets[gset.key] = gset
