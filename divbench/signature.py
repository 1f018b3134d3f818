"""Stable hashes, comparability signatures and per-set seed derivation."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any


def stable_hash(obj: Any, length: int = 16) -> str:
    """A short sha256 of ``obj`` serialised as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def file_hash(paths: Iterable[str], length: int = 16) -> str:
    """sha256 over the bytes of several files, in the given order."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:length]


def derive_seed(run_seed: int, task_id: str, prompt_id: str) -> int:
    """The seed of one GenerationSet: independent of order, batching and ``--limit``."""
    digest = hashlib.sha256(f"{run_seed}\x00{task_id}\x00{prompt_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def signature(fields: dict[str, Any]) -> str:
    """A sacreBLEU-style signature: ``key:value|key:value`` in the given order."""
    return "|".join(f"{k}:{_fmt(v)}" for k, v in fields.items())


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(_fmt(v) for v in value)
    if value is None:
        return "none"
    return str(value)
