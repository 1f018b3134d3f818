"""Random-choice tasks: the prompt families of "Forcing Diffuse Distributions out of Language Models".

Each prompt asks for one item "chosen completely at random" and names the reply format ``{item}``.
The requests and target lists are the upstream prompt files (MIT), shipped unchanged in
``data/diffuse/prompts``. Data contract for the metrics:

* ``meta["options"]``: canonical valid options (the targets without braces: "7", "Avery", "June 1");
* ``meta["weights"]``: target weights aligned with options (absent: uniform);
* ``meta["exhaustive"]``: whether the options are every valid answer (numbers, days, dates, countries)
  or a sample of an open set (names, fruits, occupations);
* ``meta["population"]`` (names only): {name: share of U.S. births}; :meth:`ChoiceNames.parse` then
  also returns recognised first names outside the options.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any, ClassVar

from divbench.tasks import demographics
from divbench.tasks._text import (
    MAX_PARSE_CHARS,
    PhraseTable,
    braced,
    fold,
    norm,
    number_words,
    ordinal_suffix,
    ordinal_words,
    plurals,
    tokens,
    words,
)
from divbench.tasks.base import Task, TaskError
from divbench.types import Prompt, Sampling

_CODE = re.compile(r"```|\bimport\s+\w|\bdef\s+\w+\(|\bprint\(|\brandom\.\w+\(|Math\.random|console\.log|#include")
SOURCE = "y0mingzhang/diffuse-distributions@7170ab056d790fb3f209a3f5cca2dffe59266996"


@cache
def _prompt_file(path: str) -> dict[str, Any]:
    res = resources.files("divbench.tasks").joinpath("data", "diffuse", "prompts", *path.split("/"))
    try:
        return json.loads(res.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TaskError(f"cannot read packaged prompt file {path}: {exc}") from exc


class RandomChoiceTask(Task):
    """One diffuse-distributions family: its prompt files become prompts, its targets options."""

    family = "random_choice"
    version = 2  # 2: stricter free-text fallback (echoes and ambiguous replies are invalid)
    default_sampling = Sampling(n=100, max_new_tokens=24)
    #: upstream prompt files, relative to ``data/diffuse/prompts``
    files: ClassVar[tuple[str, ...]] = ()
    exhaustive: ClassVar[bool] = True

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._tables: dict[tuple[str, ...], list[PhraseTable]] = {}

    def load_prompts(self) -> list[Prompt]:
        return [self._prompt(path) for path in self.files]

    def _prompt(self, path: str) -> Prompt:
        data = _prompt_file(path)
        options = [t.strip()[1:-1] for t in data["targets"]]
        meta: dict[str, Any] = {"options": options, "exhaustive": self.exhaustive, "source": f"{SOURCE}:prompts/{path}"}
        if data.get("weights"):
            meta["weights"] = [float(w) for w in data["weights"]]
        pid = path.rsplit("/", 1)[-1].removesuffix(".json")
        return Prompt(self.name, pid, ({"role": "user", "content": data["request"]},), meta)

    # --- parsing ----------------------------------------------------------------------------------

    def aliases(self, option: str) -> list[str]:
        """Other ways to write ``option`` that parse accepts (the canonical form is always accepted)."""
        return []

    def surface_aliases(self, option: str) -> list[str]:
        """Other complete replies counted as ``option`` in exact scoring (besides "{option}", "option")."""
        return []

    def tiers(self, options: Iterable[str]) -> list[PhraseTable]:
        """Phrase tables searched in order by the fallback; the first tier with a match wins."""
        table = PhraseTable()
        for option in options:
            table.add(option, option, overwrite=True)
        for option in options:
            table.add_all((alias, option) for alias in self.aliases(option))
        return [table]

    def _tiers_for(self, prompt: Prompt) -> list[PhraseTable]:
        key = tuple(prompt.meta["options"])
        if key not in self._tables:
            self._tables[key] = self.tiers(key)
        return self._tables[key]

    def prepare(self, text: str) -> str:
        """Text seen by the fallback search (numbers strip echoed ranges)."""
        return text

    def parse(self, text: str, prompt: Prompt) -> str | None:
        """The canonical option: a valid ``{braced}`` answer, else the whole reply, else the one option
        the reply mentions.

        The fallback is strict so that prose and junk are not read as answers: options the request
        itself names ("between 1 and 100") do not count, and a reply naming two different options is
        ambiguous (None). A reply that is code (the prompts say "Don't output code") only counts
        through its braces.
        """
        tiers = self._tiers_for(prompt)
        for content in (*braced(text), text.strip().strip("\"'*.!").strip()):
            hit = next((v for t in tiers if (v := t.lookup(content))), None)
            if hit:
                return hit
        if _CODE.search(text[:MAX_PARSE_CHARS]):
            return None
        toks = tokens(self.prepare(text))
        request = tokens(_request(prompt))
        for table in tiers:
            echoed = {value for _, _, value in table.finditer(request)}  # "between 1 and 100", "two braces"
            found = {value for _, _, value in table.finditer(toks)} - echoed
            if found:
                return found.pop() if len(found) == 1 else None
        return None

    def option_surfaces(self, prompt: Prompt) -> dict[str, list[str]]:
        """{option: ["{option}", "option", ...aliases]} — complete replies, distinct across options."""
        out: dict[str, list[str]] = {}
        for option in prompt.meta["options"]:
            forms = [option, *self.surface_aliases(option)]
            out[option] = list(dict.fromkeys(s for f in forms for s in (f"{{{f}}}", f)))
        return out


def _request(prompt: Prompt) -> str:
    """The user's words up to the format example ("{number}"), which is not something to echo."""
    return " ".join(str(m["content"]) for m in prompt.messages if m["role"] == "user").split("{", 1)[0]


