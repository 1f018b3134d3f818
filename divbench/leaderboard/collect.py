"""Find and read the run folders under a directory.

A run folder holds ``run.json`` (the scored RunRecord) and usually ``manifest.json`` and
``generations.jsonl``. A folder with a manifest but no ``run.json`` is unscored: it is skipped and
reported, not fatal. Errors name the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from divbench.runner import GENERATIONS, MANIFEST, RUN_RECORD, RunError
from divbench.store import StoreError, read_jsonl
from divbench.types import GenerationSet, RunRecord, SchemaError, check_schema


@dataclass(frozen=True)
class LoadedRun:
    """One scored run: its record, its manifest (may be empty) and where it lives."""

    key: str  # folder relative to the runs directory (posix), unique
    path: Path
    record: RunRecord
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def generations_path(self) -> Path:
        return self.path / GENERATIONS

    def sampling(self, task: str) -> dict[str, Any]:
        """The resolved sampling of ``task`` from the manifest ({} when unknown)."""
        for info in self.manifest.get("tasks", ()):
            if info.get("task") == task:
                return dict(info.get("sampling") or {})
        return {}

    def mode(self, task: str) -> str | None:
        """``exact`` or ``sampled`` from the manifest (None when unknown)."""
        for info in self.manifest.get("tasks", ()):
            if info.get("task") == task:
                return info.get("mode")
        return None

    def iter_sets(self) -> Iterator[GenerationSet]:
        """The run's GenerationSets in file order (nothing when there is no generations.jsonl)."""
        path = self.generations_path
        if not path.exists():
            return
        try:
            for _, obj in read_jsonl(path):
                yield GenerationSet.from_dict(obj)
        except (KeyError, TypeError) as exc:
            raise RunError(f"{path}: a line is not a generation set ({exc!r})") from exc


@dataclass(frozen=True)
class Collected:
    """The runs found, plus the folders skipped and why (sorted by folder)."""

    runs: tuple[LoadedRun, ...]
    skipped: tuple[tuple[str, str], ...]


def _rel(path: Path, root: Path) -> str:
    rel = path.relative_to(root).as_posix()
    return rel if rel != "." else path.name


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    except UnicodeDecodeError as exc:
        raise RunError(f"{path}: not UTF-8 text") from exc
    if not isinstance(data, dict):
        raise RunError(f"{path}: expected a JSON object ({what})")
    return data


def load_run_folder(folder: Path, root: Path) -> LoadedRun:
    """Read one scored run folder; every error names the file it comes from."""
    record_path = folder / RUN_RECORD
    data = _read_json(record_path, "a run record")
    try:
        record = RunRecord.from_dict(data)
    except SchemaError as exc:
        raise RunError(f"{record_path}: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RunError(f"{record_path}: run record is malformed ({exc!r})") from exc
    manifest: dict[str, Any] = {}
    manifest_path = folder / MANIFEST
    if manifest_path.exists():
        manifest = _read_json(manifest_path, "a run manifest")
        try:
            check_schema(manifest, "run manifest")
        except SchemaError as exc:
            raise RunError(f"{manifest_path}: {exc}") from exc
    return LoadedRun(_rel(folder, root), folder, record, manifest)


def _candidate_folders(root: Path) -> list[Path]:
    found = {p.parent for name in (RUN_RECORD, MANIFEST) for p in root.rglob(name)}
    visible = [f for f in found if not any(part.startswith(".") for part in f.relative_to(root).parts)]
    return sorted(visible, key=lambda f: f.relative_to(root).as_posix())


def collect_runs(runs_dir: Path) -> Collected:
    """Every scored run under ``runs_dir`` (searched recursively), sorted by folder.

    Raises RunError when ``runs_dir`` is missing or holds no scored run.
    """
    if not runs_dir.exists():
        raise RunError(f"runs folder '{runs_dir}' does not exist")
    if not runs_dir.is_dir():
        raise RunError(f"'{runs_dir}' is not a folder of runs")
    runs: list[LoadedRun] = []
    skipped: list[tuple[str, str]] = []
    for folder in _candidate_folders(runs_dir):
        if not (folder / RUN_RECORD).exists():
            skipped.append((_rel(folder, runs_dir), f"no {RUN_RECORD}: not scored yet"))
            continue
        try:
            runs.append(load_run_folder(folder, runs_dir))
        except StoreError as exc:
            raise RunError(str(exc)) from exc
    if not runs:
        extra = f" ({len(skipped)} unscored folder(s) skipped)" if skipped else ""
        raise RunError(f"no scored runs under '{runs_dir}' (looked for */{RUN_RECORD}){extra}")
    return Collected(tuple(runs), tuple(skipped))
