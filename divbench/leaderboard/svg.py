"""Inline SVG charts built from plain numbers: no scripts, no external resources.

Coordinates are written with one decimal, so the same data give the same bytes. Every label is
escaped by :func:`divbench.leaderboard.markup.el`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from divbench.leaderboard.markup import Markup, el, truncate

#: Tableau 10: distinguishable, print-friendly
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac")
INK = "#333333"
MUTED = "#888888"
INVALID = "#c0392b"
OTHER = "(other)"


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def f(value: float) -> str:
    """A coordinate with at most one decimal (no -0, no trailing .0)."""
    text = f"{value:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text


def fmt_tick(value: float) -> str:
    text = f"{value:.4g}"
    return "0" if text in ("-0", "0") else text


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (steps of 1, 2, 2.5 or 5 times a power of ten)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5 if lo else 0.0, hi + 0.5 if hi else 1.0
    raw = (hi - lo) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(lo / step + 1e-6) * step  # a value a hair below a tick (float noise) keeps that tick
    ticks, value = [], start
    while value < hi - step * 1e-6:
        ticks.append(round(value, 12))
        value += step
        if len(ticks) > 50:
            break
    ticks.append(round(value, 12))
    return ticks


def _svg(width: float, height: float, label: str, *children: object) -> Markup:
    return el("svg", {"xmlns": "http://www.w3.org/2000/svg", "viewBox": f"0 0 {f(width)} {f(height)}",
                      "width": f(width), "height": f(height), "role": "img", "aria-label": label,
                      "class": "chart"}, *children)


def _text(x: float, y: float, text: str, anchor: str = "start", cls: str | None = None,
          rotate: float | None = None) -> Markup:
    attrs = {"x": f(x), "y": f(y), "text-anchor": anchor, "class": cls}
    if rotate is not None:
        attrs["transform"] = f"rotate({f(rotate)} {f(x)} {f(y)})"
    return el("text", attrs, text)


# ---------------------------------------------------------------- distributions over options


@dataclass(frozen=True)
class BarRow:
    """One system's distribution over the shown options."""

    label: str
    color: str
    shares: Sequence[float] | None  # None: no distribution (the note says why)
    target: Sequence[float]
    invalid: float
    note: str = ""
    title: str = ""


def _row_max(row: BarRow, scaled: Sequence[int]) -> float:
    """The row's scale: a round number above its largest share or target (the "(other)" bar excluded)."""
    values = [row.target[j] for j in scaled if j < len(row.target)]
    if row.shares is not None:
        values += [row.shares[j] for j in scaled if j < len(row.shares)]
    return min(1.0, nice_ticks(0.0, max([*values, 1e-9]), 4)[-1])


def distribution_rows(options: Sequence[str], rows: Sequence[BarRow], caption: str) -> Markup:
    """Small multiples: a row of bars per system over the options, the target as black ticks and
    the invalid share on the right. Each row has its own scale (printed on the right), so a flat
    distribution stays readable next to a collapsed one."""
    left, right, row_h, bar_h, top = 130.0, 100.0, 34.0, 26.0, 6.0
    slot = max(14.0, min(30.0, 480.0 / max(1, len(options))))
    plot_w = slot * len(options)
    label_h = 8.0 + 5.2 * min(16, max((len(o) for o in options), default=1))
    width, height = left + plot_w + right, top + row_h * len(rows) + label_h
    scaled = [j for j, o in enumerate(options) if o != OTHER] or list(range(len(options)))
    parts: list[object] = [el("rect", {"x": f(left), "y": f(top), "width": f(plot_w),
                                       "height": f(row_h * len(rows)), "class": "band"})]
    for i, row in enumerate(rows):
        y0 = top + row_h * i
        base = y0 + bar_h + 2
        ymax = _row_max(row, scaled)
        cells: list[object] = [el("title", None, row.title or row.label)]
        cells.append(_text(left - 6, y0 + bar_h / 2 + 6, truncate(row.label, 21), "end", "rowlabel"))
        cells.append(el("path", {"d": f"M{f(left)} {f(base)}h{f(plot_w)}", "class": "axis"}))
        if row.shares is not None:
            heights = [bar_h * min(1.0, s / ymax) for s in row.shares]
            d = f"M{f(left + 1.5)} {f(base)}" + "".join(
                (f"v{f(-h)}h{f(slot - 3)}v{f(h)}z" if h > 0 else "") + f"m{f(slot)} 0" for h in heights)
            cells.append(el("path", {"d": d, "fill": row.color}))
            for j, share in enumerate(row.shares):
                if share > ymax * 1.001:  # clipped (only "(other)" can be): print its value
                    cells.append(_text(left + slot * j + slot / 2, y0 + 9, f"{share:.0%}", "middle", "clip"))
        else:
            cells.append(_text(left + 8, y0 + bar_h / 2 + 5, row.note or "no distribution", cls="note"))
        ticks = "".join(f"M{f(left + slot * j)} {f(base - bar_h * min(1.0, t / ymax))}h{f(slot)}"
                        for j, t in enumerate(row.target))
        if ticks:
            cells.append(el("path", {"d": ticks, "class": "target"}))
        inv_w = 40.0 * min(1.0, max(0.0, row.invalid))
        cells.append(el("rect", {"x": f(left + plot_w + 8), "y": f(y0 + 5), "width": f(max(inv_w, 0.5)),
                                 "height": "7", "fill": INVALID}))
        cells.append(_text(left + plot_w + 52, y0 + 12, f"{row.invalid:.0%}", cls="small"))
        cells.append(_text(left + plot_w + 8, y0 + 26, f"scale 0–{ymax:.0%}" if ymax >= 0.01 else
                           f"scale 0–{ymax:.1%}", cls="small"))
        parts.append(el("g", None, *cells))
    axis_y = top + row_h * len(rows)
    for j, option in enumerate(options):
        x = left + slot * j + slot / 2
        parts.append(_text(x + 3, axis_y + 8, truncate(option, 16), "end", "small", rotate=-45))
    parts.append(_text(left + plot_w + 8, axis_y + 12, "red: invalid", cls="small"))
    return _svg(width, height, caption, *parts)


