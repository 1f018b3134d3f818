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
from divbench.types import System

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
        from divbench.models.base import BackendError
        from divbench.runner import RunError
        from divbench.store import StoreError
        from divbench.suite import SuiteError
        from divbench.tasks.base import TaskError
        from divbench.types import SchemaError

        known = (BackendError, TaskError, SuiteError, RunError, StoreError, SchemaError, Undefined,
                 registry.UnknownNameError, FileNotFoundError, NotADirectoryError, PermissionError)
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


def _backend_for(model: str) -> str:
    if model.startswith("fake:"):
        return "fake"
    return "reference" if model == "reference" else "hf"


def _system_for(model: str, adapter: str | None, strategy: str, label: str | None) -> System:
    backend = _backend_for(model)
    kind = "finetuned" if adapter else ("baseline" if strategy == "none" else "prompting")
    if backend == "reference":
        kind = "reference"
    name = label or (Path(model).name if backend == "hf" and model != "default" else model)
    if adapter:
        name += f"+{Path(adapter).name}"
    if strategy != "none":
        name += f"/{strategy}"
    return System(label=name, kind=kind, backend=backend, model=model, adapter=adapter, strategy=strategy)


@app.command()
@user_errors
def run(
    model: Annotated[str, typer.Option(help="'default' (bundled SmolLM2-135M-Instruct), a local HF model "
                                            "folder, a .gguf file, a hub name, or fake:diverse / fake:collapsed")
                     ] = "default",
    adapter: Annotated[str | None, typer.Option(help="a peft LoRA adapter folder to apply")] = None,
    suite: Annotated[str, typer.Option(help="built-in suite name (quick, full) or a suite .toml")] = "quick",
    tasks: Annotated[str | None, typer.Option(help="comma-separated task names (default: the suite's)")] = None,
    n: Annotated[int | None, typer.Option(help="texts per prompt for every task (default: the suite's)")] = None,
    limit: Annotated[int | None, typer.Option(help="only the first K prompts of each task")] = None,
    data: Annotated[Path | None, typer.Option(help="a data file for the tasks that read one (dialogue: "
                                                   "PoExFT-format JSONL of {context, candidates})")] = None,
    seed: Annotated[int | None, typer.Option(help="run seed (default: the suite's)")] = None,
    strategy: Annotated[str, typer.Option(help="prompting strategy (see `divbench list strategies`)")] = "none",
    label: Annotated[str | None, typer.Option(help="system label shown in reports")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="folder that holds run folders")] = Path("runs"),
    threads: Annotated[int | None, typer.Option(help="torch CPU threads (default: all cores)")] = None,
    batch_size: Annotated[int, typer.Option(help="rows (prompts x N) per forward batch")] = 64,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="neither read nor write the generation store")
                        ] = False,
    display: Annotated[str, typer.Option(help="progress display: rich, plain or none")] = "rich",
) -> None:
    """Generate with a model on a suite, score it, and print a summary.

    Writes RUN_DIR/manifest.json, RUN_DIR/generations.jsonl and RUN_DIR/run.json under --out.
    Sets already generated (same model, prompt, sampling and seed) are taken from the store in
    $DIVBENCH_CACHE, so a killed run resumes where it stopped.
    """
    from divbench.models.base import BackendOptions
    from divbench.runner import build_backend, build_strategy, generate, make_run_id, score_run
    from divbench.store import GenerationStore
    from divbench.suite import load_suite

    display_mode = _display(display)
    threads_used = _set_threads(threads)
    chosen = load_suite(suite).select(_split(tasks), n=n, limit=limit)
    for entry in chosen.tasks:
        registry.get("tasks", entry.name)  # unknown names fail before the model loads
    if data is not None:
        chosen = _with_data(chosen, data, limit)
    build_strategy(strategy)
    system = _system_for(model, adapter, strategy, label)
    run_seed = chosen.seed if seed is None else seed
    options = BackendOptions(threads=threads_used, device=device, batch_size=batch_size)
    backend = build_backend(system, options)
    fingerprint = backend.fingerprint()
    run_dir = out_dir / make_run_id(system, fingerprint, chosen, run_seed)
    store = None if no_cache else GenerationStore.for_system(fingerprint)
    reporter = make_reporter(display_mode)
    try:
        generate(system, chosen, run_seed, backend, run_dir, strategy=build_strategy(strategy), store=store,
                 reporter=reporter, chunk_rows=batch_size)
    finally:
        reporter.close()
    record = score_run(run_dir)
    _print_summary(record, run_dir)


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
) -> None:
    """Score generations without a model: re-score a run folder, or score any JSONL of sets."""
    from divbench.metrics.scoring import Bootstrap
    from divbench.runner import score_run
    from divbench.scoring_files import score_sets_file

    if embedder is not None:
        os.environ["DIVBENCH_EMBEDDER"] = str(embedder)
    boot = Bootstrap(n_resamples=resamples, seed=bootstrap_seed)
    names = _split(metrics)
    if source.is_dir():
        record = score_run(source, names, boot)
        _print_summary(record, source)
        return
    if out_dir is None:
        raise typer.BadParameter("scoring a JSONL file needs --out DIR")
    record = score_sets_file(source, out_dir, names, boot)
    _print_summary(record, out_dir)


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


_LIST_COLUMNS = {
    "tasks": ["name", "family", "version", "prompts", "prompt-set hash", "description"],
    "metrics": ["name", "scope", "better", "families", "description"],
    "backends": ["name", "factory"],
    "strategies": ["name", "description"],
}
_LIST_ROWS: dict[str, Callable[[Any], list[str]]] = {
    "tasks": _task_row,
    "metrics": _metric_row,
    "backends": lambda f: [f"{f.__module__}.{f.__name__}"],
    "strategies": lambda cls: [cls.description],
}


def _print_summary(record: Any, run_dir: Path) -> None:
    table = Table(title=f"{record.system.label} — {record.run_id}", title_justify="left")
    for column in ("task", "N", "metric", "value", "95% CI", "better"):
        table.add_column(column, justify="right" if column in ("N", "value") else "left")
    for task in record.tasks:
        for metric in task.metrics:
            if metric.details.get("hidden"):
                continue
            table.add_row(task.task, str(task.n), metric.name, _fmt(metric.value),
                          _fmt_ci(metric.ci), "↑" if metric.higher_is_better else "↓")
    out.print(table)
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


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
