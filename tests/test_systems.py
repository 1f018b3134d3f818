"""System files and the run flags that define a system: parsing, validation, precedence, records, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from divbench.cli import app
from divbench.runner import make_run_id
from divbench.suite import Suite, TaskEntry
from divbench.systems import SystemSpec, SystemSpecError, load_system, parse_assignment

SYSTEMS = Path(__file__).resolve().parent.parent / "benchmarks" / "systems"
runner = CliRunner()


def write(tmp_path: Path, text: str, name: str = "system.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run_cli(*args: str):
    return runner.invoke(app, ["run", *args, "--display", "none", "--threads", "1"])


def one_line_error(result, text: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert text in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("error:")]) == 1


# ----------------------------------------------------------------------------- files


def test_shipped_system_files_are_valid():
    files = sorted(SYSTEMS.glob("*.toml"))
    assert len(files) >= 12
    strategies = set()
    for path in files:
        spec = load_system(path)
        system = spec.system(spec.build_strategy())
        assert system.label and system.kind in ("baseline", "prompting") and system.model == "default"
        strategies.add(spec.strategy)
    assert strategies == {"none", "diverse-prompt", "listing", "verbalized", "possibility", "iterative",
                          "seed-injection", "diverse-beam"}


def test_a_full_system_file(tmp_path):
    (tmp_path / "lora").mkdir()
    spec = load_system(write(tmp_path, """
