"""Prompting strategies: list parsing, every strategy on the fake backends, costs, refusals, hf paths."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from divbench import registry
from divbench.models.base import GenOutput, GenRequest
from divbench.models.fake import FakeBackend
from divbench.models.reference import ReferenceBackend
from divbench.runner import GENERATIONS, Generator, build_strategy, check_strategy, generate, plan_tasks
from divbench.strategies._common import sub_seed
from divbench.strategies.base import StrategyError
from divbench.strategies.listing import ListingStrategy, VerbalizedStrategy, stated_weights
from divbench.strategies.multi import IterativeStrategy, PossibilityStrategy, SeedInjectionStrategy
from divbench.strategies.parsing import parse_list, split_probability
from divbench.suite import Suite, TaskEntry
from divbench.tasks.dialogue import DialogueTask
from divbench.types import Prompt, Sampling, System

ALL = ("none", "diverse-prompt", "listing", "verbalized", "possibility", "iterative", "seed-injection",
       "diverse-beam")
SUITE = Suite("t", (TaskEntry("toy_text", limit=3), TaskEntry("toy_choice", scoring="auto", sampling={"n": 6})))


def texts_of(items) -> list[str]:
    return [i.text for i in items]


class Recorder:
    """Wraps a backend and records every generate call (requests and sampling)."""

    def __init__(self, backend=None) -> None:
        self.backend = backend or FakeBackend("diverse")
        self.name = self.backend.name
        self.calls: list[tuple[list[GenRequest], Sampling]] = []

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def generate(self, requests, sampling, progress=None):
        self.calls.append((list(requests), sampling))
        return self.backend.generate(requests, sampling, progress)


class Scripted:
    """A backend that answers call i with ``replies[i]`` for every request (10 tokens, 0.5 s each)."""

    name = "scripted"

    def __init__(self, replies: Sequence[str], reason: str = "stop") -> None:
        self.replies, self.reason, self.calls = list(replies), reason, 0

    def generate(self, requests, sampling, progress=None):
        text = self.replies[min(self.calls, len(self.replies) - 1)]
        self.calls += 1
        return [GenOutput([text] * sampling.n, [self.reason] * sampling.n, 10, 0.5) for _ in requests]


def request(text: str = "Name a fruit.", seed: int = 7) -> GenRequest:
    prompt = Prompt("t", "p", ({"role": "user", "content": text},))
    return GenRequest(prompt.messages, seed, (), prompt)


# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(("text", "expected"), [
    ("1. apple\n2. pear\n3. plum", ["apple", "pear", "plum"]),
    ("1) apple\n(2) pear\n#3: plum\n4 - fig", ["apple", "pear", "plum", "fig"]),
    ("**1.** apple\n**2.** \"pear\"", ["apple", "pear"]),
    ("Person B's response 1: Hi!\nPerson B's response 2: Person B: Hello.", ["Hi!", "Hello."]),
    ("Response 1: 1. nested\nResponse 2: 2) also", ["nested", "also"]),
    ("1. 1. doubled\n2. 3. kept", ["doubled", "3. kept"]),
    ("Sure! Here you go:\n\n1. apple\n2. pear\n\nI hope this helps!", ["apple", "pear"]),
    ("1. a long\nanswer over lines\n2. next", ["a long answer over lines", "next"]),
    ("1.\n\nlate body\n2. b", ["late body", "b"]),
    ("1. a thing 2. b thing 3. c thing", ["a thing", "b thing", "c thing"]),
    ("- apple\n* pear\n• plum", ["apple", "pear", "plum"]),
    ("1. apple\n2.\n3. \"\"\n4. plum", ["apple", "plum"]),
    ("1.5 million people\n2019. was a year", []),
    ("just one sentence with no list", []),
    ("", []),
])
def test_parse_list(text, expected):
    assert texts_of(parse_list(text)) == expected


def test_parse_list_is_bounded_on_hostile_text():
    start = time.perf_counter()
    items = parse_list("1. x\n" * 200_000 + "2. " + "y " * 100_000)
    assert len(items) <= 500
    assert parse_list("1. " + "2. " * 50_000) is not None
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(("text", "expected"), [
    ("{3} (probability: 0.1)", ("{3}", 0.1)),
    ("Hello there (p=0.25)", ("Hello there", 0.25)),
    ("A reply - 30%", ("A reply", 0.3)),
    ("x (probability: 20)", ("x", 0.2)),
    ("answer [0.4]", ("answer", 0.4)),
    ("I ran (5) miles today", ("I ran (5) miles today", None)),
    ("sleep 0.5 hours", ("sleep 0.5 hours", None)),
    ("odd (probability: 250)", ("odd", None)),
])
def test_split_probability(text, expected):
    assert split_probability(text) == expected


def test_stated_weights_fill_missing_and_handle_zeros():
    assert stated_weights([0.2, None, 0.6]).tolist() == pytest.approx([0.2 / 1.2, 0.4 / 1.2, 0.6 / 1.2])
    assert stated_weights([0.0, 0.0]).tolist() == [0.5, 0.5]
    assert stated_weights([None, None]).tolist() == [0.5, 0.5]


# ----------------------------------------------------------------------------- every strategy, fake backend


def _run(tmp_path: Path, name: str, strategy: str, suite: Suite = SUITE, seed: int = 0) -> list[dict]:
    run_dir = tmp_path / name
    system = System(name, backend="fake", model="fake:diverse", strategy=strategy)
    generate(system, suite, seed, FakeBackend("diverse"), run_dir, strategy=build_strategy(strategy))
    return [json.loads(line) for line in (run_dir / GENERATIONS).read_text().splitlines()]


@pytest.mark.parametrize("name", ALL)
def test_every_strategy_gives_n_texts_deterministically(tmp_path, name):
    sets = _run(tmp_path, "a", name)
    exact = registry.get("strategies", name).keeps_exact_scoring
    assert [len(s["texts"]) for s in sets] == [4, 4, 4, 0 if exact else 6]
    assert (sets[3]["option_scores"] is not None) == exact
    assert all(s["tokens"] > 0 for s in sets if s["texts"])
    assert all(t for s in sets for t in s["texts"])  # fake:diverse answers every format
    assert _run(tmp_path, "b", name) == sets


@pytest.mark.parametrize("name", ALL)
def test_other_seed_other_texts(tmp_path, name):
    suite = Suite("s", (TaskEntry("toy_text", limit=2),))
    first, other = _run(tmp_path, "s0", name, suite), _run(tmp_path, "s1", name, suite, seed=1)
    assert [s["texts"] for s in first] != [s["texts"] for s in other]


def test_registry_lists_every_strategy_with_metadata():
    for name in ALL:
        cls = registry.get("strategies", name)
        assert cls.name == name and cls.version >= 1 and cls.description
    assert set(ALL) <= set(registry.names("strategies"))


# ----------------------------------------------------------------------------- listing


def test_listing_one_call_per_set_with_scaled_budget():
    backend = Recorder()
    outs = ListingStrategy().generate(backend, [request(), request(seed=8)], Sampling(n=5, max_new_tokens=20))
    assert len(backend.calls) == 1
    requests, sampling = backend.calls[0]
    assert sampling.n == 1 and sampling.max_new_tokens == 5 * (20 + 16)
    assert "list of 5" in requests[0].messages[-2]["content"]
    assert requests[0].messages[-1] == {"role": "assistant", "content": "1."}
    assert [len(o.texts) for o in outs] == [5, 5] and outs[0].texts != outs[1].texts


def test_listing_uses_poexft_wording_for_dialogue():
    prompt = DialogueTask().prompts[0]
    messages = ListingStrategy().messages(prompt)
    assert "provide a list of N different diverse responses" in messages[0]["content"]
    assert messages[0]["content"].startswith("Given this conversation:\n\nPerson")
    assert messages[-1]["content"] == "Person B's response 1:"


def test_listing_retries_then_keeps_the_longest_reply_and_counts_every_call():
    backend = Scripted(["1. a\n2. b", "1. c\n2. d\n3. e", "junk"])
    (out,) = ListingStrategy().generate(backend, [request()], Sampling(n=4))
    assert backend.calls == 3
    assert out.texts == ["c", "d", "e", ""]
    assert out.finish_reasons == ["stop", "stop", "stop", "parse_error"]
    assert (out.tokens, out.seconds) == (30, 1.5)


def test_listing_stops_asking_once_enough_items_parse():
    backend = Scripted(["1. a\n2. b\n3. c\n4. d\n5. e"], reason="length")
    (out,) = ListingStrategy(attempts=5).generate(backend, [request()], Sampling(n=4))
    assert backend.calls == 1 and out.texts == ["a", "b", "c", "d"]
    assert out.finish_reasons == ["stop"] * 4  # the cut-off item (5) is not kept


def test_listing_marks_a_possibly_cut_last_item():
    (out,) = ListingStrategy(attempts=1).generate(Scripted(["1. a\n2. b"], "length"), [request()], Sampling(n=2))
    assert out.finish_reasons == ["stop", "length"]


def test_listing_on_a_collapsed_model_records_parse_errors():
    (out,) = ListingStrategy().generate(FakeBackend("collapsed"), [request()], Sampling(n=3))
    assert out.texts[0] == "That sounds great, I love it!"
    assert out.finish_reasons[1:] == ["parse_error", "parse_error"] and out.texts[1:] == ["", ""]


def test_listing_applies_stop_strings_per_item():
    (out,) = ListingStrategy().generate(Scripted(["1. a STOP x\n2. b"]), [request()], Sampling(n=2, stop=("STOP",)))
    assert out.texts == ["a", "b"]


# ----------------------------------------------------------------------------- verbalized


def test_verbalized_draws_by_stated_probability():
    backend = Scripted(["1. {3} (probability: 1.0)\n2. {7} (probability: 0)\n3. {9} (probability: 0.0)"])
    (out,) = VerbalizedStrategy(k=3).generate(backend, [request()], Sampling(n=20))
    assert out.texts == ["{3}"] * 20 and backend.calls == 1


def test_verbalized_is_seeded_per_set():
    reply = ["1. a (probability: 0.3)\n2. b (probability: 0.3)\n3. c (probability: 0.4)"]
    strategy = VerbalizedStrategy(k=3)
    first = strategy.generate(Scripted(reply), [request(seed=1), request(seed=2)], Sampling(n=30))
    again = strategy.generate(Scripted(reply), [request(seed=1)], Sampling(n=30))
    assert first[0].texts == again[0].texts
    assert first[0].texts != first[1].texts
    assert set(first[0].texts) == {"a", "b", "c"}


def test_verbalized_uses_what_parses_and_reports_total_failure():
    # the reply prefix "1." makes any non-empty reply item 1; only an empty reply parses to nothing
    (partial,) = VerbalizedStrategy(k=4, attempts=2).generate(Scripted(["1. only one"]), [request()], Sampling(n=3))
    assert partial.texts == ["only one"] * 3 and partial.tokens == 20
    (none,) = VerbalizedStrategy(attempts=2).generate(Scripted([" \n\n"]), [request()], Sampling(n=3))
    assert none.texts == [""] * 3 and none.finish_reasons == ["parse_error"] * 3


def test_verbalized_prompt_asks_for_k_with_probabilities():
    backend = Recorder()
    VerbalizedStrategy(k=7).generate(backend, [request()], Sampling(n=2, max_new_tokens=10))
    requests, sampling = backend.calls[0]
    assert "list of 7" in requests[0].messages[0]["content"] and "probability" in requests[0].messages[0]["content"]
    assert sampling.max_new_tokens == 7 * 26


# ----------------------------------------------------------------------------- per-text prompts


def test_possibility_sends_one_batch_of_numbered_prompts():
    backend = Recorder()
    outs = PossibilityStrategy().generate(backend, [request(seed=1), request(seed=2)], Sampling(n=3))
    assert len(backend.calls) == 1
    requests, sampling = backend.calls[0]
    assert sampling.n == 1 and len(requests) == 6
    for index, req in enumerate(requests):
        assert req.messages[0]["content"].endswith(f"possibility number #{index % 3 + 1}.")
    assert len({r.seed for r in requests}) == 6
    assert requests[0].seed == sub_seed(1, "possibility", 0)
    assert [len(o.texts) for o in outs] == [3, 3]
    assert outs[0].tokens == sum(len(t.split()) for t in outs[0].texts)


def test_possibility_uses_poexft_wording_for_dialogue():
    prompt = DialogueTask().prompts[0]
    text = PossibilityStrategy().messages(prompt)[0]["content"]
    assert text.endswith("Think about all the possibilities in which person B might respond next and then provide "
                         "the response that corresponds to possibility number #k. Keep the response short with no "
                         "more than 25 words.")
    assert "Please write the next response" not in text


def test_iterative_lists_earlier_answers_round_by_round():
    backend = Recorder()
    (out,) = IterativeStrategy().generate(backend, [request()], Sampling(n=3))
    assert len(backend.calls) == 3
    assert backend.calls[0][0][0].messages == request().messages
    third = backend.calls[2][0][0].messages[0]["content"]
    assert f"1. {out.texts[0]}" in third and f"2. {out.texts[1]}" in third and "different from all" in third
    assert out.tokens == sum(len(t.split()) for t in out.texts)


def test_iterative_shortens_long_answers():
    assert IterativeStrategy(max_chars=20).round_messages(request().prompt, ["x" * 100])[0]["content"].count("x") == 19


def test_seed_injection_varies_per_text_and_is_seeded():
    backend = Recorder()
    SeedInjectionStrategy().generate(backend, [request(seed=5)], Sampling(n=4))
    systems = [r.messages[0]["content"] for r in backend.calls[0][0]]
    assert len(set(systems)) == 4 and all(s.startswith("Random seed for this answer:") for s in systems)
    again = Recorder()
    SeedInjectionStrategy().generate(again, [request(seed=5)], Sampling(n=4))
    assert systems == [r.messages[0]["content"] for r in again.calls[0][0]]
    persona = SeedInjectionStrategy(kind="persona")
    assert persona.injection(5, 0).startswith("Answer as someone who")


# ----------------------------------------------------------------------------- options, refusals, scoring mode


def test_bad_options_are_one_line_errors():
    with pytest.raises(StrategyError, match="has no option 'q'; its options: attempts, k"):
        build_strategy("verbalized", {"q": 1})
    with pytest.raises(StrategyError, match="option 'k' must be int, got str"):
        build_strategy("verbalized", {"k": "5"})
    with pytest.raises(StrategyError, match="'k' must be between 1 and 100"):
        build_strategy("verbalized", {"k": 0})
    with pytest.raises(StrategyError, match="'kind' must be 'string' or 'persona'"):
        build_strategy("seed-injection", {"kind": "emoji"})
    with pytest.raises(StrategyError, match=r"must be int, got bool"):
        build_strategy("listing", {"attempts": True})


def test_family_refusal_names_strategy_task_and_families():
    suite = Suite("s", (TaskEntry("story", limit=1),))
    with pytest.raises(StrategyError) as info:
        check_strategy(build_strategy("listing"), suite)
    assert str(info.value) == ("strategy 'listing' does not support task 'story' (family story); "
                               "it supports: dialogue, persona, random_choice")
    with pytest.raises(StrategyError, match="does not support task 'story'"):
        plan_tasks(suite, FakeBackend("diverse"), build_strategy("verbalized"))


def test_refusal_happens_before_anything_is_written(tmp_path):
    run_dir = tmp_path / "never"
    with pytest.raises(StrategyError):
        generate(System("x", strategy="listing"), Suite("s", (TaskEntry("story"),)), 0, FakeBackend("diverse"),
                 run_dir, strategy=build_strategy("listing"))
    assert not run_dir.exists()


def test_diverse_beam_needs_a_beam_backend():
    with pytest.raises(StrategyError, match="needs a backend with diverse beam search"):
        plan_tasks(SUITE, Scripted(["x"]), build_strategy("diverse-beam"))
    with pytest.raises(StrategyError, match="reference backend"):
        plan_tasks(SUITE, ReferenceBackend(), build_strategy("listing"))


@pytest.mark.parametrize(("name", "mode"), [("none", "exact"), ("diverse-prompt", "exact"), ("listing", "sampled"),
                                            ("possibility", "sampled"), ("diverse-beam", "sampled")])
def test_only_message_strategies_keep_exact_scoring(name, mode):
    plans = plan_tasks(SUITE, FakeBackend("diverse"), build_strategy(name))
    assert plans[1].mode == mode


def test_exact_scoring_requested_with_a_text_strategy_is_an_error():
    suite = Suite("s", (TaskEntry("toy_choice", scoring="exact"),))
    with pytest.raises(StrategyError, match="asks for exact scoring, but strategy 'iterative'"):
        plan_tasks(suite, FakeBackend("diverse"), build_strategy("iterative"))


def test_diverse_prompt_reaches_exact_scoring_messages(tmp_path):
    sets = _run(tmp_path, "dp", "diverse-prompt", suite=Suite("s", (TaskEntry("toy_choice"),)))
    assert sets[0]["option_scores"] is not None


def test_store_key_changes_with_strategy_options(tmp_path):
    plan = plan_tasks(SUITE, FakeBackend("diverse"))[0]
    keys = {Generator(FakeBackend("diverse"), build_strategy("verbalized", opts), 0, None, tmp_path, None).set_key(
        plan, "rendered", 1) for opts in ({}, {"k": 5}, {"k": 6})}
    assert len(keys) == 2  # the default k=5 and an explicit k=5 are the same system
    none_key = Generator(FakeBackend("diverse"), build_strategy("none"), 0, None, tmp_path, None).set_key(
        plan, "rendered", 1)
    assert none_key not in keys


def test_set_cost_is_the_sum_of_every_call(tmp_path):
    sets = _run(tmp_path, "it", "iterative", suite=Suite("s", (TaskEntry("toy_text", limit=2),)))
    for gset in sets:
        assert gset["tokens"] == sum(len(t.split()) for t in gset["texts"])


# ----------------------------------------------------------------------------- hf backend (tiny random Llama)


@pytest.fixture(scope="module")
def tiny_backend(tmp_path_factory):
    from divbench.models.base import BackendOptions
    from divbench.models.hf import create_hf_backend
    from tests.hf_fixtures import build_tiny_model

    folder = build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")
    options = BackendOptions(threads=1, extra={"cache_dir": str(tmp_path_factory.mktemp("cache"))})
    return create_hf_backend(str(folder), None, options)


def test_hf_possibility_is_one_batched_call(tiny_backend):
    backend = Recorder(tiny_backend)
    reqs = [request("tell me a story", 1), request("hi", 2)]
    outs = PossibilityStrategy().generate(backend, reqs, Sampling(n=3, max_new_tokens=6))
    assert len(backend.calls) == 1 and len(backend.calls[0][0]) == 6
    assert [len(o.texts) for o in outs] == [3, 3] and all(o.tokens > 0 and o.seconds > 0 for o in outs)
    alone = PossibilityStrategy().generate(tiny_backend, reqs[:1], Sampling(n=3, max_new_tokens=6))
    assert alone[0].texts == outs[0].texts  # texts depend on the set's seed, not on the batch


def test_hf_diverse_beam(tiny_backend):
    sampling = Sampling(n=4, max_new_tokens=8)
    reqs = [request("tell me a story", 1), request("hi", 2)]
    strategy = build_strategy("diverse-beam")
    plan_tasks(Suite("s", (TaskEntry("toy_text", limit=1),)), tiny_backend, strategy)  # accepted
    outs = strategy.generate(tiny_backend, reqs, sampling)
    assert [len(set(o.texts)) for o in outs] == [4, 4]
    assert strategy.generate(tiny_backend, reqs[:1], sampling)[0].texts == outs[0].texts
    greedy = build_strategy("diverse-beam", {"diversity_penalty": 0.0}).generate(tiny_backend, reqs[:1], sampling)
    assert len(set(greedy[0].texts)) == 1  # without the penalty every group is the same greedy beam
    assert outs[0].texts[0] == greedy[0].texts[0]  # group 1 is never penalised


def test_hf_diverse_beam_respects_max_new_tokens(tiny_backend):
    (out,) = tiny_backend.generate_beams([request()], replace(Sampling(), n=2, max_new_tokens=3), 5.0)
    assert out.tokens <= 6 and set(out.finish_reasons) <= {"stop", "length"} and len(out.texts) == 2
