"""The server-side SVG charts: escaped labels, no script, a text alternative, scalable."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

from defusedxml.ElementTree import fromstring as parse_svg

from homeport.web import charts

EVIL = '<script>alert("x")</script>'
SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ElementTree.Element:
    return parse_svg(svg)


def check(svg: str, label: str) -> ElementTree.Element:
    root = parse(svg)  # well-formed XML: every label was escaped
    assert root.get("role") == "img"
    assert root.get("aria-label") == label
    assert root.findtext(f"{SVG}title") == label
    assert root.get("width") is None and root.get("height") is None  # scales with the page
    assert re.fullmatch(r"0 0 400 \d+", root.get("viewBox") or ""), root.get("viewBox")
    assert not list(root.iter(f"{SVG}script"))
    assert "<script" not in svg
    assert "http://" not in re.sub(r'xmlns(:\w+)?="[^"]+"|<!--.*?-->', "", svg)  # no asset
    return root


def test_labels_and_titles_are_escaped() -> None:
    label = f"Scores {EVIL}"
    svg = charts.score_distribution([(EVIL, 3, "poor"), ("10–20", 0, "poor")], label=label)
    root = check(svg, label)
    assert EVIL not in svg.replace(f'aria-label="{label}"', "")
    assert "&lt;script&gt;" in svg
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert EVIL in texts  # shown as text, not markup


def test_findings_chart_is_stacked_by_severity() -> None:
    svg = charts.findings_by_kind(
        [("WAN down", {"critical": 2, "warning": 0, "info": 0}), (EVIL, {"warning": 1})],
        severities=("critical", "warning", "info"),
        label="Findings",
    )
    root = check(svg, "Findings")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"Critical", "Warning", "Info", "WAN down", EVIL} <= set(texts)


def test_history_chart_in_the_local_zone_with_gaps() -> None:
    zone = ZoneInfo("Asia/Tokyo")
    until = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    since = until - timedelta(days=7)
    points = [(since + timedelta(hours=h), 80.0) for h in range(0, 168) if not 20 <= h < 30]
    svg = charts.score_history(points, since=since, until=until, zone=zone, label="History")
    root = check(svg, "History")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    # Ticks at local midnights (Tokyo is UTC+9): the labels are the local weekdays.
    assert [t for t in texts if t in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")] == [
        "Tue",
        "Wed",
        "Thu",
        "Fri",
        "Sat",
        "Sun",
        "Mon",
    ]
    # The ten missing hours break the line into two.
    lines = [p for p in root.iter(f"{SVG}path") if p.get("class") == "line reactive nofill"]
    assert len(lines) == 2


def test_empty_chart_says_so() -> None:
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    svg = charts.fleet_trend(
        [], since=now - timedelta(hours=24), until=now, zone=ZoneInfo("UTC"), label="Trend"
    )
    check(svg, "Trend")
    assert "No data yet" in svg
