"""Named word tokenizers that need no downloaded nltk data.

* ``whitespace`` — ``str.split()``.
* ``nltk-treebank`` — nltk's improved Treebank tokenizer on the whole text, exactly
  ``nltk.word_tokenize(text, preserve_line=True)``.
* ``nltk-word`` — sentences split by an *untrained* Punkt tokenizer (bundled, no data), then the
  Treebank tokenizer per sentence: ``nltk.word_tokenize`` without its ``punkt_tab`` download. It
  separates sentence-final periods inside a text, which ``nltk-treebank`` leaves attached.

Tokenizations are cached per (tokenizer, text), so several metrics over the same texts tokenize once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import cache, lru_cache

TOKENIZERS: tuple[str, ...] = ("nltk-word", "nltk-treebank", "whitespace")
DEFAULT_TOKENIZER = "nltk-word"

Tokens = tuple[str, ...]


@cache
def _treebank() -> Callable[[str], list[str]]:
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer().tokenize


@cache
def _sentences() -> Callable[[str], list[str]]:
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    return PunktSentenceTokenizer().tokenize


def _nltk_word(text: str) -> list[str]:
    words = _treebank()
    return [tok for sent in _sentences()(text) for tok in words(sent)]


def _nltk_treebank(text: str) -> list[str]:
    return _treebank()(text)


_FUNCS: dict[str, Callable[[str], list[str]]] = {
    "whitespace": str.split,
    "nltk-treebank": _nltk_treebank,
    "nltk-word": _nltk_word,
}


def check_tokenizer(name: str) -> str:
    """Return ``name`` if it is a known tokenizer, else raise ValueError listing the known ones."""
    if name not in _FUNCS:
        raise ValueError(f"unknown tokenizer {name!r}; known: {', '.join(TOKENIZERS)}")
    return name


@lru_cache(maxsize=1 << 17)
def tokenize(text: str, tokenizer: str = DEFAULT_TOKENIZER, lowercase: bool = False) -> Tokens:
    """The tokens of ``text`` (cached)."""
    tokens = _FUNCS[check_tokenizer(tokenizer)](text)
    return tuple(t.lower() for t in tokens) if lowercase else tuple(tokens)


def tokenize_all(texts: Iterable[str], tokenizer: str = DEFAULT_TOKENIZER, lowercase: bool = False) -> list[Tokens]:
    """Tokenize many texts (each one cached)."""
    return [tokenize(t, tokenizer, lowercase) for t in texts]


def ngrams(tokens: Sequence[str], n: int) -> list[Tokens]:
    """The contiguous n-grams of ``tokens`` (empty if shorter than ``n``)."""
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
