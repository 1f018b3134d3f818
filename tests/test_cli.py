import json

from typer.testing import CliRunner

from divbench.cli import app

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(args))


def test_run_and_rescore_on_the_fake_backend(tmp_path, cache):
    result = _run("run", "--model", "fake:diverse", "--tasks", "toy_text,toy_choice", "--out", str(tmp_path / "r"),
                  "--display", "none", "--threads", "1")
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "r").iterdir()
    assert run_dir.name.split("-")[1:3] == ["fake", "diverse"]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["schema_version"] == 1
    assert [t["task"] for t in record["tasks"]] == ["toy_text", "toy_choice"]
    first = (run_dir / "generations.jsonl").read_text()
    again = _run("score", str(run_dir))
    assert again.exit_code == 0, again.output
    assert (run_dir / "generations.jsonl").read_text() == first


def _assert_one_line_error(result, text: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert text in result.output


def test_missing_model_path_is_one_clear_line(tmp_path, cache):
    result = _run("run", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "runs"), "--display", "none")
    _assert_one_line_error(result, "does not exist")
    assert not (tmp_path / "runs").exists()


def test_folder_that_is_not_a_model(tmp_path, cache):
    (tmp_path / "empty").mkdir()
    result = _run("run", "--model", str(tmp_path / "empty"), "--out", str(tmp_path / "runs"), "--display", "none")
    _assert_one_line_error(result, "not a model folder")


def test_unknown_task_lists_known_names(tmp_path, cache):
    result = _run("run", "--model", "fake:diverse", "--tasks", "nope", "--out", str(tmp_path), "--display", "none")
    _assert_one_line_error(result, "unknown task 'nope'; known:")


def test_unknown_suite_and_bad_suite_file(tmp_path, cache):
    _assert_one_line_error(_run("run", "--model", "fake:diverse", "--suite", "nope"), "unknown suite 'nope'")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed")
    _assert_one_line_error(_run("run", "--model", "fake:diverse", "--suite", str(bad)), "not valid TOML")


def test_score_of_a_folder_that_is_not_a_run(tmp_path):
    _assert_one_line_error(_run("score", str(tmp_path)), "is not a run folder")


def test_score_jsonl_from_anywhere(tmp_path):
    sets = tmp_path / "sets.jsonl"
    sets.write_text("\n".join(json.dumps({"prompt_id": i, "texts": [f"a b {i}", f"c d {i}", "e f"]})
                              for i in range(4)) + "\n")
    result = _run("score", str(sets), "--out", str(tmp_path / "out"), "--metrics", "distinct_1,distinct_2")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    names = [m["name"] for m in record["tasks"][0]["metrics"]]
    assert names == ["distinct_1", "distinct_2"]
    for metric in record["tasks"][0]["metrics"]:
        assert {"name", "value", "ci", "params", "signature"} <= set(metric)


def test_score_jsonl_malformed_line(tmp_path):
    sets = tmp_path / "sets.jsonl"
    sets.write_text('{"prompt_id": 1, "texts": ["a"]}\n{"texts": "oops"}\n')
    _assert_one_line_error(_run("score", str(sets), "--out", str(tmp_path / "o")), "sets.jsonl:2")


def test_list_kinds():
    result = _run("list", "backends")
    assert result.exit_code == 0
    assert "fake" in result.output and "hf" in result.output
    _assert_one_line_error(_run("list", "widgets"), "unknown kind 'widgets'")


SHARED_DIALOGS = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared/data/peft/test_dialogs.jsonl"


def test_reference_system_scores_a_data_files_replies(tmp_path):
    import pytest

    if not SHARED_DIALOGS.exists():
        pytest.skip(f"PoExFT test dialogues not found at {SHARED_DIALOGS} (unlicensed data, not shipped)")
    result = _run("run", "--model", "reference", "--tasks", "dialogue", "--data", str(SHARED_DIALOGS), "--n", "5",
                  "--limit", "20", "--display", "none", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.iterdir()
    record = json.loads((run_dir / "run.json").read_text())
    assert record["system"]["kind"] == "reference"
    assert record["tasks"][0]["n_prompts"] == 20


def test_data_flag_needs_a_task_that_reads_data(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"context": "hi", "candidates": ["a"]}\n')
    result = _run("run", "--model", "fake:diverse", "--tasks", "toy_text", "--data", str(data), "--out",
                  str(tmp_path / "r"), "--display", "none")
    assert result.exit_code == 2
    assert "no task of this run reads a data file" in result.output


def test_suite_with_a_task_twice_is_refused(tmp_path):
    suite = tmp_path / "twice.toml"
    suite.write_text('[[tasks]]\nname = "toy_choice"\n[[tasks]]\nname = "toy_choice"\nscoring = "exact"\n')
    _assert_one_line_error(_run("run", "--model", "fake:diverse", "--suite", str(suite)), "more than once")


def test_summary_prints_headline_metrics_unless_asked_for_all(tmp_path, cache):
    result = _run("run", "--model", "fake:diverse", "--tasks", "toy_text", "--out", str(tmp_path / "r"),
                  "--display", "none", "--threads", "1")
    assert result.exit_code == 0, result.output
    assert "distinct_2" in result.output and "distinct_1 " not in result.output
    assert "--all-metrics prints all" in result.output
    (run_dir,) = (tmp_path / "r").iterdir()
    everything = _run("score", str(run_dir), "--all-metrics")
    assert everything.exit_code == 0, everything.output
    assert "distinct_1 " in everything.output and "--all-metrics prints all" not in everything.output


def test_list_strategies_shows_families_options_and_scoring():
    result = _run("list", "strategies")
    assert result.exit_code == 0, result.output
    listing = next(line for line in result.output.splitlines() if "│ listing" in line)
    assert "dialogue, persona" in listing and "attempts=3" in listing and "sampled instead" in listing
    assert "kept" in next(line for line in result.output.splitlines() if "│ diverse-prompt" in line)
