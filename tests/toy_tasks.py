"""Two tiny tasks for runner tests: free text and an enumerable random choice."""

from __future__ import annotations

import re

from divbench.tasks.base import Task
from divbench.types import Prompt, Sampling


class ToyTextTask(Task):
    name = "toy_text"
    family = "dialogue"
    description = "six free-text prompts"
    default_sampling = Sampling(n=4, max_new_tokens=16)

    def load_prompts(self) -> list[Prompt]:
        return [Prompt(self.name, f"p{i}", ({"role": "user", "content": f"Say something about topic {i}."},))
                for i in range(6)]


class ToyChoiceTask(Task):
    name = "toy_choice"
    family = "random_choice"
    description = "pick a number from 1 to 4"
    default_sampling = Sampling(n=20, max_new_tokens=8)
    options = ("1", "2", "3", "4")

    def load_prompts(self) -> list[Prompt]:
        text = "Pick a random number from 1 to 4. Answer like {number}."
        return [Prompt(self.name, "pick4", ({"role": "user", "content": text},), {"options": list(self.options)})]

    def parse(self, text: str, prompt: Prompt) -> str | None:
        match = re.search(r"\{\s*(\d+)\s*\}", text)
        return match.group(1) if match and match.group(1) in self.options else None

    def option_surfaces(self, prompt: Prompt) -> dict[str, list[str]]:
        return {o: ["{" + o + "}", o] for o in self.options}
