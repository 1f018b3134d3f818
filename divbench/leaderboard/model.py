"""The leaderboard's JSON model: everything the page shows, built from the runs alone.

:func:`build_board` turns collected runs into one JSON-ready dict (``schema_version`` 1): rows
(systems with cost and mean win rate), columns (see :mod:`divbench.leaderboard.compare`), plot
data per task family, and a few generations per prompt for the viewer. The HTML page is rendered
from this dict and nothing else. Everything is sorted and derived floats are rounded, so the same
runs always give the same bytes; the only timestamps are the runs' own ``created``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from typing import Any

from divbench.leaderboard import compare
from divbench.leaderboard.collect import Collected, LoadedRun
from divbench.leaderboard.svg import OTHER

BOARD_SCHEMA_VERSION = 1
#: viewer: prompts per task, texts per set and characters per text
VIEWER_PROMPTS = 3
VIEWER_TEXTS = 32
VIEWER_CHOICE_TEXTS = 16  # random-choice answers are short and N is large
VIEWER_CHARS = 300
PROMPT_CHARS = 400
#: random-choice plots: prompts per task, bars per prompt (the rest are summed as "other")
CHOICE_PROMPTS = 2
CHOICE_BARS = 12
#: demographic plots: categories per attribute (the rest are summed as "other")
DEMOGRAPHIC_CATEGORIES = 8
FREE_TEXT_PLOTS = ("dialogue", "story", "persona")


def _r(value: float, digits: int = 6) -> float:
    """A derived float rounded for stable, short output (-0.0 becomes 0.0)."""
    return round(float(value), digits) + 0.0


# ---------------------------------------------------------------- rows


def _labels(runs: Sequence[LoadedRun]) -> dict[str, str]:
    """Display labels: the system label, with the run id (then the folder) added where labels clash."""
    labels = {r.key: r.record.system.label for r in runs}
    for extra in (lambda r: r.record.run_id, lambda r: r.key):
        counts: dict[str, int] = {}
        for label in labels.values():
            counts[label] = counts.get(label, 0) + 1
        labels = {r.key: (f"{labels[r.key]} [{extra(r)}]" if counts[labels[r.key]] > 1 else labels[r.key])
                  for r in runs}
    return labels


def _cost(sets: float, tokens: float, seconds: float) -> dict[str, Any]:
    sets = int(sets)
    return {"sets": sets, "tokens": int(tokens), "seconds": _r(seconds, 4),
            "tokens_per_set": _r(tokens / sets, 3) if sets else None,
            "seconds_per_set": _r(seconds / sets, 4) if sets else None}


def _rows(runs: Sequence[LoadedRun], rates: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    labels = _labels(runs)
    rows = []
    for run in runs:
        rec, cost = run.record, run.record.cost
        rows.append({
            "key": run.key, "run_id": rec.run_id, "label": labels[run.key], "system": rec.system.to_dict(),
            "seed": rec.seed, "suite": str(rec.suite.get("name", "")), "created": rec.created,
            "versions": dict(sorted(rec.versions.items())),
            "cost": _cost(cost.get("sets", 0), cost.get("tokens", 0), cost.get("seconds", 0.0)),
            "tasks": {t.task: _cost(t.n_prompts, t.tokens, t.seconds) | {"n": t.n} for t in rec.tasks},
            "win_rate": rates[run.key],
        })
    rows.sort(key=lambda r: (-(r["win_rate"]["rate"] if r["win_rate"]["rate"] is not None else -1.0),
                             r["label"], r["key"]))
    for rank, row in enumerate(rows):
        row["color"] = rank
    return rows


# ---------------------------------------------------------------- prompts


def _prompt_texts(runs: Sequence[LoadedRun]) -> dict[str, dict[str, str]]:
    """task -> prompt id -> the task's prompt text, for tasks that rebuild from packaged data unchanged."""
    from divbench.runner import build_task
    from divbench.suite import TaskEntry

    texts: dict[str, dict[str, str]] = {}
    for run in runs:
        for info in run.manifest.get("tasks", ()):
            name = info.get("task")
            entry = info.get("entry") or {}
            if name in texts or entry.get("options"):
                continue
            try:
                task = build_task(TaskEntry.from_dict(entry))
                if task.prompt_set_hash != info.get("prompt_set_hash"):
                    continue
                texts[name] = {p.id: _prompt_text(p) for p in task.prompts}
            except Exception:  # a plugin task missing here, a changed data file: show ids only
                continue
    return texts


