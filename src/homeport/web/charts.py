"""Server-side SVG charts, inlined in the pages: no JavaScript, no third-party assets.

The score history (:func:`score_history`, also the fleet trend) is drawn by our own code: it is
on every agent-console case page and subscriber page, and pygal spent about 12 ms of CPU per
chart on it (about 7 ms even with no points); writing the SVG as a string takes about 0.65 ms
for seven days of hours (168 points) and 0.14 ms for none (200 calls, ``time.process_time``).
It escapes every text and attribute with ``markupsafe.escape``. The other charts use pygal,
which builds the SVG with ElementTree and so escapes every label and title; each is
post-processed so that it fits the page.

Either way, every chart:

- has no ``<script>`` (pygal's own, its tooltip configuration, is removed): the pages run no
  chart code;
- has ``role="img"`` and an ``aria-label`` (its text alternative) on the ``<svg>``, whose class
  includes ``chart-svg``, and its first ``<title>`` says the same, so screen readers and a hover
  both describe it;
- scales to its container (``viewBox="0 0 400 H"``, no fixed size): the CSS gives it the
  container's width, which on a 390 px phone is the screen's; labels are 11 units high.

Every chart on a page is also given as numbers (a table or list) next to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo

import pygal
from markupsafe import Markup, escape
from pygal.style import Style

#: The page's palette (app.css): accent, bad, warn, ok, muted.
ACCENT = "#0b63ce"
BAD = "#c5221f"
WARN = "#b06000"
OK = "#137333"
INFO = "#8aa4c8"
BAND_COLOURS = {"poor": BAD, "average": WARN, "excellent": OK}
SEVERITY_COLOURS = {"critical": BAD, "warning": "#e8a33d", "info": INFO}
#: Drawing width in SVG units: the width of a phone, so that 11-unit text stays readable there.
WIDTH = 400
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif'


def _style(colours: Sequence[str] = (ACCENT,)) -> Style:
    return Style(
        background="transparent",
        plot_background="transparent",
        foreground="#1b2430",
        foreground_strong="#1b2430",
        foreground_subtle="#5b6675",
        opacity=".85",
        opacity_hover="1",
        transition="0ms",
        colors=tuple(colours),
        guide_stroke_color="#dde3ea",
        major_guide_stroke_color="#dde3ea",
        guide_stroke_dasharray="0",
        major_guide_stroke_dasharray="0",
        font_family=FONT,
        label_font_family=FONT,
        major_label_font_family=FONT,
        legend_font_family=FONT,
        title_font_family=FONT,
        value_font_family=FONT,
        value_label_font_family=FONT,
        tooltip_font_family=FONT,
        no_data_font_family=FONT,
        label_font_size=11,
        major_label_font_size=11,
        legend_font_size=11,
        title_font_size=13,
        value_font_size=11,
        value_label_font_size=11,
        tooltip_font_size=12,
        no_data_font_size=14,
        stroke_width="2",
    )


def _common(colours: Sequence[str] = (ACCENT,), **config: Any) -> dict[str, Any]:
    return {
        "style": _style(colours),
        "js": [],
        "disable_xml_declaration": True,
        "explicit_size": False,
        "width": WIDTH,
        "truncate_label": -1,
        "truncate_legend": -1,
        "margin": 6,
        "no_data_text": "No data yet",
        **config,
    }


def _accessible(label: str) -> Callable[[Element], Element]:
    """An xml filter: drop pygal's scripts, name the drawing for assistive technology."""

    def fix(root: Element) -> Element:
        for parent in root.iter():
            for child in list(parent):
                tag = child.tag if isinstance(child.tag, str) else ""
                if tag.rsplit("}", 1)[-1] == "script":
                    parent.remove(child)
        root.set("role", "img")
        root.set("aria-label", label)
        root.set("class", f"{root.get('class', '')} chart-svg".strip())
        for child in root:
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "title":
                child.text = label
                break
        return root

    return fix


def _render(chart: Any, label: str) -> Markup:
    chart.add_xml_filter(_accessible(label))
    svg: str = chart.render(is_unicode=True)
    # ElementTree escaped every text and attribute; the result is safe to inline.
    return Markup(svg)  # noqa: S704


#: The score history's drawing: its height, and its plot area (SVG units) inside ``WIDTH``.
HISTORY_HEIGHT = 200
_PLOT_LEFT, _PLOT_RIGHT, _PLOT_TOP, _PLOT_BOTTOM = 36.0, 384.0, 8.0, 172.0
#: Score guides (with their labels): the band limits and the ends of the range.
_SCORE_GUIDES = (0, 50, 80, 100)
_GUIDE = "#dde3ea"
_FOREGROUND = "#1b2430"
_HOUR = timedelta(hours=1)


