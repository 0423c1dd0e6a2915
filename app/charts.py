"""Charts drawn on the server as SVG (no charting JavaScript): the geometry of bar and line charts,
computed here, and the ``<figure>`` drawn from it in one pass (``Chart.figure``: the SVG and a
``<table>`` of the same numbers for screen readers and for copying) — the macro
``templates/_macros/charts.html`` only hands it its two translated phrases. Drawing in Python
rather than through Jinja per mark (issue 14): a dashboard's two charts were 3,000 escapes and
300 format calls a request.

Why not a chart library: pygal and leather draw whole SVG documents with inline styles (refused by
the app's Content-Security-Policy, ``style-src 'self'``) and pull in lxml/cssselect-sized
dependencies for what is a few rectangles; here every mark is a ``<rect>``/``<polyline>`` with a
class the app's stylesheet colours, wrapped in a link to the list it counts.

Pure functions of numbers: views add the links (``href`` per point) and the words (title, series
names, the table's first column), services the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

# The drawing's own units (the SVG scales to its container through its viewBox).
# Narrow on purpose: at 360 px a chart is drawn at about 0.8× (text stays readable); wider screens
# cap it at 1.5× in CSS and make the text smaller there.
WIDTH = 420
HEIGHT = 220
PAD_LEFT = 40
PAD_RIGHT = 8
PAD_TOP = 12
PAD_BOTTOM = 30


@dataclass(frozen=True)
class Series:
    """One named row of values over the chart's categories; ``hrefs`` (same length, or empty)
    link each value to the list it counts."""

    name: str
    values: Sequence[float | None]
    hrefs: Sequence[str | None] = ()

    def href(self, i: int) -> str | None:
        return self.hrefs[i] if i < len(self.hrefs) else None


@dataclass(frozen=True)
class Mark:
    """One drawn value: a bar (x, y, w, h) or a line point (x, y); ``series`` indexes the class."""

    series: int
    category: str
    value: float | None
    label: str
    href: str | None
    x: float
    y: float
    w: float = 0
    h: float = 0


@dataclass
class Chart:
    """Everything the macro draws: marks, axis ticks, category labels, and the table's rows."""

    kind: str  # "bar" or "line"
    title: str
    unit: str
    categories: list[str]
    series: list[Series]
    header: str  # the table's first column: what a category is (周, 月份, 村/社区 …)
    marks: list[Mark] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)
    labels: list[tuple[float, str]] = field(default_factory=list)
    lines: list[tuple[int, list[tuple[float, float]]]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def empty(self) -> bool:
        return not any(v for s in self.series for v in s.values if v)

    @property
    def rows(self) -> list[tuple[str, list[tuple[str, str | None]]]]:
        """The table of the same numbers: per category, each series' (label, link)."""
        return [
            (c, [("—" if s.values[i] is None else _fmt(s.values[i], self.unit), s.href(i))
                 for s in self.series])
            for i, c in enumerate(self.categories)
        ]

    @property
    def baseline(self) -> float:
        return self.height - PAD_BOTTOM

    @property
    def left(self) -> float:
        return PAD_LEFT

    @property
    def right(self) -> float:
        return self.width - PAD_RIGHT

    def figure(self, id: str, no_data: str, data_table: str) -> Markup:
        """The chart as a ``<figure>``: its SVG (every bar or point a link to the list it counts)
        and a ``<table>`` of the same numbers (``list_table``'s markup: its cells carry their
        column's name as ``data-label``). ``no_data`` is said instead of an empty chart;
        ``data_table`` names the table's disclosure. Every word is escaped once."""
        e = _escaper()
        fid = e(id)
        title = e(self.title)
        out = [f'<figure class="chart" id="{fid}">\n  <figcaption>{title}</figcaption>\n']
        if self.empty:
            out.append(f'  <p class="muted">{e(no_data)}</p>\n')
        else:
            out.append(self._svg(fid, title, e))
        out.append(self._table(data_table, e))
        out.append("</figure>")
        return Markup("".join(out))

    def _svg(self, fid: str, title: str, e: Callable[[object], str]) -> str:
        left, right, names = self.left, self.right, [e(s.name) for s in self.series]
        out = [f'  <svg viewBox="0 0 {self.width} {self.height}" class="chart-svg chart-{self.kind}" role="group" '
               f'aria-labelledby="{fid}-t">\n    <title id="{fid}-t">{title}</title>\n']
        for y, label in self.ticks:
            out.append(f'    <line class="chart-grid" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"></line>\n'
                       f'    <text class="chart-tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{e(label)}</text>\n')
        below = self.baseline + 18
        for x, label in self.labels:
            out.append(f'    <text class="chart-label" x="{x:.1f}" y="{below}" text-anchor="middle">{e(label)}</text>\n')
        for s, points in self.lines:
            drawn = "".join(f"{x:.1f},{y:.1f} " for x, y in points)
            out.append(f'    <polyline class="chart-line s{s}" points="{drawn}"></polyline>\n')
        for m in self.marks:
            if m.value is None:
                continue
            tip = f"<title>{e(m.category)} · {names[m.series]}：{e(m.label)}</title>"
            if self.kind == "bar":
                mark = (f'<rect class="chart-bar s{m.series}" x="{m.x:.1f}" y="{m.y:.1f}" width="{m.w:.1f}" '
                        f'height="{m.h:.1f}">{tip}</rect>')
            else:
                mark = f'<circle class="chart-point s{m.series}" cx="{m.x:.1f}" cy="{m.y:.1f}" r="4">{tip}</circle>'
            out.append(f'    <a href="{e(m.href)}">{mark}</a>\n' if m.href else f"    {mark}\n")
        out.append("  </svg>\n")
        if len(self.series) > 1:
            keys = "".join(f'<li><span class="chart-key s{i}" aria-hidden="true"></span>{n}</li>'
                           for i, n in enumerate(names))
            out.append(f'  <ul class="chart-legend">{keys}</ul>\n')
        return "".join(out)

    def _table(self, data_table: str, e: Callable[[object], str]) -> str:
        names = [e(s.name) for s in self.series]
        heads = "".join(f'<th scope="col">{n}</th>' for n in [e(self.header), *names])
        out = [f'  <details class="chart-data">\n    <summary>{e(data_table)}</summary>\n'
               f'<div class="table-wrap">\n<table class="stack">\n  <thead><tr>{heads}</tr></thead>\n  <tbody>\n']
        for category, cells in self.rows:
            tds = "".join(f'<td data-label="{n}"><a href="{e(href)}">{e(label)}</a></td>' if href
                          else f'<td data-label="{n}">{e(label)}</td>' for n, (label, href) in zip(names, cells, strict=True))
            out.append(f'        <tr><th scope="row">{e(category)}</th>{tds}</tr>\n')
        out.append("  </tbody>\n</table>\n</div>\n  </details>\n")
        return "".join(out)


def _escaper() -> Callable[[object], str]:
    """``escape`` kept per string: a chart repeats its links, categories and labels."""
    seen: dict[object, str] = {}

    def e(value: object) -> str:
        found = seen.get(value)
        if found is None:
            found = seen[value] = str(escape(value))
        return found

    return e


def nice_max(value: float) -> float:
    """A round axis maximum ≥ ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1
    exp = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        top = step * 10**exp
        if top >= value:
            return top
    return 10 ** (exp + 1)  # pragma: no cover - the loop always returns


def whole_max(value: float) -> int:
    """A round axis maximum ≥ ``value`` whose quarters are whole numbers: the ticks of a chart of
    counts (members, check-ins) never read 1.2 or 3.8."""
    step = max(1.0, value / 4)
    exp = math.floor(math.log10(step))
    top = next(m * 10**exp for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if m * 10**exp >= step and (m * 10**exp) % 1 == 0)
    return int(4 * top)


def _top(series: Sequence[Series]) -> float:
    """The axis maximum for these values: whole quarters when every value is a whole number."""
    values = [v for s in series for v in s.values if v is not None]
    peak = max(values, default=0)
    return whole_max(peak) if peak > 0 and all(float(v).is_integer() for v in values) else nice_max(peak)


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    text = f"{value:.1f}".rstrip("0").rstrip(".") if value % 1 else f"{int(value)}"
    return f"{text}{unit}"


def _axis(chart: Chart, top: float) -> float:
    """Four ticks from 0 to ``top``; returns the height of one value unit."""
    plot_h = chart.baseline - PAD_TOP
    chart.ticks = [(chart.baseline - plot_h * i / 4, _fmt(top * i / 4, chart.unit)) for i in range(5)]
    return plot_h / top


def _category_labels(chart: Chart, centres: list[float], axis: Sequence[str] | None) -> None:
    """Every axis label when they fit, else every n-th from the last (the table has them all);
    ``axis`` gives shorter labels for the axis than the table's categories."""
    names = list(axis) if axis else chart.categories
    widest = max((len(n) for n in names), default=1)
    room = (chart.right - chart.left) / max(len(centres), 1)
    every = max(1, math.ceil((widest * 13 + 6) / room))
    last = len(centres) - 1
    chart.labels = [(x, n) for i, (x, n) in enumerate(zip(centres, names, strict=True))
                    if (last - i) % every == 0]


def bar_chart(title: str, categories: Sequence[str], series: Sequence[Series], unit: str = "",
              top: float | None = None, axis: Sequence[str] | None = None, *, header: str) -> Chart:
    """Grouped bars: one group per category, one bar per series; ``header`` names the categories
    in the table (周, 月份, 村/社区 …)."""
    chart = Chart("bar", title, unit, list(categories), list(series), header)
    scale = _axis(chart, top or _top(series))
    n, k = max(len(categories), 1), max(len(series), 1)
    slot = (chart.right - chart.left) / n
    bar_w = slot * 0.8 / k
    centres = []
    for i, category in enumerate(categories):
        x0 = chart.left + slot * i + slot * 0.1
        centres.append(chart.left + slot * (i + 0.5))
        for j, s in enumerate(series):
            value = s.values[i]
            h = (value or 0) * scale
            chart.marks.append(Mark(j, category, value, _fmt(value, unit) if value is not None else "—",
                                    s.href(i), x0 + j * bar_w, chart.baseline - h, bar_w, h))
    _category_labels(chart, centres, axis)
    return chart


def line_chart(title: str, categories: Sequence[str], series: Sequence[Series], unit: str = "",
               top: float | None = None, axis: Sequence[str] | None = None, *, header: str) -> Chart:
    """Lines through each series' values (a missing value breaks the line); ``header`` as for
    ``bar_chart``."""
    chart = Chart("line", title, unit, list(categories), list(series), header)
    scale = _axis(chart, top or _top(series))
    n = max(len(categories), 1)
    slot = (chart.right - chart.left) / n
    centres = [chart.left + slot * (i + 0.5) for i in range(len(categories))]
    for j, s in enumerate(series):
        run: list[tuple[float, float]] = []
        for i, category in enumerate(categories):
            value = s.values[i]
            if value is None:
                if len(run) > 1:
                    chart.lines.append((j, run))
                run = []
                chart.marks.append(Mark(j, category, None, "—", s.href(i), centres[i], chart.baseline))
                continue
            point = (centres[i], chart.baseline - value * scale)
            run.append(point)
            chart.marks.append(Mark(j, category, value, _fmt(value, unit), s.href(i), *point))
        if len(run) > 1:
            chart.lines.append((j, run))
    _category_labels(chart, centres, axis)
    return chart
