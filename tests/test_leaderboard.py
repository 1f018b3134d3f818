"""`divbench leaderboard`: the JSON model, comparability, win rates, escaping, determinism, errors."""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from divbench import leaderboard as lb
from divbench.cli import app
from divbench.leaderboard import compare
from divbench.leaderboard.compare import signature_fields
from divbench.models.fake import FakeBackend
from divbench.runner import generate
from divbench.suite import Suite, TaskEntry
from divbench.types import System
from tests.leaderboard_helpers import (
    HOSTILE,
    hostile_texts,
    make_run,
    metric,
    persona_texts,
    write_record,
)

ROOT = Path(__file__).resolve().parent.parent
EVIL_LABEL = '<i>evil</i> "label" & co'
cli = CliRunner()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Seven folders: six scored runs on the fake backends, one unscored."""
    root = tmp_path_factory.mktemp("runs")
    make_run(root, "a-diverse", "diverse", "diverse")
    make_run(root, "b-collapsed", "collapsed", "collapsed")
    make_run(root, "c-n3", "diverse", "diverse n3",
             tasks=(("toy_text", {"sampling": {"n": 3}}), ("toy_choice", {"scoring": "sampled"})))
    make_run(root, "d-t05", "diverse", "diverse T0.5",
             tasks=(("toy_text", {"sampling": {"temperature": 0.5}}), ("toy_choice", {})))
    make_run(root, "e-hostile", "diverse", EVIL_LABEL, tasks=(("toy_text", {}),), kind="prompting",
             rewrite=hostile_texts)
    make_run(root, "f-persona", "diverse", "persona teller",
             tasks=(("persona", {"limit": 2, "sampling": {"n": 4}}),), rewrite=persona_texts)
    suite = Suite("test", (TaskEntry("toy_text"),))
    generate(System("unscored", backend="fake", model="fake:diverse"), suite, 0, FakeBackend("diverse"),
             root / "g-unscored")
    return root


@pytest.fixture(scope="module")
def built(runs) -> lb.Board:
    return lb.build(runs)


@pytest.fixture(scope="module")
def board(built) -> dict:
    return json.loads(built.json_text)


def _row(board: dict, key: str) -> dict:
    return next(r for r in board["runs"] if r["key"] == key)


def _column(board: dict, column_id: str) -> dict:
    return next(c for c in board["columns"] if c["id"] == column_id)


def _task(board: dict, name: str) -> dict:
    return next(t for t in board["tasks"] if t["task"] == name)


# ---------------------------------------------------------------- the JSON model


def test_json_schema_and_rows(board):
    assert board["schema_version"] == 1
    assert board["kind"] == "divbench-leaderboard"
    assert set(board) == {"schema_version", "kind", "win_rate", "runs", "tasks", "columns", "plots", "viewer",
                          "skipped"}
    keys = [r["key"] for r in board["runs"]]
    assert sorted(keys) == ["a-diverse", "b-collapsed", "c-n3", "d-t05", "e-hostile", "f-persona"]
    for row in board["runs"]:
        assert {"key", "run_id", "label", "system", "seed", "cost", "tasks", "win_rate", "color"} <= set(row)
        assert row["system"]["kind"] in ("baseline", "prompting", "finetuned", "reference")
        assert {"sets", "tokens", "seconds", "tokens_per_set", "seconds_per_set"} <= set(row["cost"])
        assert {"wins", "comparisons", "rate"} <= set(row["win_rate"])
    assert _row(board, "e-hostile")["system"]["kind"] == "prompting"
    assert _row(board, "e-hostile")["label"] == EVIL_LABEL
    assert _row(board, "a-diverse")["cost"]["tokens"] > 0
    assert _row(board, "a-diverse")["tasks"]["toy_text"]["n"] == 4
    rates = [r["win_rate"]["rate"] for r in board["runs"] if r["win_rate"]["rate"] is not None]
    assert rates == sorted(rates, reverse=True)  # rows are ranked by mean win rate
    assert _row(board, "a-diverse")["win_rate"]["rate"] > _row(board, "b-collapsed")["win_rate"]["rate"]
    assert board["skipped"] == [{"path": "g-unscored", "reason": board["skipped"][0]["reason"]}]
    assert "not scored" in board["skipped"][0]["reason"]


def test_every_cell_holds_exactly_its_column_signature(board, runs):
    ids = [c["id"] for c in board["columns"]]
    assert len(ids) == len(set(ids))
    records = {key: json.loads((runs / key / "run.json").read_text()) for key in _keys(board)}
    for column in board["columns"]:
        assert column["cells"], column["id"]
        for key, cell in column["cells"].items():
            task = next(t for t in records[key]["tasks"] if t["task"] == column["task"])
            result = next(m for m in task["metrics"] if m["name"] == column["metric"])
            assert compare.measurement(result["signature"]) == column["signature"]
            assert cell.get("value") == result["value"]
            if "value" in cell:
                assert cell["ci"] == result["ci"]


def _keys(board: dict) -> list[str]:
    return [r["key"] for r in board["runs"]]


def test_tasks_groups_and_headlines(board):
    text = _task(board, "toy_text")
    assert text["family"] == "dialogue"
    assert text["headline"] == "toy_text/semantic_diversity"
    main = text["groups"][0]
    assert set(main["runs"]) == {"a-diverse", "b-collapsed", "d-t05", "e-hostile"}  # T is the system's
    assert main["differs"] == []
    for group in text["groups"]:
        assert all(cid in {c["id"] for c in board["columns"]} for cid in group["columns"])
    choice = _task(board, "toy_choice")
    assert choice["family"] == "random_choice"
    assert choice["headline"] == "toy_choice/tv_distance"
    assert [t["task"] for t in board["tasks"]] == ["toy_text", "persona", "toy_choice"]  # by family


def test_plots_data(board):
    (choice,) = board["plots"]["choice"]
    (prompt,) = choice["prompts"]
    assert prompt["options"] == ["1", "2", "3", "4"]
    assert prompt["target"] == [0.25, 0.25, 0.25, 0.25]
    rows = {s["run"]: s for s in prompt["systems"]}
    assert set(rows) == {"a-diverse", "b-collapsed", "c-n3", "d-t05"}
    assert rows["a-diverse"]["mode"] == "exact"
    assert rows["a-diverse"]["shares"] == pytest.approx([0.25] * 4)
    assert rows["a-diverse"]["invalid"] == pytest.approx(0.1)  # the fake backend's invalid mass
    assert rows["b-collapsed"]["shares"][0] == pytest.approx(1.0)
    assert rows["c-n3"]["mode"] == "sampled"
    assert "counts" in rows["c-n3"] and rows["c-n3"]["n"] == 20

    (cost,) = [p for p in board["plots"]["cost"] if p["task"] == "toy_text"]
    assert cost["metric"] == "semantic_diversity"
    assert {p["run"] for p in cost["points"]} == {"a-diverse", "b-collapsed", "d-t05", "e-hostile"}

    (temperature,) = board["plots"]["temperature"]
    assert temperature["task"] == "toy_text"
    (curve,) = temperature["curves"]
    assert [(p["run"], p["t"]) for p in curve["points"]] == [("d-t05", 0.5), ("a-diverse", 1.0)]

    gender = next(p for p in board["plots"]["demographics"] if p["attribute"] == "gender")
    assert gender["task"] == "persona"
    (row,) = gender["rows"]
    counts = dict(zip(gender["categories"], row["counts"], strict=True))
    assert counts["female"] == 6 and counts["male"] == 2  # 2 prompts x (Maria, John, Aiko, Sarah)
    assert gender["reference"] is not None


def test_viewer_holds_first_prompts_and_every_text(board):
    text = next(v for v in board["viewer"] if v["task"] == "toy_text")
    assert [p["prompt_id"] for p in text["prompts"]] == ["p0", "p1", "p2"]
    assert text["prompts"][0]["prompt_text"] == "Say something about topic 0."
    hostile = next(s for s in text["prompts"][0]["systems"] if s["run"] == "e-hostile")
    assert list(HOSTILE) == hostile["texts"][: len(HOSTILE)]
    assert hostile["n"] == 4
    choice = next(v for v in board["viewer"] if v["task"] == "toy_choice")
    assert {s["run"] for p in choice["prompts"] for s in p["systems"]} == {"c-n3"}  # exact sets have no texts


# ---------------------------------------------------------------- comparability


def test_a_different_n_is_a_separate_group_and_marked_not_comparable(board, built):
    text = _task(board, "toy_text")
    group = next(g for g in text["groups"] if "c-n3" in g["runs"])
    assert group["number"] > 1
    assert ["n", "3", "4"] in group["differs"]
    assert "c-n3" not in _column(board, "toy_text/distinct_2")["cells"]
    own = next(c for c in board["columns"] if c["metric"] == "distinct_2" and "c-n3" in c["cells"])
    assert set(own["cells"]) == {"c-n3"}
    assert signature_fields(own["signature"])["n"] == "3"
    # the overview's headline column marks the run instead of showing its number
    assert "not comparable: n 3 vs 4" in built.html_text


def test_a_temperature_change_is_another_system_on_the_same_measurement(board):
    group = next(g for g in _task(board, "toy_text")["groups"] if "d-t05" in g["runs"])
    assert "a-diverse" in group["runs"] and group["differs"] == []
    column = next(c for c in board["columns"] if c["id"] == "toy_text/distinct_2")
    assert {"a-diverse", "d-t05"} <= set(column["cells"]) and "|t:" not in column["signature"]


def test_exact_and_sampled_choice_scoring_never_share_a_column(board):
    groups = _task(board, "toy_choice")["groups"]
    sampled = next(g for g in groups if "c-n3" in g["runs"])
    assert ["scoring", "sampled", "exact"] in sampled["differs"]


def test_variants_inside_a_group_split_and_name_the_field(tmp_path):
    sig = "metric:embedding_similarity@1|embedder:{}|n:4|task:t@1|prompts:abc"
    for name, embedder, value in (("r1", "A", 0.3), ("r2", "A", 0.5), ("r3", "B", 0.1)):
        write_record(tmp_path, name, name, [metric("embedding_similarity", value, False, sig.format(embedder)),
                                            metric("distinct_2", value)])
    board = lb.build(tmp_path)
    data = json.loads(board.json_text)
    assert len(_task(data, "t")["groups"]) == 1  # same N, task and prompts: one comparison group
    main, variant = (c for c in data["columns"] if c["metric"] == "embedding_similarity")
    assert set(main["cells"]) == {"r1", "r2"} and main["differs"] == {"embedder": "A"}
    assert set(variant["cells"]) == {"r3"} and variant["differs"] == {"embedder": "B"}
    assert variant["id"] == "t/embedding_similarity#2"
    assert "not comparable: embedder B vs A" in board.html_text


# ---------------------------------------------------------------- win rates


def test_win_rates_on_a_constructed_case(tmp_path):
    s1 = "metric:m_sig@1|p:1|n:4|task:t@1|prompts:abc"
    s2 = "metric:m_sig@1|p:2|n:4|task:t@1|prompts:abc"
    write_record(tmp_path, "A", "A", [metric("m_up", 0.9), metric("m_down", 0.3, False), metric("m_sig", 1.0,
                                                                                               signature=s1)])
    write_record(tmp_path, "B", "B", [metric("m_up", 0.5), metric("m_down", 0.1, False), metric("m_sig", 2.0,
                                                                                               signature=s1)])
    write_record(tmp_path, "C", "C", [metric("m_up", 0.5), metric("m_down", None, False), metric("m_sig", 100.0,
                                                                                                signature=s2)])
    board = json.loads(lb.build(tmp_path).json_text)
    rates = {r["key"]: r["win_rate"] for r in board["runs"]}
    # m_up: A beats B and C, B ties C.  m_down: B beats A (C undefined).  m_sig: B beats A (C alone in p:2).
    assert rates["A"] == {"wins": 2.0, "comparisons": 4, "rate": 0.5}
    assert rates["B"] == {"wins": 2.5, "comparisons": 4, "rate": 0.625}
    assert rates["C"] == {"wins": 0.5, "comparisons": 2, "rate": 0.25}
    assert [r["key"] for r in board["runs"]] == ["B", "A", "C"]


def test_float_noise_is_a_tie(tmp_path):
    write_record(tmp_path, "A", "A", [metric("kl", 4.0e-17, False)])
    write_record(tmp_path, "B", "B", [metric("kl", -3.2e-16, False)])
    board = json.loads(lb.build(tmp_path).json_text)
    assert {r["win_rate"]["wins"] for r in board["runs"]} == {0.5}


# ---------------------------------------------------------------- the page


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def test_model_texts_and_labels_are_escaped(built):
    page = built.html_text
    for payload in (*HOSTILE, EVIL_LABEL):
        assert html.escape(payload, quote=True) in page
        assert payload not in page
    parser = _Tags()
    parser.feed(page)
    names = {tag for tag, _ in parser.tags}
    assert not names & {"script", "img", "iframe", "object", "embed", "i"}
    assert all(not name.lower().startswith("on") for _, attrs in parser.tags for name, _ in attrs)
    assert "<script" not in page.lower()
    style_tags = [attrs for tag, attrs in parser.tags if tag == "style"]
    assert len(style_tags) == 1 and not any(name == "style" for _, attrs in parser.tags for name, _ in attrs)


def test_page_is_self_contained(built):
    page = built.html_text
    assert page.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in page
    parser = _Tags()
    parser.feed(page)
    assert not {tag for tag, _ in parser.tags} & {"link", "script", "img", "iframe", "object", "embed"}
    for tag, attrs in parser.tags:
        for name, value in attrs:
            assert name not in ("src", "srcset", "action", "formaction"), tag
            if name == "href":
                assert value.startswith("#"), (tag, value)  # in-page links only
    head = page[: page.index("</head>")]
    assert "@import" not in head and "url(" not in head
    assert page.count("<svg") >= 5
    assert "↑" in page and "↓" in page
    for section in ('id="overview"', 'id="family-dialogue"', 'id="family-random-choice"', 'id="viewer"'):
        assert section in page


# ---------------------------------------------------------------- determinism


def test_regenerating_gives_byte_identical_files(runs, tmp_path):
    first = _cli("leaderboard", str(runs), "--out", str(tmp_path / "one"))
    assert first.exit_code == 0, first.output
    moved = tmp_path / "elsewhere" / "runs"
    shutil.copytree(runs, moved)
    again = _cli("leaderboard", str(moved), "--out", str(tmp_path / "two"))
    assert again.exit_code == 0, again.output
    for name in ("leaderboard.json", "index.html"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert json.loads((tmp_path / "one" / "leaderboard.json").read_text()) == json.loads(lb.build(runs).json_text)


def test_byte_identical_across_processes_and_hash_seeds(runs, tmp_path):
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"seed{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed, "OMP_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, "-m", "divbench", "leaderboard", str(runs), "--out", str(out)],
                              env=env, capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert done.returncode == 0, done.stderr
        outputs.append([(out / n).read_bytes() for n in ("leaderboard.json", "index.html")])
    assert outputs[0] == outputs[1]


def test_check_flags_a_stale_board(runs, tmp_path):
    assert _cli("leaderboard", str(runs), "--out", str(tmp_path)).exit_code == 0
    ok = _cli("leaderboard", str(runs), "--out", str(tmp_path), "--check")
    assert ok.exit_code == 0, ok.output
    (tmp_path / "index.html").write_text("stale", encoding="utf-8")
    stale = _cli("leaderboard", str(runs), "--out", str(tmp_path), "--check")
    assert stale.exit_code == 1
    assert "index.html" in stale.output


def test_default_out_is_the_runs_folder_and_rebuilding_there_is_stable(runs, tmp_path):
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    assert _cli("leaderboard", str(copy)).exit_code == 0
    first = (copy / "index.html").read_bytes()
    assert _cli("leaderboard", str(copy)).exit_code == 0  # its own output is not mistaken for a run
    assert (copy / "index.html").read_bytes() == first


# ---------------------------------------------------------------- errors


def _cli(*args: str):
    return cli.invoke(app, list(args))


def _one_line_error(result, text: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert text in result.output


def test_missing_runs_folder(tmp_path):
    _one_line_error(_cli("leaderboard", str(tmp_path / "nope")), "does not exist")
    (tmp_path / "file").write_text("x")
    _one_line_error(_cli("leaderboard", str(tmp_path / "file")), "is not a folder of runs")


def test_no_runs_found(tmp_path):
    _one_line_error(_cli("leaderboard", str(tmp_path)), "no scored runs under")
    assert not (tmp_path / "index.html").exists()


def test_only_unscored_runs(runs, tmp_path):
    shutil.copytree(runs / "g-unscored", tmp_path / "g-unscored")
    result = _cli("leaderboard", str(tmp_path))
    _one_line_error(result, "1 unscored folder(s) skipped")


def test_unscored_run_is_a_warning(runs, tmp_path):
    result = _cli("leaderboard", str(runs), "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "warning: skipped g-unscored" in result.output
    assert "divbench score" in result.output


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not valid JSON"),
    ('{"schema_version": 1, "run_id": "x"}', "run record is malformed"),
    ("[1, 2]", "expected a JSON object"),
    ('{"schema_version": 99}', "newer than this divbench"),
])
def test_bad_run_json_names_the_file(runs, tmp_path, content, message):
    shutil.copytree(runs / "a-diverse", tmp_path / "a-diverse")
    bad = tmp_path / "zz-bad" / "run.json"
    bad.parent.mkdir()
    bad.write_text(content)
    result = _cli("leaderboard", str(tmp_path), "--out", str(tmp_path / "out"))
    _one_line_error(result, message)
    assert "zz-bad" in result.output and "run.json" in result.output
    assert not (tmp_path / "out").exists()


def test_a_non_numeric_value_names_the_file(tmp_path):
    folder = write_record(tmp_path, "A", "A", [metric("m", 0.5)])
    data = json.loads((folder / "run.json").read_text())
    data["tasks"][0]["metrics"][0]["value"] = "high"
    (folder / "run.json").write_text(json.dumps(data))
    _one_line_error(_cli("leaderboard", str(tmp_path)), "is not a number")


# ---------------------------------------------------------------- committed boards


def _committed_boards() -> list[Path]:
    return sorted(p.parent for p in (ROOT / "leaderboards").glob("*/leaderboard.json"))


def test_committed_boards_regenerate_byte_identically(tmp_path):
    boards = _committed_boards()
    if not boards:
        pytest.skip("no leaderboards/*/leaderboard.json committed yet")
    for folder in boards:
        out = tmp_path / folder.name
        result = _cli("leaderboard", str(folder), "--out", str(out))
        assert result.exit_code == 0, result.output
        for name in ("leaderboard.json", "index.html"):
            assert (out / name).read_bytes() == (folder / name).read_bytes(), (
                f"{folder / name} is stale: rerun `divbench leaderboard {folder.relative_to(ROOT)}`")


def test_malformed_plot_details_are_left_out_not_fatal(tmp_path):
    bad = {"prompts": {"x": {"options": ["a", "b"], "target": "uniform", "invalid": 0.0},
                       "y": {"options": ["a", "b"], "target": [0.5, 0.5], "model": [1.0, 0.0], "invalid": 0.1}}}
    result = metric("tv_distance", 0.5, False)
    result = type(result)(**{**result.__dict__, "details": bad})
    write_record(tmp_path, "A", "A", [result], task="c", family="random_choice")
    board = json.loads(lb.build(tmp_path).json_text)
    (plot,) = board["plots"]["choice"]
    assert [p["prompt_id"] for p in plot["prompts"]] == ["y"]


def test_temperature_curve_joins_runs_whose_system_options_differ_only_in_temperature(tmp_path):
    """`divbench run --temperature T` records T in system.options["sampling"]: one curve over T."""
    for t in ("0.7", "1.3"):
        result = _cli("run", "--model", "fake:diverse", "--tasks", "toy_text", "--temperature", t,
                      "--out", str(tmp_path), "--display", "none", "--threads", "1", "--no-cache")
        assert result.exit_code == 0, result.output
    board = json.loads(lb.build(tmp_path).json_text)
    (plot,) = board["plots"]["temperature"]
    (curve,) = plot["curves"]
    assert [p["t"] for p in curve["points"]] == [0.7, 1.3]
