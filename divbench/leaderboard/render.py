"""The leaderboard page: one self-contained HTML file rendered from the board dict.

No JavaScript, no external resources (inline CSS and SVG only; works from ``file://``). A
Content-Security-Policy meta tag forbids scripts as a second line of defence; the first is that
every string from the runs is escaped (see :mod:`divbench.leaderboard.markup`).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

from divbench.leaderboard import svg
from divbench.leaderboard.compare import differing_fields as _differs
from divbench.leaderboard.markup import Markup, el, esc, join, slug, truncate

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
KINDS = ("baseline", "prompting", "finetuned", "reference")
FAMILY_TITLES = {"dialogue": "Dialogue", "story": "Story", "persona": "Persona", "random_choice": "Random choice"}
CHOICE_NOTE = ("In the distribution charts, bars show each system's distribution over the valid options (exact "
               "probabilities, or sampled shares), renormalised over the valid answers; each row has its own scale. "
               "Black ticks: the target. Red: the invalid share of all answers. Hover a row for the numbers.")
SECTION_TITLES = {"diversity": "Diversity metrics", "distribution": "Distribution metrics",
                  "skew": "Demographic skew metrics"}


def _css() -> str:
    return resources.files("divbench.leaderboard").joinpath("style.css").read_text(encoding="utf-8")


def fmt(value: float | None) -> str:
    """A metric value with 3 significant decimals (fewer for large values); no ``-0.000``."""
    if value is None:
        return "—"
    a = abs(value)
    text = f"{value:.0f}" if a >= 1000 else f"{value:.1f}" if a >= 100 else f"{value:.2f}" if a >= 10 \
        else f"{value:.3f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def fmt_ci(ci: Sequence[float] | None) -> str:
    return "" if not ci else f"[{fmt(ci[0])}, {fmt(ci[1])}]"


def arrow(higher_is_better: bool) -> Markup:
    return el("span", {"class": "arrow", "title": "higher is better" if higher_is_better else "lower is better"},
              "↑" if higher_is_better else "↓")


class Page:
    """Renders one board dict (see :func:`divbench.leaderboard.model.build_board`)."""

    def __init__(self, board: dict[str, Any]) -> None:
        self.board = board
        self.rows = board["runs"]
        self.row_by_key = {r["key"]: r for r in self.rows}
        self.columns = {c["id"]: c for c in board["columns"]}
        #: task -> run key -> its comparison group; (task, group, metric) -> that group's columns
        self.group_of: dict[str, dict[str, dict[str, Any]]] = {}
        self.siblings: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
        for t in board["tasks"]:
            self.group_of[t["task"]] = {key: g for g in t["groups"] for key in g["runs"]}
        for c in board["columns"]:
            self.siblings.setdefault((c["task"], c["group"], c["metric"]), []).append(c)
        self.task_ids = {t["task"]: f"task-{i + 1}-{slug(t['task'])}" for i, t in enumerate(board["tasks"])}
        self.families = []
        for t in board["tasks"]:
            if t["family"] not in self.families:
                self.families.append(t["family"])

    # ------------------------------------------------------------ helpers

    def colour(self, key: str) -> str:
        return svg.color(self.row_by_key[key]["color"])

    def label(self, key: str) -> str:
        return self.row_by_key[key]["label"]

    def system_cell(self, row: dict[str, Any]) -> Markup:
        return el("td", {"class": "sys", "title": f"run {row['run_id']} ({row['key']})"}, svg.swatch(row["color"]),
                  row["label"])

    def value_cell(self, column: dict[str, Any], key: str, best: set[str]) -> Markup:
        cell = column["cells"].get(key)
        if cell is None:
            return self.absent_cell(column, key)
        if "value" in cell:
            ci = fmt_ci(cell["ci"])
            return el("td", {"class": "num best" if key in best else "num"},
                      fmt(cell["value"]), el("span", {"class": "ci"}, ci) if ci else None)
        return el("td", {"class": "undef", "title": f"undefined: {cell['reason']}"}, "—")

    def absent_cell(self, column: dict[str, Any], key: str) -> Markup:
        """A run without a value in this column: in another comparison group or variant (n/c), or absent."""
        group = self.group_of.get(column["task"], {}).get(key)
        if group is None:
            return el("td", {"class": "missing", "title": "not in this run"}, "·")
        if group["number"] != column["group"]:
            diffs = group["differs"] if column["group"] == 1 else [
                [k, a, b] for k, a, b in _differs(group["context"], self.group_context(column))]
            where = f"comparison group {group['number']} of {column['task']}"
        else:
            other = next((c for c in self.siblings.get((column["task"], column["group"], column["metric"]), ())
                          if key in c["cells"]), None)
            if other is None:
                return el("td", {"class": "missing", "title": "this run has no such metric"}, "·")
            diffs = [[k, other["differs"].get(k, "-"), column["differs"].get(k, "-")]
                     for k in sorted(set(other["differs"]) | set(column["differs"]))]
            where = f"column {other['id']}"
        text = "; ".join(f"{k} {mine} vs {theirs}" for k, mine, theirs in diffs) or "signature"
        return el("td", {"class": "nc", "title": f"not comparable: {text} (its value is in {where})"},
                  "n/c", el("span", {"class": "why"}, "≠ " + ", ".join(d[0] for d in diffs)))

    def group_context(self, column: dict[str, Any]) -> str:
        task = next(t for t in self.board["tasks"] if t["task"] == column["task"])
        return task["groups"][column["group"] - 1]["context"]

    @staticmethod
    def best_keys(column: dict[str, Any]) -> set[str]:
        ok = [(k, c["value"]) for k, c in column["cells"].items() if "value" in c]
        if len(ok) < 2:
            return set()
        pick = max if column["higher_is_better"] else min
        target = pick(v for _, v in ok)
        return {k for k, v in ok if abs(v - target) <= 1e-9 * max(1.0, abs(target))}

    def column_header(self, column: dict[str, Any], title: str | None = None) -> Markup:
        variant = None
        if column["variants"] > 1:
            variant = el("span", {"class": "variant", "title": "signatures differ between runs: this column "
                                                              "holds only runs with this signature"},
                         "; ".join(f"{k}={v}" for k, v in column["differs"].items()) or f"v{column['variant']}")
        return el("th", None, title or column["metric"], " ",
                  arrow(column["higher_is_better"]), variant)

    # ------------------------------------------------------------ page

    def render(self) -> str:
        head = Markup(
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">\n'
            "<title>divbench leaderboard</title>\n"
            f"<style>\n{_css()}{svg.palette_css()}</style>\n</head>\n"
        )
        body = join([self.header(), el("main", None, self.overview(), *self.family_sections(), self.viewer(),
                                       self.runs_section()), self.footer()], "\n")
        return f"{head}<body>\n{body}\n</body>\n</html>\n"

    def header(self) -> Markup:
        tasks = self.board["tasks"]
        links = [el("a", {"href": "#overview"}, "Overview")]
        links += [el("a", {"href": f"#family-{slug(f)}"}, FAMILY_TITLES.get(f, f)) for f in self.families]
        links += [el("a", {"href": "#viewer"}, "Generations"), el("a", {"href": "#runs"}, "Runs")]
        summary = (f"{len(self.rows)} systems · {len(tasks)} tasks · {len(self.columns)} metric columns. "
                   "Numbers share a column only when their signatures match (same metric version, parameters, "
                   "N, max tokens, task version, prompts and scoring mode); temperature, top-p, top-k and min-p "
                   "belong to the system.")
        return el("header", None, el("h1", None, "divbench leaderboard"), el("p", {"class": "muted"}, summary),
                  el("nav", None, *links))

    def overview(self) -> Markup:
        heads = []
        for task in self.board["tasks"]:
            column = self.columns.get(task["headline"]) if task["headline"] else None
            if column is not None:
                heads.append((task, column))
        header = el("tr", None, el("th", None, "#"), el("th", None, "system"), el("th", None, "kind"),
                    el("th", None, "strategy"), el("th", None, "model"),
                    el("th", {"title": self.board["win_rate"]}, "mean win rate ", arrow(True)),
                    el("th", {"title": "new tokens generated, all tasks"}, "tokens"),
                    el("th", {"title": "generation seconds per prompt set, all tasks"}, "s / set"),
                    *[el("th", None,
                         el("a", {"href": f"#{self.task_ids[task['task']]}"}, task["task"]),
                         el("span", {"class": "metric"}, column["metric"], " ", arrow(column["higher_is_better"])))
                      for task, column in heads])
        best = {column["id"]: self.best_keys(column) for _, column in heads}
        body = []
        for rank, row in enumerate(self.rows, start=1):
            system, rate, cost = row["system"], row["win_rate"], row["cost"]
            kind = system.get("kind", "")
            model = str(system.get("model", "")) + (f" + {system['adapter']}" if system.get("adapter") else "")
            body.append(el("tr", None,
                           el("td", {"class": "num"}, str(rank)), self.system_cell(row),
                           el("td", None, el("span", {"class": f"kind kind-{kind if kind in KINDS else 'other'}"},
                                             kind)),
                           el("td", None, system.get("strategy", "")),
                           el("td", {"title": model}, truncate(model, 32)),
                           el("td", {"class": "num", "title": f"{rate['wins']:g} wins in {rate['comparisons']} "
                                                              "pairwise comparisons"},
                              "—" if rate["rate"] is None else f"{rate['rate'] * 100:.1f}%",
                              el("span", {"class": "ci"}, f"{rate['wins']:g} / {rate['comparisons']}")),
                           el("td", {"class": "num"}, f"{cost['tokens']:,}"),
                           el("td", {"class": "num"}, "—" if cost["seconds_per_set"] is None
                              else f"{cost['seconds_per_set']:.3f}"),
                           *[self.value_cell(column, row["key"], best[column["id"]]) for _, column in heads]))
        legend = el("p", {"class": "small"},
                    "↑ higher is better, ↓ lower is better; bold: best in the column; small numbers: 95% bootstrap "
                    "CI. — undefined (hover for why), n/c not comparable (the signature field that differs is "
                    "named), · not in that run. Mean win rate: ", self.board["win_rate"], ".")
        return el("section", {"id": "overview"}, el("h2", None, "Overview"),
                  el("div", {"class": "scroll"}, el("table", None, el("thead", None, header),
                                                    el("tbody", None, *body))), legend)

    # ------------------------------------------------------------ families and tasks

    def family_sections(self) -> list[Markup]:
        sections = []
        for family in self.families:
            tasks = [t for t in self.board["tasks"] if t["family"] == family]
            intro = el("p", {"class": "small"}, CHOICE_NOTE) if family == "random_choice" else None
            sections.append(el("section", {"id": f"family-{slug(family)}"},
                               el("h2", None, FAMILY_TITLES.get(family, family)), intro,
                               *[self.task_section(t) for t in tasks]))
        return sections

    def task_section(self, task: dict[str, Any]) -> Markup:
        name = task["task"]
        parts: list[object] = [el("h3", {"id": self.task_ids[name]}, name, " ",
                                  el("span", {"class": "muted"}, task["family"]))]
        groups = task["groups"]
        for group in groups:
            rows = [self.row_by_key[k] for k in group["runs"]]
            ns = sorted({r["tasks"][name]["n"] for r in rows})
            prompts = sorted({r["tasks"][name]["sets"] for r in rows})
            facts = (f"{len(rows)} systems · N = {', '.join(map(str, ns))} texts per prompt · "
                     f"{', '.join(map(str, prompts))} prompts")
            if len(groups) > 1:
                differs = "; ".join(f"{k} = {mine} (group 1: {main})" for k, mine, main in group["differs"])
                parts.append(el("h4", {"class": "group"}, f"Comparison group {group['number']}",
                                el("span", {"class": "muted"}, " — ", facts)))
                if differs:
                    parts.append(el("p", {"class": "small"}, "Not comparable with group 1: ", differs, "."))
            else:
                parts.append(el("p", {"class": "muted"}, facts))
            columns = [self.columns[c] for c in group["columns"]]
            first = True
            for section in ("diversity", "distribution", "skew"):
                section_columns = [c for c in columns if c["section"] == section]
                if section_columns:
                    parts.append(self.metric_table(name, section, section_columns, rows, with_cost=first))
                    first = False
        parts.extend(self.task_plots(name, task["family"]))
        return el("section", {"class": "task"}, *parts)

    def metric_table(self, task: str, section: str, columns: list[dict[str, Any]], rows: list[dict[str, Any]],
                     with_cost: bool) -> Markup:
        shown = [c for c in columns if not c["all_undefined"]]
        hidden = [c for c in columns if c["all_undefined"]]
        head = [el("th", None, "system")]
        if with_cost:
            head += [el("th", {"title": "texts per prompt"}, "N"),
                     el("th", {"title": "new tokens per prompt set"}, "tok / set"),
                     el("th", {"title": "generation seconds per prompt set"}, "s / set")]
        head += [self.column_header(c) for c in shown]
        best = {c["id"]: self.best_keys(c) for c in shown}
        body = []
        for row in rows:
            cost = row["tasks"][task]
            cells = [self.system_cell(row)]
            if with_cost:
                cells += [el("td", {"class": "num"}, str(cost["n"])),
                          el("td", {"class": "num"}, "—" if cost["tokens_per_set"] is None
                             else f"{cost['tokens_per_set']:.1f}"),
                          el("td", {"class": "num"}, "—" if cost["seconds_per_set"] is None
                             else f"{cost['seconds_per_set']:.3f}")]
            cells += [self.value_cell(c, row["key"], best[c["id"]]) for c in shown]
            body.append(el("tr", None, *cells))
        notes = []
        if hidden:
            reasons = sorted({cell.get("reason", "") for c in hidden for cell in c["cells"].values()})
            names = ", ".join(c["metric"] for c in hidden)
            notes.append(el("li", {"title": names}, f"{len(hidden)} metric(s) undefined for every system here"
                            + (f" ({names})" if len(hidden) <= 4 else " (hover for the names)") + ": ",
                            "; ".join(reasons[:2]) + ("; …" if len(reasons) > 2 else ""), "."))
        for c in shown:
            if c["variants"] > 1 and c["variant"] == 1:
                notes.append(el("li", None, f"{c['metric']}: the runs' signatures differ, so it is split into "
                                            f"{c['variants']} columns (differing: "
                                            f"{', '.join(c['differs']) or 'signature'})."))
        table = el("div", {"class": "scroll"}, el("table", None, el("thead", None, el("tr", None, *head)),
                                                  el("tbody", None, *body))) if shown else None
        return join([el("h5", None, SECTION_TITLES.get(section, section)), table,
                     el("ul", {"class": "notes"}, *notes) if notes else None])

    def task_plots(self, task: str, family: str) -> list[Markup]:
        plots = self.board["plots"]
        out: list[Markup] = []
        for plot in plots["choice"]:
            if plot["task"] == task and plot["prompts"]:
                out.append(el("h4", None, "Distributions over the options"))
                out.append(el("div", {"class": "plots"}, *[self.choice_figure(task, p) for p in plot["prompts"]]))
        figures = [self.cost_figure(p) for p in plots["cost"] if p["task"] == task]
        figures += [self.temperature_figure(p) for p in plots["temperature"] if p["task"] == task]
        if figures:
            out.append(el("div", {"class": "plots"}, *figures))
        if family != "random_choice" and any(p["task"] == task for p in plots["cost"]) \
                and not any(p["task"] == task for p in plots["temperature"]):
            out.append(el("p", {"class": "small"}, "No diversity-vs-temperature curve: no two runs of one system "
                                                   "differ only in sampling temperature."))
        demographics = [self.demographic_figure(p) for p in plots["demographics"] if p["task"] == task]
        if demographics:
            out.append(el("h4", None, "Demographic breakdown"))
            out.append(el("div", {"class": "plots"}, *demographics))
        return out

    # ------------------------------------------------------------ figures

    def choice_figure(self, task: str, prompt: dict[str, Any]) -> Markup:
        rows = []
        for s in prompt["systems"]:
            key = s["run"]
            target = s.get("target", prompt["target"])
            shares = s.get("shares")
            mode = s.get("mode", "")
            detail = f"{mode}, {s['n']} texts" if "n" in s else mode
            if shares is not None:
                if s.get("counts") is not None:
                    values = " ".join(f"{o}:{c}" for o, c in zip(prompt["options"], s["counts"], strict=False) if c)
                else:
                    values = " ".join(f"{o}:{v:.1%}" for o, v in zip(prompt["options"], shares, strict=False) if v)
                title = f"{self.label(key)} ({detail}): {values}; invalid {s.get('invalid', 0):.1%}"
            else:
                title = f"{self.label(key)}: {s.get('undefined', 'no distribution')}"
            rows.append(svg.BarRow(self.label(key), self.colour(key), shares, target, s.get("invalid", 0.0),
                                   s.get("undefined", ""), title))
        extra = f" ({prompt['hidden_options']} less likely options are summed as “(other)”.)" \
            if prompt["hidden_options"] else ""
        caption = el("figcaption", None, el("b", None, prompt["prompt_id"]), " ",
                     truncate(prompt["prompt_text"] or "", 160), extra)
        chart = svg.distribution_rows(prompt["options"], rows, f"distribution over options, {task} "
                                                               f"{prompt['prompt_id']}")
        return el("figure", None, caption, el("div", {"class": "scroll"}, chart))

    def cost_figure(self, plot: dict[str, Any]) -> Markup:
        xlabel = "generation seconds per set" if plot["x"] == "seconds_per_set" else "new tokens per set"
        series = []
        for p in plot["points"]:
            title = (f"{self.label(p['run'])}: {plot['metric']} {fmt(p['y'])} {fmt_ci(p['ci'])}, "
                     f"{p['tokens']} tokens/set, {p['seconds']} s/set")
            series.append(svg.Series(self.label(p["run"]), self.colour(p["run"]),
                                     (svg.Point(p["x"], p["y"], p["ci"], title=title),)))
        chart = svg.scatter(series, xlabel, f"{plot['metric']} {'↑' if plot['higher_is_better'] else '↓'}",
                            f"{plot['metric']} against cost, {plot['task']}")
        caption = el("figcaption", None, el("b", None, f"{plot['metric']} vs cost"), " — whiskers: 95% CI.")
        return el("figure", None, caption, chart)

    def temperature_figure(self, plot: dict[str, Any]) -> Markup:
        series = []
        for curve in plot["curves"]:
            points = tuple(svg.Point(p["t"], p["y"], p["ci"], title=f"{self.label(p['run'])}: T={p['t']:g}, "
                                                                   f"{plot['metric']} {fmt(p['y'])}")
                           for p in curve["points"])
            series.append(svg.Series(curve["label"], self.colour(curve["color_run"]), points))
        chart = svg.lines(series, "sampling temperature", f"{plot['metric']} "
                          f"{'↑' if plot['higher_is_better'] else '↓'}", f"{plot['metric']} against temperature")
        caption = el("figcaption", None, el("b", None, f"{plot['metric']} vs temperature"),
                     " — runs of one system whose settings differ only in temperature.")
        return el("figure", None, caption, chart)

    def demographic_figure(self, plot: dict[str, Any]) -> Markup:
        rows = []
        if plot["reference"]:
            rows.append(svg.StackRow("reference", plot["reference"], "", "the reference distribution"))
        for r in plot["rows"]:
            note = f"{r['recognised']} read, {r['unrecognised']} not"
            parts = ", ".join(f"{c} {n}" for c, n in zip(plot["categories"], r["counts"], strict=False) if n)
            rows.append(svg.StackRow(self.label(r["run"]), r["shares"], note,
                                     f"{self.label(r['run'])}: {parts or 'nothing recognised'}"))
        chart = svg.stacked_rows(plot["categories"], rows, f"{plot['attribute']} breakdown, {plot['task']}")
        caption = el("figcaption", None, el("b", None, plot["attribute"]),
                     " — share of the texts that name each category (texts naming none are left out).")
        return el("figure", None, caption, chart)

    # ------------------------------------------------------------ viewer, runs, footer

    def viewer(self) -> Markup:
        parts: list[object] = [el("h2", None, "Generations"),
                               el("p", {"class": "small"}, "The first prompts of each task and every system's texts "
                                                           "for them (long texts cut). Texts are shown as plain "
                                                           "text.")]
        for task in self.board["viewer"]:
            parts.append(el("h3", None, task["task"], " ", el("span", {"class": "muted"}, task["family"])))
            first_open = task["family"] != "random_choice"
            for i, prompt in enumerate(task["prompts"]):
                cards = []
                for s in prompt["systems"]:
                    more = s["n"] - len(s["texts"])
                    info = f"{s['n']} texts" + (f", {more} not shown" if more > 0 else "")
                    cards.append(el("div", {"class": "card"},
                                    el("h4", None, svg.swatch(self.row_by_key[s["run"]]["color"]), self.label(s["run"]),
                                       " ", el("span", {"class": "small"}, info)),
                                    el("ol", None, *[el("li", None, t) for t in s["texts"]])))
                summary = el("summary", None, prompt["prompt_id"], " ",
                             el("span", {"class": "ptext"}, truncate(prompt["prompt_text"] or "", 140)))
                text = el("div", {"class": "prompt-text"}, prompt["prompt_text"]) if prompt["prompt_text"] else None
                parts.append(el("details", {"class": "prompt", "open": first_open and i == 0}, summary, text,
                                el("div", {"class": "cards"}, *cards)))
        return el("section", {"id": "viewer"}, *parts)

    def runs_section(self) -> Markup:
        head = el("tr", None, *[el("th", None, h) for h in ("system", "folder", "created", "seed", "suite",
                                                             "backend", "sets", "divbench")])
        body = [el("tr", None, self.system_cell(r), el("td", None, el("code", None, r["key"])),
                   el("td", None, r["created"]), el("td", {"class": "num"}, str(r["seed"])),
                   el("td", None, r["suite"]), el("td", None, r["system"].get("backend", "")),
                   el("td", {"class": "num"}, str(r["cost"]["sets"])),
                   el("td", None, r["versions"].get("divbench", "")))
                for r in self.rows]
        sigs = self.signature_rows()
        skipped = [el("li", None, el("code", None, s["path"]), ": ", s["reason"]) for s in self.board["skipped"]]
        return el("section", {"id": "runs"}, el("h2", None, "Runs"),
                  el("div", {"class": "scroll"}, el("table", None, el("thead", None, head), el("tbody", None, *body))),
                  el("p", {"class": "small"}, f"Skipped {len(skipped)} folder(s):") if skipped else None,
                  el("ul", {"class": "notes"}, *skipped) if skipped else None,
                  el("details", None, el("summary", None, f"Signatures of the {len(self.columns)} columns: each "
                                                          "comparison group's shared fields, then each metric's own"),
                     el("div", {"class": "scroll"}, el("table", {"class": "sigs"}, el("tbody", None, *sigs)))))

    def signature_rows(self) -> list[Markup]:
        """Each comparison group's shared signature fields, then each metric's own fields (once)."""
        rows = []
        own: dict[str, set[str]] = {}
        for task in self.board["tasks"]:
            for group in task["groups"]:
                common = set(group["context"].split("|"))
                rows.append(el("tr", None, el("td", None, f"{task['task']} group {group['number']}"),
                               el("td", None, f"{len(group['runs'])} runs"), el("td", None, group["context"])))
                for cid in group["columns"]:
                    column = self.columns[cid]
                    parts = [p for p in column["signature"].split("|") if p not in common]
                    own.setdefault(column["metric"], set()).add("|".join(parts))
        for metric in sorted(own):
            for fields in sorted(own[metric]):
                rows.append(el("tr", None, el("td", None, metric), el("td", None, "metric"), el("td", None, fields)))
        return rows

    def footer(self) -> Markup:
        return el("footer", None, "Written by ", el("code", None, "divbench leaderboard"),
                  " from the run folders alone (leaderboard.json holds the same data). The same runs always give "
                  "the same bytes.")


def render_html(board: dict[str, Any]) -> str:
    """The whole page as text."""
    return Page(board).render()
