"""The ``divbench`` command line: thin over the runner, prints with rich."""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from divbench import registry
from divbench.progress import Display, make_reporter

app = typer.Typer(
    help="divbench: measure how diverse a language model's outputs are.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True)
USER_ERROR_EXIT = 2


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn errors a user can cause into one red line and exit code 2 (no traceback)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from divbench.metrics.base import Undefined
        from divbench.metrics.embedding import EmbedderError
        from divbench.models.base import BackendError
        from divbench.runner import RunError
        from divbench.store import StoreError
        from divbench.strategies.base import StrategyError
        from divbench.suite import SuiteError
        from divbench.systems import SystemSpecError
        from divbench.tasks.base import TaskError
        from divbench.types import SchemaError

        known = (BackendError, EmbedderError, TaskError, SuiteError, RunError, StoreError, SchemaError, Undefined,
                 StrategyError, SystemSpecError, registry.UnknownNameError, FileNotFoundError, NotADirectoryError,
                 PermissionError)
        try:
            return func(*args, **kwargs)
        except known as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(USER_ERROR_EXIT) from None

    return wrapper


def _set_threads(threads: int | None) -> int:
    count = threads or os.cpu_count() or 1
    os.environ.setdefault("OMP_NUM_THREADS", str(count))
    return count


@app.command()
@user_errors
def run(
    model: Annotated[str | None, typer.Option(help="'default' (bundled SmolLM2-135M-Instruct; the default), a local "
                                                   "HF model folder, a .gguf file, a hub name, or fake:diverse / "
                                                   "fake:collapsed")] = None,
    adapter: Annotated[str | None, typer.Option(help="a peft LoRA adapter folder to apply")] = None,
    system_file: Annotated[Path | None, typer.Option("--system", help="a system .toml (see benchmarks/systems/); "
                                                                      "the flags below override its fields")] = None,
    suite: Annotated[str, typer.Option(help="built-in suite name (quick, full) or a suite .toml")] = "quick",
    tasks: Annotated[str | None, typer.Option(help="comma-separated task names (default: the suite's)")] = None,
    n: Annotated[int | None, typer.Option(help="texts per prompt for every task (default: the suite's)")] = None,
    limit: Annotated[int | None, typer.Option(help="only the first K prompts of each task")] = None,
    data: Annotated[Path | None, typer.Option(help="a data file for the tasks that read one (dialogue: "
                                                   "PoExFT-format JSONL of {context, candidates})")] = None,
    seed: Annotated[int | None, typer.Option(help="run seed (default: the suite's)")] = None,
    strategy: Annotated[str | None, typer.Option(help="prompting strategy (default none; see "
                                                      "`divbench list strategies`)")] = None,
    strategy_option: Annotated[list[str] | None, typer.Option(help="KEY=VALUE strategy option, repeatable "
                                                                   "(e.g. k=8 for verbalized)")] = None,
    temperature: Annotated[float | None, typer.Option(help="sampling temperature for every task")] = None,
    top_p: Annotated[float | None, typer.Option(help="nucleus top-p for every task")] = None,
    top_k: Annotated[int | None, typer.Option(help="top-k for every task (0: off)")] = None,
    min_p: Annotated[float | None, typer.Option(help="min-p for every task (0: off)")] = None,
    max_new_tokens: Annotated[int | None, typer.Option(help="new-token limit per text for every task")] = None,
    label: Annotated[str | None, typer.Option(help="system label shown in reports")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="folder that holds run folders")] = Path("runs"),
    threads: Annotated[int | None, typer.Option(help="torch CPU threads (default: all cores)")] = None,
    batch_size: Annotated[int, typer.Option(help="rows (prompts x N) per forward batch")] = 64,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="neither read nor write the generation store")
                        ] = False,
    display: Annotated[str, typer.Option(help="progress display: rich, plain or none")] = "rich",
    all_metrics: Annotated[bool, typer.Option("--all-metrics", help="print every metric, not only the "
                                                                    "headline ones (run.json has all)")] = False,
) -> None:
    """Generate with a model on a suite, score it, and print a summary.

    Writes RUN_DIR/manifest.json, RUN_DIR/generations.jsonl and RUN_DIR/run.json under --out.
    Sets already generated (same model, prompt, strategy, sampling and seed) are taken from the store
    in $DIVBENCH_CACHE, so a killed run resumes where it stopped.
    """
    from divbench.models.base import BackendOptions
    from divbench.runner import build_backend, check_strategy, generate, make_run_id, score_run
    from divbench.store import GenerationStore
    from divbench.suite import load_suite

    display_mode = _display(display)
    threads_used = _set_threads(threads)
    sampling = {k: v for k, v in (("temperature", temperature), ("top_p", top_p), ("top_k", top_k),
                                  ("min_p", min_p), ("max_new_tokens", max_new_tokens)) if v is not None}
    spec = _system_spec(system_file, model, adapter, strategy, label, strategy_option, sampling)
    chosen_strategy = spec.build_strategy()
    chosen = load_suite(suite).select(_split(tasks), n=n, limit=limit, sampling=spec.sampling)
    for entry in chosen.tasks:
        registry.get("tasks", entry.name)  # unknown names fail before the model loads
    if data is not None:
        chosen = _with_data(chosen, data, limit)
    chosen = _fit_scoring(chosen, chosen_strategy)
    check_strategy(chosen_strategy, chosen)  # unsupported task families fail before the model loads
    system = spec.system(chosen_strategy)
    run_seed = chosen.seed if seed is None else seed
    options = BackendOptions(threads=threads_used, device=device, batch_size=batch_size)
    backend = build_backend(system, options)
    fingerprint = backend.fingerprint()
    run_dir = out_dir / make_run_id(system, fingerprint, chosen, run_seed)
    store = None if no_cache else GenerationStore.for_system(fingerprint)
    reporter = make_reporter(display_mode)
    try:
        generate(system, chosen, run_seed, backend, run_dir, strategy=chosen_strategy, store=store,
                 reporter=reporter, chunk_rows=batch_size)
    finally:
        reporter.close()
    record = score_run(run_dir)
    _print_summary(record, run_dir, all_metrics)