def _history_ticks(local_start: datetime, local_end: datetime) -> tuple[list[datetime], str]:
    """The x ticks (local, naive) and their strftime format: local midnights, or every six
    hours on the clock for a one-day window."""
    days = max(1, round((local_end - local_start) / timedelta(days=1)))
    midnight = local_start.replace(hour=0, minute=0, second=0, microsecond=0)
    ticks = [midnight + timedelta(days=i) for i in range(1, days + 1)]
    fmt = "%a" if days <= 7 else "%d %b"
    if days == 1:
        first = local_start.replace(minute=0, second=0, microsecond=0)
        first += timedelta(hours=6 - first.hour % 6)
        ticks = [first + timedelta(hours=h) for h in range(0, 24, 6)]
        ticks = [t for t in ticks if t <= local_end]
        fmt = "%H:%M"
    return ticks, fmt


def score_history(
    points: Sequence[tuple[datetime, float]],
    *,
    since: datetime,
    until: datetime,
    zone: ZoneInfo,
    label: str,
) -> Markup:
    """A home's hourly score over a window, in the BSP's time zone: one line, broken where
    hours are missing, with guides at the band limits (50, 80).

    Drawn here rather than by pygal, for speed (see the module's docstring): the same kind
    of drawing, written as a string. ``points`` are in time order; scores outside 0 to 100 are
    drawn at the nearer end."""
    local_start = since.astimezone(zone).replace(tzinfo=None)
    local_end = until.astimezone(zone).replace(tzinfo=None)
    ticks, fmt = _history_ticks(local_start, local_end)
    left, right, top, bottom = _PLOT_LEFT, _PLOT_RIGHT, _PLOT_TOP, _PLOT_BOTTOM
    # The x axis is elapsed time, labelled in local time: across a daylight-saving change the
    # hours stay evenly spaced and consecutive (the labels of that day are an hour closer or
    # further apart), where a wall-clock axis would break the line or stack two hours.
    since_utc = since.astimezone(UTC)
    x_scale = (right - left) / ((until - since).total_seconds() or 1.0)
    y_scale = (bottom - top) / 100

    def x_of(local: datetime) -> float:
        """A naive local tick's place: the instant it names (the first, if it names two)."""
        elapsed = local.replace(tzinfo=zone).astimezone(UTC) - since_utc
        return left + elapsed.total_seconds() * x_scale

    def y_of(score: float) -> float:
        return bottom - score * y_scale

    # The plot's points, one run per stretch of consecutive hours. Both ends of each difference
    # are in UTC (one tzinfo), so Python subtracts them as elapsed time.
    segments: list[list[tuple[float, float]]] = []
    run: list[tuple[float, float]] = []
    previous: datetime | None = None
    for at, value in points:
        at = at.astimezone(UTC)
        if previous is None or at - previous > _HOUR:
            run = []  # the first point, or after a gap: a new line
            segments.append(run)
        score = 100.0 if value > 100 else 0.0 if value < 0 else value
        run.append((left + (at - since_utc).total_seconds() * x_scale, bottom - score * y_scale))
        previous = at

    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg score-history" '
        f'viewBox="0 0 {WIDTH} {HISTORY_HEIGHT}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<g font-family="{escape(FONT)}" font-size="11" fill="{_FOREGROUND}">',
    ]
    # Guides: a horizontal line per score guide, a vertical line per tick inside the window.
    shown = [t for t in ticks if local_start <= t <= local_end]
    guides = [f"M{left:.1f} {y_of(v):.1f}H{right:.1f}" for v in _SCORE_GUIDES[1:]]
    guides += [f"M{x_of(t):.1f} {top:.1f}V{bottom:.1f}" for t in shown]
    out.append(f'<path class="guides" fill="none" stroke="{_GUIDE}" d="{"".join(guides)}"/>')
    # The axes: the left edge and the zero line.
    out.append(
        f'<path class="axis" fill="none" stroke="{_FOREGROUND}" '
        f'd="M{left:.1f} {top:.1f}V{bottom:.1f}H{right:.1f}"/>'
    )
    out.append('<g class="axis-labels y" text-anchor="end">')
    out.extend(f'<text x="{left - 5:.1f}" y="{y_of(v) + 4:.1f}">{v}</text>' for v in _SCORE_GUIDES)
    out.append('</g><g class="axis-labels x" text-anchor="middle">')
    out.extend(
        f'<text x="{x_of(t):.1f}" y="{bottom + 16:.1f}">{escape(t.strftime(fmt))}</text>'
        for t in shown
    )
    out.append("</g>")
    if not segments:
        out.append(
            f'<text class="no-data" x="{(left + right) / 2:.1f}" y="{(top + bottom) / 2:.1f}" '
            'font-size="14" text-anchor="middle">No data yet</text>'
        )
    lines = [run for run in segments if len(run) > 1]
    if lines:
        out.append(
            f'<g class="series" fill="none" stroke="{ACCENT}" stroke-width="2" '
            'stroke-linejoin="round" stroke-linecap="round">'
        )
        for run in lines:
            (x0, y0), rest = run[0], run[1:]
            path = " ".join([f"{x:.1f} {y:.1f}" for x, y in rest])
            out.append(f'<path class="score-line" d="M{x0:.1f} {y0:.1f}L{path}"/>')
        out.append("</g>")
    # Dots where a line cannot show the scores: two points or fewer, or an hour alone
    # between gaps.
    if len(points) <= 2:
        dots = [xy for run in segments for xy in run]
    else:
        dots = [run[0] for run in segments if len(run) == 1]
    if dots:
        out.append(f'<g class="dots" fill="{ACCENT}">')
        out.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3"/>' for x, y in dots)
        out.append("</g>")
    out.append("</g></svg>")
    # Every label and text went through escape(); the rest is numbers and constants.
    return Markup("".join(out))  # noqa: S704


