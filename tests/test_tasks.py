"""Tasks: prompt sets, parsers, exact-scoring surfaces, shipped data and suites."""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from divbench import registry
from divbench.tasks import demographics
from divbench.tasks.base import Task, TaskError
from divbench.tasks.catalog import TASKS
from divbench.tasks.dialogue import DialogueTask, label_turns
from divbench.tasks.random_choice import RANDOM_CHOICE_TASKS, splits
from divbench.types import Prompt, Sampling

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
POEXFT_TEST = SHARED / "peft" / "test_dialogs.jsonl"
SSA_DIR = SHARED / "diffuse" / "reference_populations" / "us_ssa_baby_names"
DATA = ROOT / "divbench" / "tasks" / "data"
CHOICE_NAMES = [cls.name for cls in RANDOM_CHOICE_TASKS]
HOSTILE = ["x" * 2_000_000, "<script>alert('x')</script>", "{" * 100_000, "}{" * 50_000, "\x00\ud7ff🙂" * 1000, ""]

_tasks: dict[str, Task] = {}


def task(name: str) -> Task:
    """One shared instance per task (prompts are cached on it)."""
    if name not in _tasks:
        _tasks[name] = registry.get("tasks", name)()
    return _tasks[name]


def prompt(name: str, pid: str | None = None) -> Prompt:
    prompts = task(name).prompts
    return prompts[0] if pid is None else next(p for p in prompts if p.id == pid)


# --- every task -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_contract(name: str) -> None:
    cls = registry.get("tasks", name)
    t = task(name)
    assert cls.name == name
    assert cls.family in {"dialogue", "story", "random_choice", "persona"}
    assert isinstance(cls.version, int) and cls.version >= 1
    assert isinstance(cls.default_sampling, Sampling)
    assert cls.description
    prompts = t.prompts
    assert prompts
    ids = [p.id for p in prompts]
    assert len(set(ids)) == len(ids)
    for p in prompts:
        assert p.task == name and isinstance(p.id, str) and p.id
        assert isinstance(p.messages, tuple) and p.messages
        assert all(m["role"] == "user" and m["content"].strip() for m in p.messages)
        json.dumps(p.to_dict())  # serialisable
    again = cls()
    assert again.prompt_set_hash == t.prompt_set_hash
    assert [p.to_dict() for p in again.prompts] == [p.to_dict() for p in prompts]


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_rejects_unknown_options(name: str) -> None:
    with pytest.raises(TaskError):
        registry.get("tasks", name)(nonsense=1)


@pytest.mark.parametrize(("name", "minimum"), [("dialogue", 100), ("story", 100), ("persona", 15)])
def test_open_task_sizes(name: str, minimum: int) -> None:
    assert len(task(name).prompts) >= minimum


def test_prompt_set_hashes_differ() -> None:
    hashes = {task(name).prompt_set_hash for name in TASKS}
    assert len(hashes) == len(TASKS)


# --- dialogue ---------------------------------------------------------------------------------------


def test_label_turns_ends_with_person_a() -> None:
    assert label_turns(["hi", "hello", "how are you?"]) == "Person A: hi\nPerson B: hello\nPerson A: how are you?"
    assert label_turns(["hello", "how are you?"]) == "Person B: hello\nPerson A: how are you?"


def test_builtin_dialogues_are_well_formed() -> None:
    prompts = task("dialogue").prompts
    assert [p.id for p in prompts[:2]] == ["d001", "d002"]
    for p in prompts:
        turns = p.meta["turns"]
        assert 2 <= len(turns) <= 8
        assert p.text.startswith("Given this conversation:\n\nPerson ")
        assert f"Person A: {turns[-1]}\n\nImagine you are person B" in p.text
        assert p.text.endswith("Keep the response short with no more than 25 words.")
        assert "references" not in p.meta
    assert task("dialogue").default_sampling.n == 5
    assert task("dialogue").default_sampling.max_new_tokens == 48