def _system_spec(system_file: Path | None, model: str | None, adapter: str | None, strategy: str | None,
                 label: str | None, strategy_option: list[str] | None, sampling: dict[str, Any]) -> Any:
    """The system file (if any) with the command-line flags laid over it."""
    from divbench.systems import SystemSpec, load_system, parse_assignment

    spec = load_system(system_file) if system_file is not None else SystemSpec()
    options = dict(parse_assignment(text) for text in strategy_option or [])
    return spec.override(model=model, adapter=adapter, strategy=strategy, label=label, strategy_options=options,
                         sampling=sampling)


def _fit_scoring(suite: Any, strategy: Any) -> Any:
    """Sample the tasks the suite scores exactly when the strategy produces its own texts (with a note)."""
    from dataclasses import replace

    exact = [e.name for e in suite.tasks if e.scoring == "exact"]
    if strategy.keeps_exact_scoring or not exact:
        return suite
    err.print(f"note: strategy {strategy.name!r} produces its own texts, so {', '.join(exact)} "
              f"{'is' if len(exact) == 1 else 'are'} scored from sampled texts, not exactly", highlight=False,
              soft_wrap=True)
    return replace(suite, tasks=tuple(replace(e, scoring="sampled") if e.scoring == "exact" else e
                                      for e in suite.tasks))


def _with_data(suite: Any, data: Path, limit: int | None) -> Any:
    """Give ``data`` to every task of the suite that reads one (all its prompts, or the first ``limit``)."""
    from dataclasses import replace

    if not data.exists():
        raise FileNotFoundError(f"data file '{data}' does not exist")
    takes_data = [e.name for e in suite.tasks
                  if "data" in inspect.signature(registry.get("tasks", e.name).__init__).parameters]
    if not takes_data:
        raise typer.BadParameter("no task of this run reads a data file (dialogue does)")
    entries = tuple(replace(e, options={**e.options, "data": str(data.resolve())}, limit=limit)
                    if e.name in takes_data else e for e in suite.tasks)
    return replace(suite, tasks=entries)