def score_distribution(buckets: Sequence[tuple[str, int, str]], *, label: str) -> Markup:
    """Homes per score bucket (``(bucket label, homes, band)``, lowest first), one horizontal
    bar each, coloured by band."""
    chart = pygal.HorizontalBar(
        **_common(
            height=max(120, 22 * len(buckets) + 20),
            show_legend=False,
            print_values=True,
            print_zeroes=False,
            show_x_labels=False,
            show_y_guides=False,
            show_x_guides=False,
        )
    )
    chart.x_labels = [b[0] for b in buckets]
    chart.add(
        "Homes", [{"value": n, "color": BAND_COLOURS.get(band, ACCENT)} for _, n, band in buckets]
    )
    return _render(chart, label)


def findings_by_kind(
    rows: Sequence[tuple[str, dict[str, int]]], *, severities: Sequence[str], label: str
) -> Markup:
    """Open findings per detector (``(title, counts by severity)``), stacked by severity."""
    chart = pygal.HorizontalStackedBar(
        **_common(
            [SEVERITY_COLOURS.get(s, ACCENT) for s in severities],
            height=max(120, 26 * len(rows) + 60),
            legend_at_bottom=True,
            legend_at_bottom_columns=len(severities),
            show_y_guides=False,
        )
    )
    # pygal draws the first label at the bottom: reverse so the list reads top-down.
    ordered = list(reversed(rows))
    chart.x_labels = [title for title, _ in ordered]
    for s in severities:
        chart.add(s.capitalize(), [counts.get(s) or None for _, counts in ordered])
    return _render(chart, label)


def fleet_trend(
    points: Sequence[tuple[datetime, float]],
    *,
    since: datetime,
    until: datetime,
    zone: ZoneInfo,
    label: str,
) -> Markup:
    """The fleet's mean score per hour (one line), in the BSP's time zone."""
    return score_history(points, since=since, until=until, zone=zone, label=label)


#: The target line of a KPI trend.
TARGET = "#5b6675"
#: A KPI trend fills a dashboard tile, narrower than a page: fewer units, larger text.
TREND_WIDTH = 320


def kpi_trend(
    points: Sequence[tuple[str, float | None]],
    *,
    target: float | None,
    higher_is_better: bool,
    label: str,
    formatter: Callable[[float], str] = lambda v: f"{v:g}",
    integer: bool = False,
) -> Markup:
    """One KPI per period (``(period label, value)``, oldest first): a line with a dot per
    period — green where it meets ``target`` in the KPI's direction, red where not — broken
    where a period has nothing to measure, and the target as a dashed grey line. ``integer``:
    a count, whose axis shows whole numbers only."""

    def colour(value: float | None) -> str:
        if value is None or target is None:
            return ACCENT
        ok = value >= target if higher_is_better else value <= target
        return OK if ok else BAD

    every = max(1, round(len(points) / 4))
    axis: dict[str, Any] = {"min_scale": 3, "max_scale": 5}
    if integer:
        top = max([v for _, v in points if v is not None] + [target or 0, 1])
        step = max(1, math.ceil(top / 4))
        axis = {"y_labels": list(range(0, int(top) + step, step))}
    chart = pygal.Line(
        **_common(
            [ACCENT, TARGET],
            width=TREND_WIDTH,
            height=170,
            show_legend=False,
            allow_interruptions=True,
            dots_size=4,
            x_labels=[p[0] for p in points],
            x_labels_major_every=every,
            show_minor_x_labels=False,
            value_formatter=formatter,
            **axis,
            margin_right=14,
        )
    )
    chart.add("Value", [{"value": v, "color": colour(v)} for _, v in points])
    if target is not None:
        chart.add(
            "Target",
            [target] * len(points),
            show_dots=False,
            stroke_style={"width": 2, "dasharray": "6, 4"},
        )
    return _render(chart, label)