def _prompt_text(prompt: Any) -> str:
    try:
        text = prompt.text
    except StopIteration:
        return ""
    return text if len(text) <= PROMPT_CHARS else text[: PROMPT_CHARS - 1].rstrip() + "…"


def _merged_order(orders: Sequence[Sequence[str]]) -> list[str]:
    """Prompt ids ordered by their earliest position in any run (ties by id)."""
    best: dict[str, int] = {}
    for order in orders:
        for i, pid in enumerate(order):
            best[pid] = min(best.get(pid, i), i)
    return sorted(best, key=lambda p: (best[p], p))


# ---------------------------------------------------------------- random choice


def _numbers(values: Any, size: int | None = None) -> bool:
    return (isinstance(values, list) and (size is None or len(values) == size)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values))


def _valid_choice(d: Any) -> bool:
    """A prompt's distribution details as :mod:`divbench.metrics.distribution` writes them (or "undefined")."""
    if not isinstance(d, dict):
        return False
    if "options" not in d:
        return isinstance(d.get("undefined"), str)
    options = d["options"]
    size = len(options) if isinstance(options, list) else -1
    return (size > 0 and _numbers(d.get("target"), size) and (d.get("model") is None or _numbers(d["model"], size))
            and (d.get("counts") is None or _numbers(d["counts"], size))
            and isinstance(d.get("invalid", 0.0), (int, float)))


def _choice_details(run: LoadedRun, task: str) -> dict[str, Any]:
    """prompt id -> distribution details, from the first metric that has them (malformed entries dropped)."""
    result = run.record.task(task)
    if result is None:
        return {}
    for metric in sorted(result.metrics, key=lambda m: m.name):
        prompts = metric.details.get("prompts")
        if isinstance(prompts, dict) and prompts:
            return {str(k): v for k, v in prompts.items() if _valid_choice(v)}
    return {}


def _choice_prompt(pid: str, entries: list[tuple[LoadedRun, dict[str, Any]]], text: str | None) -> dict[str, Any]:
    order: list[str] = []
    weight: dict[str, float] = {}
    for _, d in entries:
        if "options" not in d:
            continue
        for i, option in enumerate(d["options"]):
            option = str(option)
            if option not in weight:
                order.append(option)
                weight[option] = 0.0
            shares = [d["target"][i]] + ([d["model"][i]] if d.get("model") else [])
            weight[option] = max(weight[option], *(float(s) for s in shares))
    keep = order
    if len(order) > CHOICE_BARS:
        top = set(sorted(order, key=lambda o: (-weight[o], order.index(o)))[: CHOICE_BARS - 1])
        keep = [o for o in order if o in top]
    shown = keep + ([OTHER] if len(keep) < len(order) else [])
    target: list[float] | None = None
    systems = []
    for run, d in entries:
        if "options" not in d:
            systems.append({"run": run.key, "undefined": str(d.get("undefined", "no distribution"))})
            continue
        values = dict(zip(map(str, d["options"]), d["target"], strict=False))
        row_target = _project(values, shown)
        row: dict[str, Any] = {"run": run.key, "mode": d.get("mode", ""), "invalid": _r(d.get("invalid", 0.0))}
        if d.get("model") is None:
            row["undefined"] = "no valid answer"
        else:
            row["shares"] = _project(dict(zip(map(str, d["options"]), d["model"], strict=False)), shown)
        if d.get("counts") is not None:
            row["counts"] = [int(c) for c in _project(dict(zip(map(str, d["options"]), d["counts"], strict=False)),
                                                       shown, digits=0)]
            row["n"] = int(d.get("n", 0))
        if target is None:
            target = row_target
        elif row_target != target:
            row["target"] = row_target
        systems.append(row)
    return {"prompt_id": pid, "prompt_text": text, "options": shown, "target": target or [],
            "hidden_options": len(order) - len(keep), "systems": systems}