@app.command()
@user_errors
def score(
    source: Annotated[Path, typer.Argument(help="a run folder, or a JSONL of {prompt_id, texts} lines")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="where run.json goes (for a JSONL source)")
                       ] = None,
    metrics: Annotated[str | None, typer.Option(help="comma-separated metric names (default: all that apply)")
                       ] = None,
    resamples: Annotated[int, typer.Option(help="bootstrap resamples for confidence intervals")] = 1000,
    bootstrap_seed: Annotated[int, typer.Option(help="bootstrap seed")] = 0,
    embedder: Annotated[Path | None, typer.Option(help="sentence-transformers model folder for "
                                                       "embedding metrics")] = None,
    all_metrics: Annotated[bool, typer.Option("--all-metrics", help="print every metric, not only the "
                                                                    "headline ones (run.json has all)")] = False,
) -> None:
    """Score generations without a model: re-score a run folder, or score any JSONL of sets."""
    from divbench.metrics.scoring import Bootstrap
    from divbench.runner import score_run
    from divbench.scoring_files import score_sets_file

    if embedder is not None:
        from divbench.metrics.embedding import set_embedder_path

        if not embedder.is_dir():
            raise FileNotFoundError(f"embedder folder '{embedder}' does not exist")
        set_embedder_path(embedder)
    boot = Bootstrap(n_resamples=resamples, seed=bootstrap_seed)
    names = _split(metrics)
    if source.is_dir():
        record = score_run(source, names, boot)
        _print_summary(record, source, all_metrics or names is not None)
        return
    if out_dir is None:
        raise typer.BadParameter("scoring a JSONL file needs --out DIR")
    record = score_sets_file(source, out_dir, names, boot)
    _print_summary(record, out_dir, all_metrics or names is not None)


@app.command("list")
@user_errors
def list_(
    kind: Annotated[str | None, typer.Argument(help="tasks, metrics, backends or strategies (default: all)")
                    ] = None,
) -> None:
    """List the registered tasks, metrics, backends and strategies."""
    kinds = registry.KINDS if kind is None else (kind,)
    for item in kinds:
        if item not in registry.KINDS:
            raise registry.UnknownNameError(f"unknown kind {item!r}; known: {', '.join(registry.KINDS)}")
        out.print(_listing(item))


@app.command()
@user_errors
def leaderboard(
    runs_dir: Annotated[Path, typer.Argument(help="folder holding run folders (searched recursively)")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="where leaderboard.json and index.html go "
                                                               "(default: RUNS_DIR)")] = None,
    check: Annotated[bool, typer.Option("--check", help="write nothing; exit 1 if the files in --out differ "
                                                        "from what these runs give")] = False,
) -> None:
    """Build leaderboard.json and one self-contained index.html from scored run folders.

    Rows are systems; a metric column only holds runs whose signatures match. Needs no model and
    no scoring; the same runs always give byte-identical files.
    """
    from divbench import leaderboard as lb

    target = out_dir or runs_dir
    board = lb.build(runs_dir)
    for path, reason in board.skipped:
        err.print(f"[yellow]warning:[/yellow] skipped {escape(path)}: {escape(reason)} "
                  f"(`divbench score {escape(str(runs_dir / path))}` scores it)", highlight=False, soft_wrap=True)
    if check:
        stale = lb.stale_files(board, target)
        if stale:
            err.print(f"[red]stale:[/red] {escape(', '.join(stale))} in {escape(str(target))} differ from what "
                      f"the runs give; rerun `divbench leaderboard {escape(str(runs_dir))}`", highlight=False,
                      soft_wrap=True)
            raise typer.Exit(1)
        out.print(f"{board.runs} runs: {lb.BOARD_JSON} and {lb.BOARD_HTML} in {target} are up to date",
                  highlight=False)
        return
    paths = lb.write(board, target)
    sizes = ", ".join(f"{p} ({p.stat().st_size / 1024:.0f} KiB)" for p in paths.values())
    out.print(f"{board.runs} runs → {sizes}", highlight=False, soft_wrap=True)


def _listing(kind: str) -> Table:
    table = Table(title=kind, title_justify="left")
    for column in _LIST_COLUMNS[kind]:
        table.add_column(column)
    for name, obj in registry.load_all(kind).items():  # type: ignore[arg-type]
        table.add_row(name, *_LIST_ROWS[kind](obj))
    return table


def _task_row(cls: Any) -> list[str]:
    task = cls()
    return [task.family, str(task.version), str(len(task.prompts)), task.prompt_set_hash, task.description]


def _metric_row(metric: Any) -> list[str]:
    families = ",".join(sorted(metric.families)) if metric.families else "all"
    arrow = "↑" if metric.higher_is_better else "↓"
    return [metric.scope, arrow, families, metric.description]


