"""Server-side SVG charts (pygal), inlined in the pages: no JavaScript, no third-party assets.

pygal builds the SVG with ElementTree, which escapes every label and title. Each chart is
post-processed so that it fits the page:

- pygal's own ``<script>`` (its tooltip configuration) is removed: the pages run no chart code;
- the ``<svg>`` gets ``role="img"`` and an ``aria-label`` (its text alternative), and its first
  ``<title>`` says the same, so screen readers and a hover both describe it;
- the drawing scales to its container (``viewBox``, no fixed size): the CSS gives it the
  container's width, which on a 390 px phone is the screen's.

Every chart on a page is also given as numbers (a table or list) next to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo

import pygal
from markupsafe import Markup
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


def score_history(
    points: Sequence[tuple[datetime, float]],
    *,
    since: datetime,
    until: datetime,
    zone: ZoneInfo,
    label: str,
) -> Markup:
    """A home's hourly score over a window, in the BSP's time zone: one line, broken where
    hours are missing, with guides at the band limits (50, 80)."""
    local_start = since.astimezone(zone).replace(tzinfo=None)
    local_end = until.astimezone(zone).replace(tzinfo=None)
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
    series: list[tuple[datetime, float | None]] = []
    previous: datetime | None = None
    for at, value in points:
        local = at.astimezone(zone).replace(tzinfo=None)
        if previous is not None and local - previous > timedelta(hours=1):
            series.append((previous + timedelta(minutes=30), None))  # a gap: break the line
        series.append((local, value))
        previous = local
    chart = pygal.DateTimeLine(
        **_common(
            height=200,
            show_legend=False,
            range=(0, 100),
            xrange=(local_start, local_end),
            show_dots=len(points) <= 2,
            dots_size=3,
            allow_interruptions=True,
            x_value_formatter=lambda d: d.strftime(fmt),
            x_labels=ticks,
            y_labels=[0, 50, 80, 100],
            show_x_guides=True,
        )
    )
    chart.add("Score", series)
    return _render(chart, label)


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
