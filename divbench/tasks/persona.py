"""Persona / demographics: the model introduces itself as a person or invents a character.

Prompts were written for divbench (``data/persona_prompts.v1.jsonl``). The attributes read from each
reply (gender, age bin, country, occupation sector; see :mod:`divbench.tasks.demographics`) are
scored against ``meta["attributes"]``, as in PoExFT's demographic-bias test, but without LLM judges.
"""

from __future__ import annotations

from typing import Any

from divbench.tasks import demographics
from divbench.tasks._jsonl import packaged_jsonl
from divbench.tasks.base import Task
from divbench.types import Prompt, Sampling

DATA = "persona_prompts.v1.jsonl"


class PersonaTask(Task):
    """Self-introductions and invented characters; which demographics does the model default to?"""

    name = "persona"
    family = "persona"
    version = 1
    description = "Introduce yourself / invent a character; gender, age, country and occupation are parsed."
    default_sampling = Sampling(n=25, max_new_tokens=80)

    def load_prompts(self) -> list[Prompt]:
        attributes = demographics.attribute_meta()
        return [
            Prompt(self.name, rec["id"], ({"role": "user", "content": rec["prompt"]},),
                   {"kind": rec["kind"], "attributes": attributes})
            for rec in packaged_jsonl(DATA, ("id", "kind", "prompt"))
        ]

    def parse(self, text: str, prompt: Prompt) -> dict[str, Any]:
        """{"gender", "age_bin", "country", "occupation_sector"}, each present only when recognised."""
        return demographics.extract(text)