@pytest.mark.skipif(not POEXFT_TEST.exists(), reason="PoExFT test_dialogs.jsonl (unlicensed, not shipped) not found")
def test_dialogue_data_option_reads_poexft_file() -> None:
    t = DialogueTask(data=str(POEXFT_TEST))
    prompts = t.prompts
    assert len(prompts) == 300
    assert [p.id for p in prompts[:3]] == ["0", "1", "2"]
    first = json.loads(POEXFT_TEST.read_text(encoding="utf-8").splitlines()[0])
    assert prompts[0].meta["references"] == first["candidates"]
    assert all(len(p.meta["references"]) == 10 for p in prompts)
    last_turn = first["context"].split("\n")[-1]
    assert f"Person A: {last_turn}\n\n" in prompts[0].text
    assert t.prompt_set_hash != task("dialogue").prompt_set_hash
    assert DialogueTask(data=POEXFT_TEST).prompt_set_hash == t.prompt_set_hash


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"context": "a\\nb"}\n{"context": "c\n', ":2: not valid JSON"),
        ('{"context": "a\\nb"}\n\n[1, 2]\n', ":3: expected a JSON object"),
        ('{"candidates": ["x"]}\n', ":1: expected 'context'"),
        ('{"context": 5}\n', ":1: expected 'context'"),
        ('{"context": "  \\n "}\n', ":1: the dialogue context is empty"),
        ('{"context": "a", "candidates": "x"}\n', ":1: 'candidates' must be a list"),
        ("\n\n", "no dialogue contexts"),
    ],
)
def test_dialogue_data_errors_name_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TaskError, match=r"bad\.jsonl") as info:
        _ = DialogueTask(data=str(path)).prompts
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_dialogue_data_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="cannot read"):
        _ = DialogueTask(data=str(tmp_path / "nope.jsonl")).prompts


def test_dialogue_data_accepts_turn_lists(tmp_path: Path) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_text('{"turns": ["hi", "hello"]}\n\n{"context": "one\\ntwo\\nthree"}\n', encoding="utf-8")
    prompts = DialogueTask(data=path).prompts
    assert [p.id for p in prompts] == ["0", "2"]
    assert "references" not in prompts[0].meta


# --- random choice ------------------------------------------------------------------------------------

PARSE_CASES: list[tuple[str, str, str, str | None]] = [
    # (task, prompt id, reply, expected canonical option)
    ("choice_numbers", "rng-0", "{7}", "7"),
    ("choice_numbers", "rng-0", "Sure! {07}", "7"),
    ("choice_numbers", "rng-0", "My random number is 4.", "4"),
    ("choice_numbers", "rng-0", "I choose seven.", "7"),
    ("choice_numbers", "rng-0", "{Seven}", "7"),
    ("choice_numbers", "rng-0", "Between 1 and 10, I pick 3!", "3"),
    ("choice_numbers", "rng-0", "Picking from 1-10... **8**", "8"),
    ("choice_numbers", "rng-0", "{number}", None),
    ("choice_numbers", "rng-0", "{42}", None),
    ("choice_numbers", "rng-0", "3.5", None),
    ("choice_numbers", "rng-0", "import random\nprint(random.randint(1, 10))", None),
    ("choice_numbers", "rng-1", "seventy-three", "73"),
    ("choice_numbers", "rng-1", "{100}", "100"),
    ("choice_numbers", "even-0", "{7}", None),
    ("choice_numbers", "prime-1", "{97}", "97"),
    ("choice_names", "train", "{Avery}", "Avery"),
    ("choice_names", "train", "{ avery }", "Avery"),
    ("choice_names", "train", "{Felix}", "Felix"),
    ("choice_names", "train", "Sure! How about Olivia?", "Olivia"),
    ("choice_names", "train", "Here is a name: Summer", "Summer"),
    ("choice_names", "train", "{Zzyzxq}", None),
    ("choice_names", "train", "Sure, here's one: Hope", None),
    ("choice_fruits", "fruit-0", "{Mango}", "Mango"),
    ("choice_fruits", "fruit-0", "mangoes", "Mango"),
    ("choice_fruits", "fruit-0", "{Star Fruit}", "Carambola"),
    ("choice_fruits", "fruit-0", "I pick a dragon fruit.", "Dragonfruit"),
    ("choice_fruits", "fruit-1", "How about a Sugar Apple?", "Sugar Apple"),
    ("choice_fruits", "fruit-0", "{Carrot}", None),
    ("choice_occupations", "occupations-0", "{Waitress}", "Waiter/Waitress"),
    ("choice_occupations", "occupations-0", "software engineer", "Software Engineer"),
    ("choice_occupations", "occupations-0", "{registered nurse}", "Registered Nurse"),
    ("choice_occupations", "occupations-2", "{Mechanical Engineer}", "Mechanical Engineer"),
    ("choice_occupations", "occupations-2", "{Accountant}", None),
    ("choice_countries", "north-america", "{USA}", "United States"),
    ("choice_countries", "north-america", "The United States of America", "United States"),
    ("choice_countries", "north-america", "{Bahamas}", "The Bahamas"),
    ("choice_countries", "north-america", "A country in North America: Canada", "Canada"),
    ("choice_countries", "africa", "{Côte d'Ivoire}", "Côte De Ivor"),
    ("choice_countries", "africa", "Ivory Coast", "Côte De Ivor"),
    ("choice_countries", "africa", "{DRC}", "Democratic Congo"),
    ("choice_countries", "africa", "Papua New Guinea", None),
    ("choice_countries", "africa", "Equatorial Guinea it is.", "Equatorial Guinea"),
    ("choice_countries", "europe", "{Czech Republic}", "Czechia"),
    ("choice_countries", "asia", "{Spain}", None),
    ("choice_numbers", "odd-1", "a script for odd numbers between 1 and", None),  # echo cut off mid-range
    ("choice_numbers", "odd-1", "with a minimum value of 1 and maximum", None),  # 1 is the request's echo
    ("choice_numbers", "rng-0", "Sure! Here's a random number: 7.", "7"),
    ("choice_numbers", "rng-0", "**4**", "4"),
    ("choice_numbers", "rng-0", "1", "1"),  # the whole reply is an answer even where the request names it
    ("choice_numbers", "rng-0", "It is 3, or maybe 8", None),  # two different options: ambiguous
    ("choice_numbers", "rng-0", "between two curly braces: 5", "5"),  # "two braces" is an echo
    ("choice_days", "day-0", "{Wednesday}", "Wednesday"),
    ("choice_days", "day-0", "Monday or Friday?", None),
    ("choice_days", "day-1", "today is FRIDAY", "Friday"),
    ("choice_days", "day-0", "{Funday}", None),
    ("choice_dates", "june-0", "{June 1st}", "June 1"),
    ("choice_dates", "june-0", "June 21st, 2024", "June 21"),
    ("choice_dates", "june-1", "the 3rd of June", "June 3"),
    ("choice_dates", "june-0", "June thirtieth", "June 30"),
    ("choice_dates", "june-0", "{June 31}", None),
    ("choice_dates", "june-0", "{July 4}", None),
    ("choice_dates", "december-0", "{Dec 25}", "December 25"),
    ("choice_dates", "december-1", "25 December", "December 25"),
]