# --- families -------------------------------------------------------------------------------------

_RANGE = re.compile(
    r"\d+(?:[.,]\d+)+"  # decimals and thousands
    r"|\b(?:between\s+\S+\s+and\s+\S+|from\s+\S+\s+to\s+\S+|\d+\s*(?:-|–|—|to|through)\s*\d+)",  # ranges
    re.IGNORECASE,
)


class ChoiceNumbers(RandomChoiceTask):
    """Integers; the fallback ignores echoed ranges ("between 1 and 10") and decimals."""

    name = "choice_numbers"
    description = "Random integers: 1-10, 1-100, even, odd and prime ranges (diffuse-distributions numbers)."
    files = tuple(f"numbers/{kind}-{i}.json" for kind in ("rng", "even", "odd", "prime") for i in (0, 1))

    def tiers(self, options: Iterable[str]) -> list[PhraseTable]:
        options = list(options)
        digits = PhraseTable().add_all((o, o) for o in options)
        spelled = PhraseTable().add_all((number_words(int(o)), o) for o in options if o.isdigit() and int(o) <= 100)
        return [digits, spelled]

    def prepare(self, text: str) -> str:
        return _RANGE.sub(" ", text[:4000])


class ChoiceNames(RandomChoiceTask):
    name = "choice_names"
    description = "A random English first name (diffuse-distributions baby names; SSA population shares)."
    files = ("baby-names/train.json",)
    exhaustive = False

    def _prompt(self, path: str) -> Prompt:
        prompt = super()._prompt(path)
        return Prompt(prompt.task, prompt.id, prompt.messages, {**prompt.meta, "population": demographics.population()})

    def parse(self, text: str, prompt: Prompt) -> str | None:
        """A target name, or any first name in the SSA tables; ``{braced}`` first, then capitalised words."""
        options = {fold(o): o for o in prompt.meta["options"]}
        known = _known_names()
        for content in braced(text):
            key = norm(content)
            if key in options or key in known:
                return options.get(key) or known[key]
        for word in words(text):
            key = fold(word)
            if not word[:1].isupper() or (word.isupper() and len(word) > 1):
                continue
            if key in options:
                return options[key]
            if key in known and word not in demographics.NAME_STOPWORDS:
                return known[key]
        return None


@cache
def _known_names() -> dict[str, str]:
    """Folded -> canonical spelling for every name in the shipped SSA tables."""
    names = {fold(n): n for n in demographics.population()}
    data = json.loads(
        resources.files("divbench.tasks").joinpath("data", "names", "first_name_gender.v1.json").read_text("utf-8")
    )
    for label in ("female", "male", "unisex"):
        names.update({fold(n): n for n in data[label] if fold(n) not in names})
    return names


_FRUIT_VARIANTS = {
    "Dragonfruit": ["Dragon Fruit", "Pitaya"], "Passion Fruit": ["Passionfruit"], "Goji Berry": ["Goji", "Gojiberry"],
    "Kiwi": ["Kiwifruit", "Kiwi Fruit"], "Lychee": ["Litchi", "Lichee"], "Carambola": ["Star Fruit", "Starfruit"],
    "Ugli Fruit": ["Ugli"], "Miracle Fruit": ["Miracle Berry"], "Sugar Apple": ["Sweetsop"],
    "Honeydew": ["Honeydew Melon"], "Cantaloupe": ["Cantaloup"], "Mandarin": ["Mandarin Orange"],
    "Jabuticaba": ["Jaboticaba"], "Jambolan": ["Jambul", "Java Plum"], "Tamarillo": ["Tree Tomato"],
    "Soursop": ["Guanabana"], "Salak": ["Snake Fruit"], "Red Currant": ["Redcurrant"],
    "White Currant": ["Whitecurrant"], "Vanilla Bean": ["Vanilla"],
}