def _project(values: dict[str, Any], shown: list[str], digits: int = 6) -> list[float]:
    """Values on the shown options; everything else summed into the trailing "(other)"."""
    out = [float(values.get(o, 0.0)) for o in shown if o != OTHER]
    if shown and shown[-1] == OTHER:
        kept = set(shown)
        out.append(sum(float(v) for k, v in values.items() if k not in kept))
    return [_r(v, digits) for v in out]


def choice_plots(runs: Sequence[LoadedRun], order: list[str], tasks: list[tuple[str, str]],
                 texts: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    by_key = {r.key: r for r in runs}
    plots = []
    for task, family in tasks:
        if family != "random_choice":
            continue
        details = {key: _choice_details(by_key[key], task) for key in order}
        details = {k: v for k, v in details.items() if v}
        if not details:
            continue
        pids = _merged_order([list(d) for d in details.values()])[:CHOICE_PROMPTS]
        prompts = [_choice_prompt(pid, [(by_key[k], d[pid]) for k, d in details.items() if pid in d],
                                  texts.get(task, {}).get(pid)) for pid in pids]
        plots.append({"task": task, "prompts": prompts})
    return plots


# ---------------------------------------------------------------- cost and temperature


def _diversity_columns(columns: list[dict[str, Any]], tasks: list[tuple[str, str]]
                       ) -> Iterator[tuple[str, dict[str, Any]]]:
    """(task, its plotted diversity column) for every free-text task that has one."""
    for task, family in tasks:
        if family == "random_choice":
            continue
        column = compare.headline_column(columns, task, family, compare.DIVERSITY_PLOT)
        if column is not None:
            yield task, column


def cost_plots(rows: list[dict[str, Any]], columns: list[dict[str, Any]],
               tasks: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Diversity vs generation cost per free-text task (seconds per set, else tokens per set)."""
    plots = []
    for task, column in _diversity_columns(columns, tasks):
        points = []
        for row in rows:
            cell = column["cells"].get(row["key"])
            cost = row["tasks"].get(task)
            if cell and "value" in cell and cost:
                points.append({"run": row["key"], "seconds": cost["seconds_per_set"],
                               "tokens": cost["tokens_per_set"], "y": cell["value"], "ci": cell["ci"]})
        if not points:
            continue
        use_seconds = all((p["seconds"] or 0) > 0 for p in points)
        axis = "seconds_per_set" if use_seconds else "tokens_per_set"
        for p in points:
            p["x"] = p["seconds"] if use_seconds else p["tokens"]
        plots.append({"task": task, "column": column["id"], "metric": column["metric"],
                      "higher_is_better": column["higher_is_better"], "x": axis,
                      "points": [p for p in points if p["x"] is not None]})
    return plots


def _temperature(run: LoadedRun, task: str, signature: str) -> float | None:
    value = run.sampling(task).get("temperature")
    if value is None:
        value = run.record.system.options.get("temperature")
    if value is None:
        value = compare.signature_fields(signature).get("t")
    try:
        t = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return t if t is not None and math.isfinite(t) else None


def _system_key(run: LoadedRun) -> str:
    """The system without its label and temperature (top-level or in ``options.sampling``), and the seed."""
    system = run.record.system.to_dict()
    system.pop("label", None)
    options = {k: v for k, v in (system.get("options") or {}).items() if k != "temperature"}
    if isinstance(options.get("sampling"), dict):
        options["sampling"] = {k: v for k, v in options["sampling"].items() if k != "temperature"}
    system["options"] = options
    return json.dumps([system, run.record.seed], sort_keys=True, default=str)


def temperature_plots(runs: Sequence[LoadedRun], rows: list[dict[str, Any]], columns: list[dict[str, Any]],
                      tasks: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Diversity vs temperature for systems whose runs differ only in sampling temperature."""
    by_key = {r.key: r for r in runs}
    row_order = [r["key"] for r in rows]
    plots = []
    for task, main in _diversity_columns(columns, tasks):
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for column in columns:
            if column["task"] != task or column["metric"] != main["metric"]:
                continue
            rest = compare.without_fields(column["signature"], ("t", "sampling.t"))
            for key, cell in column["cells"].items():
                t = _temperature(by_key[key], task, column["signature"])
                if "value" not in cell or t is None:
                    continue
                groups.setdefault((_system_key(by_key[key]), rest), []).append(
                    {"run": key, "t": _r(t, 6), "y": cell["value"], "ci": cell["ci"]})
        curves = []
        for (system_key, _), points in sorted(groups.items()):
            if len({p["t"] for p in points}) < 2:
                continue
            points.sort(key=lambda p: (p["t"], row_order.index(p["run"])))
            system = json.loads(system_key)[0]
            name = system.get("model", "?") + (f"+{system['adapter']}" if system.get("adapter") else "")
            if system.get("strategy", "none") != "none":
                name += f"/{system['strategy']}"
            curves.append({"label": name, "color_run": points[0]["run"], "points": points})
        _unique_labels(curves)
        if curves:
            plots.append({"task": task, "metric": main["metric"], "higher_is_better": main["higher_is_better"],
                          "curves": curves})
    return plots


def _unique_labels(items: list[dict[str, Any]]) -> None:
    seen: dict[str, int] = {}
    for item in items:
        seen[item["label"]] = seen.get(item["label"], 0) + 1
        if seen[item["label"]] > 1:
            item["label"] = f"{item['label']} #{seen[item['label']]}"


# ---------------------------------------------------------------- demographics


def _skew_details(run: LoadedRun, task: str) -> dict[str, dict[str, Any]]:
    """attribute -> {counts, reference, unrecognised} from the run's skew metrics."""
    result = run.record.task(task)
    out: dict[str, dict[str, Any]] = {}
    for metric in sorted(result.metrics if result else (), key=lambda m: m.name):
        d = metric.details
        counts, reference = d.get("counts"), d.get("reference") or {}
        if (metric.name.startswith("skew_") and d.get("attribute") and isinstance(counts, dict)
                and _numbers(list(counts.values())) and isinstance(reference, dict)
                and _numbers(list(reference.values())) and isinstance(d.get("unrecognised", 0), int)):
            out.setdefault(str(d["attribute"]), d)
    return out


def demographic_plots(runs: Sequence[LoadedRun], order: list[str],
                      tasks: list[tuple[str, str]]) -> list[dict[str, Any]]:
    by_key = {r.key: r for r in runs}
    plots = []
    for task, family in tasks:
        if family not in ("persona", "story"):
            continue
        per_run = {key: _skew_details(by_key[key], task) for key in order}
        attributes = sorted({a for d in per_run.values() for a in d})
        for attribute in attributes:
            plot = _demographic(task, attribute, [(k, d[attribute]) for k, d in per_run.items() if attribute in d])
            if plot is not None:
                plots.append(plot)
    return plots


def _demographic(task: str, attribute: str, entries: list[tuple[str, dict[str, Any]]]) -> dict[str, Any] | None:
    categories: list[str] = []
    totals: dict[str, float] = {}
    reference: dict[str, float] = {}
    for _, d in entries:
        counts = {str(k): float(v) for k, v in d["counts"].items()}
        total = sum(counts.values())
        for cat in counts:
            if cat not in totals:
                categories.append(cat)
                totals[cat] = 0.0
            totals[cat] += counts[cat] / total if total else 0.0
        for cat, p in (d.get("reference") or {}).items():
            reference.setdefault(str(cat), float(p))
    if not any(totals.values()):
        return None
    shown = categories
    if len(categories) > DEMOGRAPHIC_CATEGORIES:
        top = sorted(categories, key=lambda c: (-totals[c], categories.index(c)))[: DEMOGRAPHIC_CATEGORIES - 1]
        shown = [c for c in categories if c in top] + [OTHER]
    rows = []
    for key, d in entries:
        counts = {str(k): float(v) for k, v in d["counts"].items()}
        total = sum(counts.values())
        projected = _project(counts, shown, digits=0)
        rows.append({"run": key, "counts": [int(c) for c in projected], "recognised": int(total),
                     "unrecognised": int(d.get("unrecognised", 0)),
                     "shares": [_r(c / total) if total else 0.0 for c in projected]})
    ref = _project(reference, shown) if reference else None
    return {"task": task, "attribute": attribute, "categories": shown, "reference": ref, "rows": rows}


# ---------------------------------------------------------------- viewer


def viewer(runs: Sequence[LoadedRun], order: list[str], tasks: list[tuple[str, str]],
           texts: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """The first prompts of every task with texts, and each system's texts for them (truncated)."""
    by_key = {r.key: r for r in runs}
    sets: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {}  # task -> run -> prompt -> texts
    orders: dict[str, list[list[str]]] = {}
    for key in order:
        per_task: dict[str, dict[str, tuple[str, ...]]] = {}
        for gset in by_key[key].iter_sets():
            if gset.texts:
                per_task.setdefault(gset.task, {}).setdefault(gset.prompt_id, gset.texts)
        for task, prompts in per_task.items():
            sets.setdefault(task, {})[key] = prompts
            orders.setdefault(task, []).append(list(prompts))
    out = []
    for task, family in tasks:
        if task not in sets:
            continue
        prompts = []
        for pid in _merged_order(orders[task])[:VIEWER_PROMPTS]:
            systems = []
            cap = VIEWER_CHOICE_TEXTS if family == "random_choice" else VIEWER_TEXTS
            for key in order:
                found = sets[task].get(key, {}).get(pid)
                if found is None:
                    continue
                shown = [t if len(t) <= VIEWER_CHARS else t[: VIEWER_CHARS - 1].rstrip() + "…" for t in found[:cap]]
                systems.append({"run": key, "texts": shown, "n": len(found),
                                "truncated": sum(len(t) > VIEWER_CHARS for t in found[:cap])})
            prompts.append({"prompt_id": pid, "prompt_text": texts.get(task, {}).get(pid), "systems": systems})
        out.append({"task": task, "family": family, "prompts": prompts})
    return out


# ---------------------------------------------------------------- the board


def build_board(collected: Collected) -> dict[str, Any]:
    """The whole leaderboard as a JSON-ready dict (deterministic for the same runs)."""
    runs = collected.runs
    tasks = compare.task_order(runs)
    task_entries, columns = compare.build_groups(runs)
    rates = compare.win_rates(columns, [r.key for r in runs])
    rows = _rows(runs, rates)
    order = [r["key"] for r in rows]
    rank = {key: i for i, key in enumerate(order)}
    texts = _prompt_texts(runs)
    for entry in task_entries:
        headline = compare.headline_column(columns, entry["task"], entry["family"])
        entry["headline"] = headline["id"] if headline else None
        for group in entry["groups"]:
            group["runs"].sort(key=rank.__getitem__)
    return {
        "schema_version": BOARD_SCHEMA_VERSION,
        "kind": "divbench-leaderboard",
        "win_rate": "share of pairwise comparisons won, over every metric column where both systems have a "
                    "value with the same signature; ties count half",
        "runs": rows,
        "tasks": task_entries,
        "columns": columns,
        "plots": {
            "choice": choice_plots(runs, order, tasks, texts),
            "cost": cost_plots(rows, columns, tasks),
            "temperature": temperature_plots(runs, rows, columns, tasks),
            "demographics": demographic_plots(runs, order, tasks),
        },
        "viewer": viewer(runs, order, tasks, texts),
        "skipped": [{"path": path, "reason": reason} for path, reason in collected.skipped],
    }


def _dump(obj: Any, depth: int, indent: str = "") -> str:
    """Indented down to ``depth`` levels, one compact line below that (short, still diff-friendly)."""
    if depth == 0 or not isinstance(obj, (dict, list)) or not obj:
        return json.dumps(obj, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    inner = indent + " "
    if isinstance(obj, dict):
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_dump(obj[k], depth - 1, inner)}" for k in sorted(obj)]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    return "[\n" + ",\n".join(f"{inner}{_dump(v, depth - 1, inner)}" for v in obj) + "\n" + indent + "]"


def board_json(board: dict[str, Any]) -> str:
    """The board as stable JSON text: sorted keys, fixed layout (one line per column, cell, plot
    prompt, ...), trailing newline. It parses back to exactly ``board``."""
    return _dump(board, 3) + "\n"