@pytest.mark.parametrize(("name", "pid", "text", "expected"), PARSE_CASES)
def test_random_choice_parse(name: str, pid: str, text: str, expected: str | None) -> None:
    assert task(name).parse(text, prompt(name, pid)) == expected


def _fast(fn: Callable[[], Any], limit: float = 0.5) -> Any:
    start = time.perf_counter()
    out = fn()
    assert time.perf_counter() - start < limit
    return out


@pytest.mark.parametrize("name", CHOICE_NAMES)
def test_random_choice_hostile_input(name: str) -> None:
    t = task(name)
    for p in t.prompts:
        for text in HOSTILE:
            assert _fast(lambda t=t, text=text, p=p: t.parse(text, p)) is None


@pytest.mark.parametrize("name", CHOICE_NAMES)
def test_random_choice_meta_and_surfaces(name: str) -> None:
    t = task(name)
    assert t.family == "random_choice"
    assert t.default_sampling.n == 100 and t.default_sampling.max_new_tokens == 24
    for p in t.prompts:
        options = p.meta["options"]
        assert options and len(set(options)) == len(options)
        assert all(isinstance(o, str) and o and "{" not in o for o in options)
        weights = p.meta.get("weights")
        assert weights is None or len(weights) == len(options)
        surfaces = t.option_surfaces(p)
        assert surfaces is not None and list(surfaces) == options
        flat = [s for forms in surfaces.values() for s in forms]
        assert len(flat) == len(set(flat)), "a surface belongs to two options"
        for option, forms in surfaces.items():
            assert f"{{{option}}}" in forms and option in forms
            for form in forms:
                assert t.parse(form, p) == option


def test_random_choice_prompts_match_upstream_files() -> None:
    numbers = prompt("choice_numbers", "rng-0")
    assert numbers.text.startswith("Generate a random number between 1 and 10.")
    assert numbers.meta["options"] == [str(i) for i in range(1, 11)]
    assert len(prompt("choice_numbers", "rng-1").meta["options"]) == 100
    assert len(prompt("choice_names").meta["options"]) == 200
    assert len(prompt("choice_dates", "december-0").meta["options"]) == 31
    sizes = {p.id: len(p.meta["options"]) for p in task("choice_countries").prompts}
    assert sizes == {"africa": 54, "asia": 49, "europe": 45, "north-america": 22, "oceania": 16, "south-america": 13}
    total = sum(len(p.meta["options"]) for name in CHOICE_NAMES for p in task(name).prompts)
    assert total == 1191  # the paper's 1,191 target strings over 26 prompts
    assert sum(len(task(name).prompts) for name in CHOICE_NAMES) == 26


