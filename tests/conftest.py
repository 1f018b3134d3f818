"""Shared test set-up: offline, one torch thread, toy tasks registered."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from divbench import registry

registry.register("tasks", "toy_text", "tests.toy_tasks:ToyTextTask")
registry.register("tasks", "toy_choice", "tests.toy_tasks:ToyChoiceTask")


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty DIVBENCH_CACHE for tests that touch the generation store."""
    path = tmp_path / "cache"
    monkeypatch.setenv("DIVBENCH_CACHE", str(path))
    return path


@pytest.fixture(autouse=True)
def _fake_embedder(request):
    """Unit tests embed with hashed bag-of-words vectors; tests marked slow use the real MiniLM."""
    from divbench.metrics import embedding

    if request.node.get_closest_marker("slow"):
        yield
        return
    embedding.set_embedder(embedding.Embedder.hashing())
    yield
    embedding.set_embedder(None)