def _strategy_row(cls: Any) -> list[str]:
    families = ", ".join(sorted(cls.families)) if cls.families is not None else "all"
    options = ", ".join(f"{k}={v}" for k, v in cls.defaults.items()) or "-"
    exact = "kept" if cls.keeps_exact_scoring else "sampled instead"
    return [families, options, exact, cls.description]


_LIST_COLUMNS = {
    "tasks": ["name", "family", "version", "prompts", "prompt-set hash", "description"],
    "metrics": ["name", "scope", "better", "families", "description"],
    "backends": ["name", "factory"],
    "strategies": ["name", "families", "options (default)", "exact scoring", "description"],
}
_LIST_ROWS: dict[str, Callable[[Any], list[str]]] = {
    "tasks": _task_row,
    "metrics": _metric_row,
    "backends": lambda f: [f"{f.__module__}.{f.__name__}"],
    "strategies": lambda cls: _strategy_row(cls),
}


#: metrics the summary prints by default, per task family (``divbench run --all-metrics`` prints all)
SUMMARY_METRICS = {
    "random_choice": ("normalized_entropy", "tv_distance", "kl_to_population", "coverage", "invalid_rate"),
    "*": ("distinct_2", "self_bleu", "semantic_diversity", "skew_entropy_gender", "skew_entropy_country",
          "skew_entropy_occupation_sector"),
}


def _print_summary(record: Any, run_dir: Path, all_metrics: bool = False) -> None:
    table = Table(title=f"{record.system.label} — {record.run_id}", title_justify="left")
    for column in ("task", "N", "metric", "value", "95% CI", "better"):
        table.add_column(column, justify="right" if column in ("N", "value") else "left")
    shown = total = 0
    for task in record.tasks:
        wanted = SUMMARY_METRICS.get(task.family, SUMMARY_METRICS["*"])
        for metric in task.metrics:
            if metric.details.get("hidden"):
                continue
            total += 1
            if all_metrics or metric.name in wanted:
                shown += 1
                table.add_row(task.task, str(task.n), metric.name, _fmt(metric.value),
                              _fmt_ci(metric.ci), "↑" if metric.higher_is_better else "↓")
    out.print(table)
    if shown < total:
        out.print(f"{shown} of {total} metrics shown; --all-metrics prints all, run.json has them all")
    cost = record.cost
    out.print(f"{cost.get('sets', 0)} sets, {cost.get('tokens', 0)} tokens, {cost.get('seconds', 0):.1f} s "
              f"of generation → {run_dir / 'run.json'}")


def _fmt(value: float | None) -> str:
    return "null" if value is None else f"{value + 0.0:.4f}"  # + 0.0 turns -0.0 into 0.0


def _fmt_ci(ci: tuple[float, float] | None) -> str:
    return "" if ci is None else f"[{_fmt(ci[0])}, {_fmt(ci[1])}]"


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _display(value: str) -> Display:
    if value not in ("rich", "plain", "none"):
        raise typer.BadParameter(f"--display must be rich, plain or none, not {value!r}")
    if value == "rich" and not sys.stderr.isatty():
        return "plain"
    return value  # type: ignore[return-value]