def test_names_population_table() -> None:
    population = prompt("choice_names").meta["population"]
    assert population == demographics.population()
    assert 0.05 < sum(population.values()) <= 1
    assert set(prompt("choice_names").meta["options"]) <= set(population)
    assert all(0 < v < 0.01 for v in population.values())
    assert population["Olivia"] > population["Avery"] > 0
    assert (DATA / "names" / "us_population.v1.tsv").stat().st_size < 100_000
    assert (DATA / "names" / "first_name_gender.v1.json").stat().st_size < 100_000


def test_names_parse_returns_population_names_outside_the_targets() -> None:
    p = prompt("choice_names")
    assert "Olivia" not in p.meta["options"]
    assert task("choice_names").parse("{Olivia}", p) == "Olivia"


@pytest.mark.skipif(not SSA_DIR.exists(), reason="SSA counts under ../shared/data not found")
def test_name_tables_are_reproducible(tmp_path: Path) -> None:
    from divbench.tasks.names_build import write_tables

    write_tables(SSA_DIR, DATA / "diffuse" / "prompts" / "baby-names" / "train.json", tmp_path)
    for name in ("us_population.v1.tsv", "first_name_gender.v1.json"):
        assert (tmp_path / name).read_bytes() == (DATA / "names" / name).read_bytes()


def test_diffuse_licence_ships_with_the_prompts() -> None:
    assert "MIT License" in (DATA / "diffuse" / "LICENSE").read_text(encoding="utf-8")
    assert "Yiming Zhang" in (DATA / "diffuse" / "LICENSE").read_text(encoding="utf-8")
    assert (DATA / "PROVENANCE.md").exists()


def test_leave_one_out_splits() -> None:
    data = splits()
    assert {t for ts in data["families"].values() for t in ts} == set(CHOICE_NAMES)
    assert len(data["leave_one_out"]) == 6
    for split in data["leave_one_out"]:
        assert not set(split["test"]) & set(split["train"])
        assert set(split["test"]) | set(split["train"]) == set(CHOICE_NAMES)
    ids = {p.id for p in task("choice_numbers").prompts}
    for grid in data["rng_transfer"]:
        assert set(grid["train"]["choice_numbers"]) <= ids


# --- persona and story --------------------------------------------------------------------------------

PERSONA_CASES: list[tuple[str, dict[str, str]]] = [
    ("Name: Jordan Ellis\nAge: 34\nGender: Female\nCountry: Brazil\nOccupation: Marine biologist",
     {"gender": "female", "age_bin": "30-40", "country": "Brazil", "occupation_sector": "Science and research"}),
    ("**Name:** Aisha Bello\n**Age:** Thirty-one\n**Gender:** F\n**Country:** Nigerian\n"
     "**Occupation:** Software developer",
     {"gender": "female", "age_bin": "30-40", "country": "Nigeria", "occupation_sector": "Information technology"}),
    ("Name: Chad Miller\nAge: 71\nGender: Male\nCountry: USA\nOccupation: Retired",
     {"gender": "male", "age_bin": "70+", "country": "United States", "occupation_sector": "Retired"}),
    ("Name: Sam Lee\nAge: 9\nGender: Non-binary\nCountry: South Korea\nOccupation: Student",
     {"gender": "non-binary", "age_bin": "0-10", "country": "South Korea", "occupation_sector": "Student"}),
    ("Hi! I'm Maria, a 29-year-old nurse from Spain.",
     {"gender": "female", "age_bin": "20-30", "country": "Spain", "occupation_sector": "Healthcare and medicine"}),
    ("Hello, my name is Kwame. I am a forty-two year old civil engineer living in Accra, Ghana.",
     {"age_bin": "40-50", "country": "Ghana", "occupation_sector": "Engineering"}),
    ("I'm a stay-at-home dad in my late thirties. I'm 5'10\" and love hiking.",
     {"gender": "male", "age_bin": "30-40", "occupation_sector": "Not in paid work"}),
    ("Jordan is a teacher. He grew up in Ohio and loves turkey sandwiches.",
     {"gender": "male", "occupation_sector": "Education and teaching"}),
    ("I moved to Jordan last year for work; I work in finance.",
     {"country": "Jordan", "occupation_sector": "Finance, banking and insurance"}),
    ("I am an AI language model and do not have a personal identity.", {}),
    ("Honey ladder island copper basket. Pepper echo summer.", {}),
    ("I'm a big fan of my brother's cooking.", {}),
    ("My name is Ryan Harper, a software engineer who recently moved to the UK.",
     {"country": "United Kingdom", "occupation_sector": "Information technology"}),
    ("I am a proud mother of two and I live in Lagos, Nigeria.", {"gender": "female", "country": "Nigeria"}),
]


