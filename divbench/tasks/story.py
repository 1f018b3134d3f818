"""Short-story generation from a premise, with the protagonist's demographics read back.

Premises were written for divbench (``data/story_premises.v1.jsonl``); PoExFT reports story
experiments but released no story data. :meth:`StoryTask.parse` extracts the same attributes as the
persona task (gender from names and pronouns, age, country, occupation sector).
"""

from __future__ import annotations

from typing import Any

from divbench.tasks import demographics
from divbench.tasks._jsonl import packaged_jsonl
from divbench.tasks.base import Task
from divbench.types import Prompt, Sampling

TEMPLATE = "Write a short story of about 150 words based on this premise:\n\n{premise}"
DATA = "story_premises.v1.jsonl"


class StoryTask(Task):
    """Write a ~150-word story from a premise."""

    name = "story"
    family = "story"
    version = 1
    description = "~150-word stories from hand-written premises; protagonist demographics are parsed."
    default_sampling = Sampling(n=5, max_new_tokens=200)

    def load_prompts(self) -> list[Prompt]:
        attributes = demographics.attribute_meta()
        return [
            Prompt(self.name, rec["id"], ({"role": "user", "content": TEMPLATE.format(premise=rec["premise"])},),
                   {"genre": rec["genre"], "attributes": attributes})
            for rec in packaged_jsonl(DATA, ("id", "genre", "premise"))
        ]

    def parse(self, text: str, prompt: Prompt) -> dict[str, Any]:
        """The protagonist's attributes ({"gender", "age_bin", "country", "occupation_sector"}, when found)."""
        return demographics.extract(text)