@app.command()
@user_errors
def check(
    new_run: Annotated[Path, typer.Argument(help="the run to judge: a scored run folder (or its run.json)")],
    baseline: Annotated[Path, typer.Option(help="the run to compare with: a scored run folder (or its run.json)")],
    metrics: Annotated[str | None, typer.Option(help="comma-separated metric names (default: every metric "
                                                     "scored in the runs)")] = None,
    confidence: Annotated[float, typer.Option(help="family-wise confidence over all tests of the check")] = 0.95,
    tolerance: Annotated[float, typer.Option(help="absolute change that does not count as a movement")] = 0.0,
    resamples: Annotated[int, typer.Option(help="bootstrap resamples per test")] = 2000,
    bootstrap_seed: Annotated[int, typer.Option(help="bootstrap seed")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the comparison as JSON here")] = None,
) -> None:
    """CI regression gate: did NEW_RUN get worse than --baseline on any metric?

    Both runs must have been scored with the same signatures (N, sampling, task versions, prompt
    sets, metric versions and parameters); only the run seed and the stored bootstrap settings may
    differ. Per task and metric the difference new - baseline gets an interval: a paired bootstrap
    over shared prompts for per-set metrics, independent bootstraps of the rebuilt units for per-task
    metrics, with a Student-t critical value (honest with few prompts).

    Multiple comparisons: with m tests, each interval is drawn at 1 - (1 - confidence)/m
    (Bonferroni), so two runs of the same system are wrongly called different on any metric at most
    (1 - confidence) of the time. Metrics equal on every prompt of both runs are not counted in m.
    A metric regressed when its whole interval lies beyond --tolerance on its worse side.

    Exit codes: 0 nothing regressed, 3 something regressed, 2 the runs cannot be compared
    (missing or unscored run, newer schema, signatures differ, unknown metric).
    """
    from divbench.check import CheckOptions, compare_runs
    from divbench.store import write_atomic

    options = CheckOptions(metrics=tuple(_split(metrics) or ()) or None, confidence=confidence,
                           tolerance=tolerance, resamples=resamples, bootstrap_seed=bootstrap_seed)
    report = compare_runs(new_run, baseline, options)
    _print_check(report)
    if json_out is not None:
        import json

        json_out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(json_out, json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    raise typer.Exit(report.exit_code)


_VERDICT_STYLE = {"regressed": "bold red", "improved": "green", "unchanged": "dim", "untested": "yellow",
                  "missing": "yellow"}


def _print_check(report: Any) -> None:
    from rich import box

    level = f"{report.per_test_confidence * 100:.4g}%"
    columns = ("verdict", "task", "metric", "", "n", "baseline", "new", "diff", f"{level} CI")
    rows, hidden, notes = [], 0, {}
    for row in report.rows:
        if row.verdict == "untested" and row.old is None and row.new is None:
            hidden += 1  # undefined in both runs: nothing to say
            continue
        est = row.estimate
        n = "" if est is None else (str(est.n_old) if est.n_old == est.n_new else f"{est.n_old}/{est.n_new}")
        arrow = "" if row.metric == "*" else ("↑" if row.higher_is_better else "↓")
        diff = "" if est is None else _short(0.0 if est.degenerate else est.diff, "+")
        ci = "" if row.ci is None else f"[{_short(row.ci[0])}, {_short(row.ci[1])}]"
        if est is not None and est.degenerate:
            ci = "identical"
        note = row.note if row.note and not (est is not None and est.degenerate) else ""
        ref = f" ({notes.setdefault(note, len(notes) + 1)})" if note else ""
        rows.append((row.verdict + ref, row.task, row.metric, arrow, n, _short(row.old), _short(row.new), diff, ci))
    table = Table(title=f"{escape(report.new_run.system.label)} ({report.new_run.run_id}) vs baseline "
                        f"{escape(report.baseline_run.system.label)} ({report.baseline_run.run_id})",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for i, column in enumerate(columns):
        width = max([len(column), *(len(r[i]) for r in rows)])
        table.add_column(column, justify="right" if column in ("n", "baseline", "new", "diff") else "left",
                         no_wrap=True, min_width=width)
    for r in rows:
        style = _VERDICT_STYLE[r[0].split()[0]]
        table.add_row(f"[{style}]{r[0]}[/{style}]", *(escape(c) for c in r[1:]))
    out.print(table)
    for text, number in notes.items():
        out.print(f"({number}) {escape(text)}", highlight=False)
    if hidden:
        out.print(f"{hidden} metric/task pairs undefined in both runs are not shown (see --json).")
    out.print(f"{report.tests} tests, each at {level} (Bonferroni: family-wise {report.options.confidence:.0%}); "
              f"tolerance {report.options.tolerance:g}. {report.count('regressed')} regressed, "
              f"{report.count('improved')} improved, {report.count('unchanged')} unchanged, "
              f"{report.count('untested')} untested.")
    if report.exit_code:
        names = [f"{r.task}/{r.metric}" for r in report.regressed]
        more = f" and {len(names) - 10} more" if len(names) > 10 else ""
        out.print("[bold red]REGRESSED:[/bold red] " + escape(", ".join(names[:10]) + more))
    else:
        out.print("[green]OK[/green]: nothing regressed.")


def _short(value: float | None, sign: str = "") -> str:
    """Four decimals (one from 100 on), never "-0.0000"."""
    if value is None:
        return ""
    digits = 1 if abs(value) >= 100 else 4
    return f"{round(value, digits) + 0.0:{sign}.{digits}f}"


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