# ---------------------------------------------------------------- x/y charts


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    ci: Sequence[float] | None = None
    title: str = ""


@dataclass(frozen=True)
class Series:
    label: str
    color: str
    points: Sequence[Point] = field(default_factory=tuple)


@dataclass(frozen=True)
class _Frame:
    left: float
    top: float
    w: float
    h: float
    xt: list[float]
    yt: list[float]

    def x(self, v: float) -> float:
        return self.left + (v - self.xt[0]) / ((self.xt[-1] - self.xt[0]) or 1) * self.w

    def y(self, v: float) -> float:
        return self.top + self.h - (v - self.yt[0]) / ((self.yt[-1] - self.yt[0]) or 1) * self.h


def _frame(series: Sequence[Series], w: float, h: float, left: float = 56, top: float = 12,
           zero_x: bool = True) -> _Frame:
    xs = [round(p.x, 9) for s in series for p in s.points]
    ys = [round(v, 9) for s in series for p in s.points for v in (p.y, *(p.ci or ()))]
    xlo, xhi = (min(0.0, *xs), max(xs)) if zero_x else (min(xs), max(xs))
    if not zero_x:  # keep end points off the frame
        pad = (xhi - xlo) * 0.05
        xlo, xhi = xlo - pad, xhi + pad
    return _Frame(left, top, w, h, nice_ticks(xlo, xhi, 5), nice_ticks(min(ys), max(ys), 4))


def _axes(fr: _Frame, xlabel: str, ylabel: str) -> list[object]:
    parts: list[object] = []
    for t in fr.yt:
        parts.append(el("path", {"d": f"M{f(fr.left)} {f(fr.y(t))}h{f(fr.w)}", "class": "grid"}))
        parts.append(_text(fr.left - 5, fr.y(t) + 4, fmt_tick(t), "end", "small"))
    for t in fr.xt:
        parts.append(el("path", {"d": f"M{f(fr.x(t))} {f(fr.top + fr.h)}v5", "class": "axis"}))
        parts.append(_text(fr.x(t), fr.top + fr.h + 17, fmt_tick(t), "middle", "small"))
    parts.append(el("path", {"d": f"M{f(fr.left)} {f(fr.top)}v{f(fr.h)}h{f(fr.w)}", "class": "axis"}))
    parts.append(_text(fr.left + fr.w / 2, fr.top + fr.h + 34, xlabel, "middle", "axislabel"))
    parts.append(_text(14, fr.top + fr.h / 2, ylabel, "middle", "axislabel", rotate=-90))
    return parts


def _whisker(fr: _Frame, p: Point, colour: str) -> Markup | None:
    if not p.ci:
        return None
    x, lo, hi = fr.x(p.x), fr.y(p.ci[0]), fr.y(p.ci[1])
    return el("path", {"d": f"M{f(x)} {f(lo)}V{f(hi)}M{f(x - 3)} {f(lo)}h6M{f(x - 3)} {f(hi)}h6",
                       "stroke": colour, "stroke-width": "1.2", "fill": "none"})


def _legend(series: Sequence[Series], x: float, y: float) -> list[object]:
    parts: list[object] = []
    for i, s in enumerate(series):
        ly = y + 16 * i
        parts.append(el("rect", {"x": f(x), "y": f(ly - 8), "width": "10", "height": "10", "fill": s.color}))
        parts.append(_text(x + 15, ly + 1, truncate(s.label, 26), cls="small"))
    return parts


