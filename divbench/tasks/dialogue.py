"""Open-domain dialogue response generation, as in PoExFT (Possibility Exploration Fine-Tuning).

The model reads a chit-chat context whose last utterance is Person A's and answers as Person B.
Built-in contexts were written for divbench (``data/dialogue_contexts.v1.jsonl``); ``data=PATH``
loads a file in the PoExFT format instead, one ``{"context": "turn\\nturn...", "candidates": [...]}``
per line (e.g. PoExFT's ``test_dialogs.jsonl``), whose candidates become ``meta["references"]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from divbench.tasks._jsonl import jsonl_objects
from divbench.tasks.base import Task, TaskError
from divbench.types import Prompt, Sampling

#: PoExFT's base-model prompt (prompt_generator.py), without the Mistral [INST] wrapper
TEMPLATE = (
    "Given this conversation:\n\n{context}\n\nImagine you are person B and act as if you were a real individual. "
    "Please write the next response for person B. Keep the response short with no more than 25 words."
)
BUILTIN = "dialogue_contexts.v1.jsonl"


def label_turns(turns: Sequence[str]) -> str:
    """Label utterances from the end backwards: the last is Person A's, the one before Person B's, ..."""
    n = len(turns)
    return "\n".join(f"Person {'A' if (n - 1 - i) % 2 == 0 else 'B'}: {turn}" for i, turn in enumerate(turns))


class DialogueTask(Task):
    """Reply as Person B to an open-domain chit-chat context."""

    name = "dialogue"
    family = "dialogue"
    version = 1
    description = "Chit-chat reply as Person B (PoExFT prompt); data=PATH reads PoExFT-format JSONL."
    default_sampling = Sampling(n=5, max_new_tokens=48)

    def __init__(self, data: str | Path | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.data = Path(data) if data is not None else None

    def load_prompts(self) -> list[Prompt]:
        if self.data is None:
            text = resources.files("divbench.tasks").joinpath("data", BUILTIN).read_text(encoding="utf-8")
            return [self._prompt(rec["id"], rec["turns"], None) for rec in _records(text.splitlines(), BUILTIN)]
        return self._load_file(self.data)

    def _load_file(self, path: Path) -> list[Prompt]:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise TaskError(f"dialogue data {path}: cannot read ({exc.__class__.__name__}: {exc})") from exc
        prompts = []
        for index, rec in enumerate(_records(lines, str(path))):
            turns = rec["turns"]
            prompts.append(self._prompt(str(rec.get("line", index)), turns, rec.get("candidates")))
        if not prompts:
            raise TaskError(f"dialogue data {path}: no dialogue contexts in the file")
        return prompts

    def _prompt(self, pid: str, turns: list[str], references: list[str] | None) -> Prompt:
        meta: dict[str, Any] = {"turns": turns}
        if references:
            meta["references"] = references
        content = TEMPLATE.format(context=label_turns(turns))
        return Prompt(self.name, pid, ({"role": "user", "content": content},), meta)


def _records(lines: Iterable[str], where: str) -> Iterable[dict[str, Any]]:
    """Validated records of a JSONL file; "line" is the 0-based line index. TaskError names file:line."""
    for index, rec in jsonl_objects(lines, where):
        yield {**rec, "line": str(index), "turns": _turns(rec, f"{where}:{index + 1}"),
               "candidates": _candidates(rec, f"{where}:{index + 1}")}


def _turns(rec: dict[str, Any], where: str) -> list[str]:
    raw = rec.get("turns", rec.get("context"))
    if isinstance(raw, str):
        raw = raw.split("\n")
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise TaskError(f"{where}: expected 'context' (a string of lines) or 'turns' (a list of strings)")
    turns = [t.strip() for t in raw if t.strip()]
    if not turns:
        raise TaskError(f"{where}: the dialogue context is empty")
    return turns


def _candidates(rec: dict[str, Any], where: str) -> list[str] | None:
    raw = rec.get("candidates")
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        raise TaskError(f"{where}: 'candidates' must be a list of strings")
    return [c.strip() for c in raw if c.strip()] or None