label = "mine"
kind = "finetuned"
model = "fake:diverse"
adapter = "lora"
strategy = "verbalized"
description = "for people"
[strategy_options]
k = 8
[sampling]
temperature = 1
min_p = 0.05
"""))
    assert spec.adapter == str(tmp_path / "lora")
    system = spec.system(spec.build_strategy())
    assert (system.label, system.kind, system.backend, system.strategy) == ("mine", "finetuned", "fake", "verbalized")
    assert system.options == {"sampling": {"min_p": 0.05, "temperature": 1.0},
                              "strategy": {"attempts": 3, "k": 8}}


@pytest.mark.parametrize(("text", "message"), [
    ('modle = "x"', "unknown key 'modle'; known: adapter, backend"),
    ("label = 3", "label must be a string, got int 3"),
    ('strategy = "nope"', "unknown strategy 'nope'; known:"),
    ('strategy = "verbalized"\n[strategy_options]\nq = 1', "strategy 'verbalized' has no option 'q'"),
    ('strategy = "verbalized"\n[strategy_options]\nk = "many"', "option 'k' must be int, got str"),
    ('kind = "great"', "kind must be one of baseline, prompting, finetuned, reference"),
    ('backend = "gpu"', "unknown backend 'gpu'"),
    ("[sampling]\ntemperature = -1", "temperature must be >= 0"),
    ("[sampling]\ntop_p = 0", "top_p must be in (0, 1]"),
    ("[sampling]\nmin_p = 1.0", "min_p must be in [0, 1)"),
    ('[sampling]\ntop_k = "3"', "sampling.top_k must be an integer, got str"),
    ("[sampling]\nmax_new_tokens = true", "sampling.max_new_tokens must be an integer, got bool"),
    ("[sampling]\nn = 4", "unknown sampling key 'n'; known: temperature"),
    ("sampling = 0.7", "sampling must be a table"),
    ("label = [unclosed", "is not valid TOML"),
])
def test_malformed_files_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(SystemSpecError) as info:
        load_system(write(tmp_path, text))
    assert message in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).startswith("system file '")


def test_missing_file(tmp_path):
    with pytest.raises(SystemSpecError, match="does not exist"):
        load_system(tmp_path / "nope.toml")


# ----------------------------------------------------------------------------- flags over files


def test_flags_override_the_file():
    base = SystemSpec(model="fake:diverse", strategy="verbalized", label="file", strategy_options={"k": 8},
                      sampling={"temperature": 0.7})
    spec = base.override(strategy_options={"attempts": 2}, sampling={"temperature": 1.3, "top_k": 5})
    assert spec.strategy_options == {"k": 8, "attempts": 2}
    assert spec.sampling == {"temperature": 1.3, "top_k": 5}
    other = base.override(strategy="listing", label="flag")
    assert (other.strategy, other.strategy_options, other.label) == ("listing", {}, "flag")
    assert base.override(model="fake:collapsed").system(base.build_strategy()).backend == "fake"
    with pytest.raises(SystemSpecError, match="command line: top_p must be in"):
        base.override(sampling={"top_p": 2.0})


def test_derived_label_and_kind():
    spec = SystemSpec(model="fake:diverse", strategy="verbalized", strategy_options={"k": 8},
                      sampling={"temperature": 1.3, "min_p": 0.1})
    system = spec.system(spec.build_strategy())
    assert system.label == "fake:diverse/verbalized k=8 min_p=0.1 t=1.3"
    assert system.kind == "prompting"
    assert SystemSpec(model="x", adapter="a/lora").system(SystemSpec().build_strategy()).kind == "finetuned"


def test_options_change_the_run_id():
    suite = Suite("s", (TaskEntry("toy_text"),))
    ids = set()
    for options in ({}, {"k": 5}, {"k": 6}):
        spec = SystemSpec(model="fake:diverse", strategy="verbalized", label="same", strategy_options=options)
        ids.add(make_run_id(spec.system(spec.build_strategy()), "fp", suite, 0))
    assert len(ids) == 2  # k=5 is the default
    hot = SystemSpec(model="fake:diverse", label="same", sampling={"temperature": 1.6})
    cold = SystemSpec(model="fake:diverse", label="same")
    assert make_run_id(hot.system(hot.build_strategy()), "fp", suite, 0) != make_run_id(
        cold.system(cold.build_strategy()), "fp", suite, 0)


@pytest.mark.parametrize(("text", "expected"), [
    ("k=8", ("k", 8)), ("diversity_penalty=2.5", ("diversity_penalty", 2.5)), ("kind=persona", ("kind", "persona")),
    ("flag=true", ("flag", True)), (" k = 3 ", ("k", 3)),
])
def test_parse_assignment(text, expected):
    assert parse_assignment(text) == expected


def test_parse_assignment_needs_key_and_value():
    with pytest.raises(SystemSpecError, match="KEY=VALUE"):
        parse_assignment("k8")


# ----------------------------------------------------------------------------- the CLI


def _manifest(out: Path) -> dict:
    (run_dir,) = out.iterdir()
    return json.loads((run_dir / "manifest.json").read_text())


def test_cli_listing_on_fake_backend(tmp_path, cache):
    result = run_cli("--model", "fake:diverse", "--strategy", "listing", "--tasks", "toy_text,toy_choice",
                     "--n", "3", "--out", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    manifest = _manifest(tmp_path / "r")
    assert manifest["system"]["strategy"] == "listing"
    assert manifest["system"]["options"] == {"strategy": {"attempts": 3}}
    assert [t["mode"] for t in manifest["tasks"]] == ["sampled", "sampled"]
    (run_dir,) = (tmp_path / "r").iterdir()
    sets = [json.loads(line) for line in (run_dir / "generations.jsonl").read_text().splitlines()]
    assert all(len(s["texts"]) == 3 and all(s["texts"]) for s in sets)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["system"]["options"] == {"strategy": {"attempts": 3}}


def test_cli_relaxes_the_suites_exact_scoring_with_a_note(tmp_path, cache):
    suite = write(tmp_path, '[[tasks]]\nname = "toy_choice"\nscoring = "exact"\n', "suite.toml")
    result = run_cli("--model", "fake:diverse", "--suite", str(suite), "--strategy", "possibility",
                     "--out", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    assert "toy_choice is scored from sampled texts" in result.output
    assert _manifest(tmp_path / "r")["tasks"][0]["mode"] == "sampled"


def test_cli_system_file_and_flag_precedence(tmp_path, cache):
    system = write(tmp_path, 'label = "file label"\nmodel = "fake:diverse"\nstrategy = "verbalized"\n'
                             '[strategy_options]\nk = 4\n[sampling]\ntemperature = 0.7\n')
    result = run_cli("--system", str(system), "--tasks", "toy_text", "--limit", "2", "--temperature", "1.3",
                     "--min-p", "0.1", "--strategy-option", "attempts=1", "--out", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    manifest = _manifest(tmp_path / "r")
    assert manifest["system"]["label"] == "file label"
    assert manifest["system"]["options"] == {"sampling": {"min_p": 0.1, "temperature": 1.3},
                                             "strategy": {"attempts": 1, "k": 4}}
    sampling = manifest["tasks"][0]["sampling"]
    assert (sampling["temperature"], sampling["min_p"]) == (1.3, 0.1)


def test_cli_sampling_flags_change_the_store_key(tmp_path, cache):
    args = ("--model", "fake:diverse", "--tasks", "toy_text", "--limit", "1")
    assert run_cli(*args, "--out", str(tmp_path / "a")).exit_code == 0
    assert run_cli(*args, "--max-new-tokens", "5", "--out", str(tmp_path / "b")).exit_code == 0
    key = [json.loads((d / "generations.jsonl").read_text())["key"]
           for out in ("a", "b") for d in (tmp_path / out).iterdir()]
    assert key[0] != key[1]


def test_cli_family_refusal_comes_before_the_model_loads(tmp_path, cache):
    result = run_cli("--model", str(tmp_path / "no-such-model"), "--strategy", "listing", "--tasks", "story",
                     "--out", str(tmp_path / "r"))
    one_line_error(result, "strategy 'listing' does not support task 'story' (family story); it supports:")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("args", "message"), [
    (("--strategy", "nope"), "unknown strategy 'nope'"),
    (("--strategy", "verbalized", "--strategy-option", "k=zero"), "option 'k' must be int, got str"),
    (("--strategy-option", "k"), "--strategy-option takes KEY=VALUE"),
    (("--top-p", "1.5"), "command line: top_p must be in (0, 1]"),
    (("--model", "reference", "--strategy", "possibility"), "reference backend"),
])
def test_cli_bad_system_flags_are_one_line_errors(tmp_path, cache, args, message):
    result = run_cli("--model", "fake:diverse", "--tasks", "toy_text", *args, "--out", str(tmp_path / "r"))
    one_line_error(result, message)
    assert not (tmp_path / "r").exists()


def test_cli_bad_system_file(tmp_path, cache):
    result = run_cli("--system", str(write(tmp_path, 'strategy = "listng"')), "--out", str(tmp_path / "r"))
    one_line_error(result, "unknown strategy 'listng'")