def scatter(series: Sequence[Series], xlabel: str, ylabel: str, caption: str) -> Markup:
    """One point per series (system) with its CI whisker; a legend on the right names them."""
    fr = _frame(series, 330.0, 200.0)
    width = fr.left + fr.w + 200
    height = max(fr.top + fr.h + 44, fr.top + 16 * len(series) + 8)
    parts = _axes(fr, xlabel, ylabel)
    for s in series:
        for p in s.points:
            parts.append(_whisker(fr, p, s.color))
            parts.append(el("circle", {"cx": f(fr.x(p.x)), "cy": f(fr.y(p.y)), "r": "4.5", "fill": s.color,
                                       "class": "dot"}, el("title", None, p.title or s.label)))
    parts += _legend(series, fr.left + fr.w + 18, fr.top + 8)
    return _svg(width, height, caption, *parts)


def lines(series: Sequence[Series], xlabel: str, ylabel: str, caption: str) -> Markup:
    """One line per series through its points (with CI whiskers) and a legend on the right."""
    fr = _frame(series, 330.0, 200.0, zero_x=False)
    width, height = fr.left + fr.w + 200, max(fr.top + fr.h + 44, fr.top + 16 * len(series) + 8)
    parts = _axes(fr, xlabel, ylabel)
    for s in series:
        pts = sorted(s.points, key=lambda p: p.x)
        d = "M" + "L".join(f"{f(fr.x(p.x))} {f(fr.y(p.y))}" for p in pts)
        parts.append(el("path", {"d": d, "stroke": s.color, "stroke-width": "2", "fill": "none"}))
        for p in pts:
            parts.append(_whisker(fr, p, s.color))
            parts.append(el("circle", {"cx": f(fr.x(p.x)), "cy": f(fr.y(p.y)), "r": "3.5", "fill": s.color},
                            el("title", None, p.title or s.label)))
    parts += _legend(series, fr.left + fr.w + 18, fr.top + 8)
    return _svg(width, height, caption, *parts)


# ---------------------------------------------------------------- stacked shares


@dataclass(frozen=True)
class StackRow:
    label: str
    shares: Sequence[float]
    note: str = ""
    title: str = ""


def stacked_rows(categories: Sequence[str], rows: Sequence[StackRow], caption: str) -> Markup:
    """100% stacked horizontal bars (one per row) with a category legend underneath."""
    left, bar_w, row_h, bar_h, top = 150.0, 300.0, 24.0, 17.0, 4.0
    per_line = 3
    legend_lines = math.ceil(len(categories) / per_line)
    width = left + bar_w + 100
    height = top + row_h * len(rows) + 10 + 18 * legend_lines
    parts: list[object] = []
    for i, row in enumerate(rows):
        y = top + row_h * i
        cells: list[object] = [el("title", None, row.title or row.label)]
        cells.append(_text(left - 6, y + bar_h - 4, truncate(row.label, 22), "end", "rowlabel"))
        total = sum(row.shares)
        if total <= 0:
            cells.append(el("rect", {"x": f(left), "y": f(y), "width": f(bar_w), "height": f(bar_h), "class": "band"}))
            cells.append(_text(left + 8, y + bar_h - 4, row.note or "nothing recognised", cls="note"))
        else:
            x = left
            for j, share in enumerate(row.shares):
                w = bar_w * share / total
                if w > 0:
                    cells.append(el("rect", {"x": f(x), "y": f(y), "width": f(w), "height": f(bar_h),
                                             "fill": color(j)}))
                    x += w
            cells.append(_text(left + bar_w + 6, y + bar_h - 4, row.note, cls="small"))
        parts.append(el("g", None, *cells))
    ly = top + row_h * len(rows) + 10
    for j, category in enumerate(categories):
        col, line = j % per_line, j // per_line
        x, y = left + col * (bar_w / per_line + 10), ly + 18 * line
        parts.append(el("rect", {"x": f(x), "y": f(y), "width": "10", "height": "10", "fill": color(j)}))
        parts.append(_text(x + 14, y + 9, truncate(category, 17), cls="small"))
    return _svg(width, height, caption, *parts)


def swatch(index: int) -> Markup:
    """A small square in the system's palette colour (a stylesheet class, so no style attribute)."""
    return el("span", {"class": f"sw c{index % len(PALETTE)}", "aria-hidden": "true"})


def palette_css() -> str:
    """Stylesheet rules for the swatch classes ``c0`` … ``c9``."""
    return "".join(f".sw.c{i} {{ background: {c}; }}\n" for i, c in enumerate(PALETTE))