class ChoiceFruits(RandomChoiceTask):
    name = "choice_fruits"
    description = "A random fruit (diffuse-distributions fruits; 81 targets, open set)."
    files = ("fruits/fruit-0.json", "fruits/fruit-1.json")
    exhaustive = False

    def aliases(self, option: str) -> list[str]:
        forms = [option, *_FRUIT_VARIANTS.get(option, [])]
        return [*forms[1:], *(f"{f.rpartition(' ')[0]} {p}".strip() for f in forms for p in plurals(_last(f)))]

    def surface_aliases(self, option: str) -> list[str]:
        return _FRUIT_VARIANTS.get(option, [])[:1]


def _last(phrase: str) -> str:
    return phrase.rpartition(" ")[2].lower()


_OCCUPATION_VARIANTS = {
    "Waiter/Waitress": ["Waiter", "Waitress"], "EMT/Paramedic": ["Paramedic", "EMT"],
    "Interpreter and Translator": ["Translator", "Interpreter", "Translator and Interpreter"],
    "Doctor": ["Medical Doctor"], "Cosmetologist": ["Beautician"], "Stockbroker": ["Stock Broker"],
    "Hair Stylist": ["Hairstylist", "Hairdresser"], "Cabinetmaker": ["Cabinet Maker"],
    "Firefighter": ["Fire Fighter"], "Zookeeper": ["Zoo Keeper"],
}


class ChoiceOccupations(RandomChoiceTask):
    name = "choice_occupations"
    description = "A random occupation, any or starting with A / M (diffuse-distributions occupations)."
    files = tuple(f"occupations/occupations-{i}.json" for i in range(3))
    exhaustive = False

    def aliases(self, option: str) -> list[str]:
        forms = [option, *_OCCUPATION_VARIANTS.get(option, [])]
        return [*forms[1:], *(f"{f.rpartition(' ')[0]} {p}".strip() for f in forms for p in plurals(_last(f)))]

    def surface_aliases(self, option: str) -> list[str]:
        return _OCCUPATION_VARIANTS.get(option, [])


class ChoiceCountries(RandomChoiceTask):
    name = "choice_countries"
    description = "A random country of a given continent (diffuse-distributions continent-countries)."
    files = tuple(f"continent-countries/{c}.json" for c in
                  ("africa", "asia", "europe", "north-america", "oceania", "south-america"))

    def aliases(self, option: str) -> list[str]:
        lex = demographics.countries()
        entry = lex.names.lookup(option)
        return [entry, *lex.aliases[entry]] if entry else []

    def surface_aliases(self, option: str) -> list[str]:
        return [a for a in self.aliases(option) if "." not in a]

    def tiers(self, options: Iterable[str]) -> list[PhraseTable]:
        """Options and their aliases; every other country name is a blocker (Papua New Guinea is not Guinea)."""
        tiers = super().tiers(options)
        lex = demographics.countries()
        others = ((n, None) for c in lex.canonical for n in (c, *lex.aliases[c]))
        tiers[0].add_all(others)
        tiers[0].add_all((b, None) for b in ("South America", "North America", "Central America", "Latin America"))
        return tiers


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class ChoiceDays(RandomChoiceTask):
    name = "choice_days"
    description = "A random day of the week (diffuse-distributions day-date)."
    files = ("day-date/day-0.json", "day-date/day-1.json")

    def aliases(self, option: str) -> list[str]:
        return [f"{option}s"] if option in _DAYS else []


class ChoiceDates(RandomChoiceTask):
    name = "choice_dates"
    description = "A random date in June or December (diffuse-distributions day-date)."
    files = tuple(f"day-date/{m}-{i}.json" for m in ("june", "december") for i in (0, 1))

    def aliases(self, option: str) -> list[str]:
        month, _, day = option.partition(" ")
        if not day.isdigit():
            return []
        d, short = int(day), month[:3]
        days = (str(d), ordinal_suffix(d), ordinal_words(d))
        return [*(f"{m} {x}" for m in (month, short) for x in days[1:]), f"{short} {d}",
                *(f"{x} {m}" for m in (month, short) for x in days), *(f"{x} of {month}" for x in days[1:]),
                *(f"{month} the {x}" for x in days[1:])]

    def surface_aliases(self, option: str) -> list[str]:
        month, _, day = option.partition(" ")
        return [f"{month} {ordinal_suffix(int(day))}"] if day.isdigit() else []


RANDOM_CHOICE_TASKS: tuple[type[RandomChoiceTask], ...] = (
    ChoiceNumbers, ChoiceNames, ChoiceFruits, ChoiceOccupations, ChoiceCountries, ChoiceDays, ChoiceDates,
)


def splits() -> dict[str, Any]:
    """The leave-one-out / leave-one-in / rng-transfer splits over these tasks (``random_choice_splits.v1.json``)."""
    res = resources.files("divbench.tasks").joinpath("data", "random_choice_splits.v1.json")
    return json.loads(res.read_text(encoding="utf-8"))
