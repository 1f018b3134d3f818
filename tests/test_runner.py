import math

import pytest

from divbench.models.base import BackendOptions
from divbench.models.fake import FakeBackend, create_fake_backend
from divbench.registry import UnknownNameError
from divbench.runner import GENERATIONS, Generator, generate, plan_tasks
from divbench.store import GenerationStore
from divbench.strategies.basic import NoStrategy
from divbench.suite import Suite, TaskEntry
from divbench.tasks.base import TaskError
from divbench.types import System

SYSTEM = System("fake", backend="fake", model="fake:diverse")


def _suite(**sampling) -> Suite:
    return Suite("t", (TaskEntry("toy_text", sampling=sampling), TaskEntry("toy_choice", scoring="sampled")))


def _generate(tmp_path, name, suite=None, seed=0, store=None, backend=None):
    run_dir = tmp_path / name
    generate(SYSTEM, suite or _suite(), seed, backend or FakeBackend("diverse"), run_dir, store=store)
    return (run_dir / GENERATIONS).read_text()


def test_same_seed_same_generations_other_seed_differs(tmp_path):
    assert _generate(tmp_path, "a") == _generate(tmp_path, "b")
    assert _generate(tmp_path, "c", seed=1) != _generate(tmp_path, "a")


def test_limit_gives_exactly_the_first_prompts_sets(tmp_path):
    full = _generate(tmp_path, "full").splitlines()
    limited = _generate(tmp_path, "lim", suite=_suite().select(limit=2)).splitlines()
    toy_text = [line for line in full if '"toy_text"' in line]
    assert limited[:2] == toy_text[:2]
    assert len(limited) == 3  # 2 toy_text + the one toy_choice prompt


class CrashingBackend(FakeBackend):
    """Dies after ``budget`` requests, like a run killed halfway; counts what it generated."""

    def __init__(self, budget: int) -> None:
        super().__init__("diverse")
        self.budget, self.generated = budget, 0

    def generate(self, requests, sampling, progress=None):
        if self.generated + len(requests) > self.budget:
            raise KeyboardInterrupt("killed")
        self.generated += len(requests)
        return super().generate(requests, sampling, progress)


def test_killed_run_resumes_without_regenerating_and_matches(tmp_path):
    reference = _generate(tmp_path, "ref")
    store_path = tmp_path / "store.jsonl"
    first = CrashingBackend(budget=3)
    with pytest.raises(KeyboardInterrupt):
        # one request per call, so the store holds exactly 3 sets when it dies
        generate(SYSTEM, _suite(), 0, first, tmp_path / "run", store=GenerationStore(store_path), chunk_rows=4)
    assert len(GenerationStore(store_path)) == 3
    second = CrashingBackend(budget=100)
    generate(SYSTEM, _suite(), 0, second, tmp_path / "run", store=GenerationStore(store_path), chunk_rows=4)
    assert second.generated == 7 - 3
    assert (tmp_path / "run" / GENERATIONS).read_text() == reference


def test_store_key_changes_with_seed_n_and_temperature(tmp_path):
    backend = FakeBackend("diverse")
    generator = Generator(backend, NoStrategy(), 0, None, tmp_path / "g.jsonl", reporter=None)
    keys = set()
    for sampling in ({}, {"n": 5}, {"temperature": 0.5}):
        plan = plan_tasks(Suite("t", (TaskEntry("toy_text", sampling=sampling),)), backend)[0]
        keys.add(generator.set_key(plan, "rendered", 1))
        keys.add(generator.set_key(plan, "rendered", 2))
    assert len(keys) == 6


def test_exact_mode_scores_every_option(tmp_path):
    suite = Suite("t", (TaskEntry("toy_choice", scoring="exact"),))
    run_dir = tmp_path / "exact"
    generate(SYSTEM, suite, 0, FakeBackend("diverse"), run_dir)
    from divbench.runner import read_sets

    (gset,) = read_sets(run_dir / GENERATIONS)
    scores = gset.option_scores
    assert scores.options == ("1", "2", "3", "4")
    assert sum(math.exp(v) for v in scores.logprobs) == pytest.approx(0.9)
    assert scores.invalid_mass == pytest.approx(0.1)
    assert gset.texts == ()


def test_exact_mode_on_free_text_task_is_refused():
    with pytest.raises(TaskError, match="exact scoring"):
        plan_tasks(Suite("t", (TaskEntry("toy_text", scoring="exact"),)), FakeBackend("diverse"))


def test_unknown_task_fails_before_anything_is_written(tmp_path):
    with pytest.raises(UnknownNameError, match=r"known: .*toy_text"):
        generate(SYSTEM, Suite("t", (TaskEntry("nope"),)), 0, FakeBackend("diverse"), tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_fake_backends_differ_in_diversity():
    diverse = create_fake_backend("fake:diverse", None, BackendOptions())
    collapsed = create_fake_backend("fake:collapsed", None, BackendOptions())
    from divbench.models.base import GenRequest
    from divbench.types import Sampling

    request = [GenRequest(({"role": "user", "content": "x"},), 3)]
    assert len(set(diverse.generate(request, Sampling(n=6))[0].texts)) == 6
    assert len(set(collapsed.generate(request, Sampling(n=6))[0].texts)) == 1


def test_run_id_changes_with_a_task_version(monkeypatch) -> None:
    """A task version enters every set's seed, so a new version must not reuse an old run folder."""
    from divbench import registry
    from divbench.runner import make_run_id
    from divbench.suite import Suite, TaskEntry
    from divbench.types import System

    suite = Suite("s", (TaskEntry("toy_text"),))
    before = make_run_id(System("fake"), "fp", suite, 0)
    monkeypatch.setattr(registry.get("tasks", "toy_text"), "version", 99)
    assert make_run_id(System("fake"), "fp", suite, 0) != before