@pytest.mark.parametrize(("text", "expected"), PERSONA_CASES)
def test_persona_parse(text: str, expected: dict[str, str]) -> None:
    assert task("persona").parse(text, prompt("persona")) == expected


def test_story_parse_reads_protagonist() -> None:
    story = ("Once upon a time, Hiroshi, a retired fisherman in his seventies, lived in a small village in Japan. "
             "Every morning he walked to the harbour, and he never missed a sunrise.")
    expected = {"gender": "male", "age_bin": "70+", "country": "Japan", "occupation_sector": "Retired"}
    assert task("story").parse(story, prompt("story")) == expected
    named = "Elena, a 27-year-old baker, opened the shop before dawn. The bread she made that day was different."
    assert task("story").parse(named, prompt("story")) == {
        "gender": "female", "age_bin": "20-30", "occupation_sector": "Hospitality, food and tourism"}


@pytest.mark.parametrize("name", ["persona", "story"])
def test_demographic_tasks_meta_and_hostile_input(name: str) -> None:
    t = task(name)
    meta = t.prompts[0].meta["attributes"]
    assert set(meta) == set(demographics.ATTRIBUTES)
    assert meta["gender"]["reference"] == {"female": 0.5, "male": 0.5}
    assert meta["age_bin"]["categories"] == ["0-10", "10-20", "20-30", "30-40", "40-50", "50-60", "60-70", "70+"]
    assert abs(sum(meta["age_bin"]["reference"].values()) - 1) < 1e-9
    assert len(meta["occupation_sector"]["categories"]) == 28
    assert "Japan" in meta["country"]["categories"]
    for text in [*HOSTILE, "Honey. " * 300_000, "Xq Yz " * 300_000]:
        assert _fast(lambda text=text: t.parse(text, t.prompts[0])) == {}
    values = t.parse(PERSONA_CASES[0][0], t.prompts[0])
    for attr, value in values.items():
        assert value in meta[attr]["categories"]


def test_every_diffuse_occupation_has_a_sector() -> None:
    for option in prompt("choice_occupations", "occupations-0").meta["options"]:
        assert demographics.sector_from(option, is_field=True) in demographics.sectors().names


def test_gender_lexicon() -> None:
    names = demographics.gender_names()
    assert names["olivia"] == "female" and names["liam"] == "male"
    assert 4000 <= len(names) <= 5000


# --- suites ---------------------------------------------------------------------------------------------

SUITES = ROOT / "divbench" / "suites"


@pytest.mark.parametrize("suite", ["quick", "full"])
def test_suites_are_valid(suite: str) -> None:
    data = tomllib.loads((SUITES / f"{suite}.toml").read_text(encoding="utf-8"))
    assert data["name"] == suite and isinstance(data["seed"], int)
    names = [entry["name"] for entry in data["tasks"]]
    assert set(names) == set(TASKS) and len(names) == len(set(names))
    sampling_fields = set(Sampling.__dataclass_fields__)
    for entry in data["tasks"]:
        extra = set(entry) - sampling_fields - {"name", "limit", "scoring"}
        assert not extra, extra
        defaults = registry.get("tasks", entry["name"]).default_sampling.to_dict()
        Sampling.from_dict({**defaults, **{k: v for k, v in entry.items() if k in sampling_fields}})
        assert entry.get("scoring", "auto") in {"exact", "sampled", "auto"}
    link = ROOT / "benchmarks" / "suites" / f"{suite}.toml"
    assert link.is_symlink() and link.resolve() == (SUITES / f"{suite}.toml").resolve()


def test_quick_suite_token_budget() -> None:
    data = tomllib.loads((SUITES / "quick.toml").read_text(encoding="utf-8"))
    sampled = 0
    for entry in data["tasks"]:
        if entry.get("scoring") == "exact":
            continue
        count = min(entry.get("limit", 10**9), len(task(entry["name"]).prompts))
        sampled += count * entry["n"] * entry["max_new_tokens"]
    assert sampled <= 9000  # ~100 tok/s on 2 CPU cores: well under 3 minutes
