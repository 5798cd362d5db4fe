"""The server-side SVG charts: escaped labels, no script, a text alternative, scalable."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
from defusedxml.ElementTree import fromstring as parse_svg

from homeport.web import charts

EVIL = '<script>alert("x")</script>'
SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ElementTree.Element:
    return parse_svg(svg)


def lines_of(root: ElementTree.Element) -> list[ElementTree.Element]:
    return [p for p in root.iter(f"{SVG}path") if p.get("class") == "score-line"]


def coordinates(path: ElementTree.Element) -> list[tuple[float, float]]:
    """A line's points, from its ``M x y L x y x y …`` data."""
    numbers = [float(n) for n in re.findall(r"-?[\d.]+", path.get("d") or "")]
    return list(zip(numbers[::2], numbers[1::2], strict=True))


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
    # The ten missing hours break the line into two; a long series has no dots.
    assert len(lines_of(root)) == 2
    assert not list(root.iter(f"{SVG}circle"))


def test_empty_chart_says_so() -> None:
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    svg = charts.fleet_trend(
        [], since=now - timedelta(hours=24), until=now, zone=ZoneInfo("UTC"), label="Trend"
    )
    check(svg, "Trend")
    assert "No data yet" in svg


UNTIL = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
#: The history's plot area (SVG units), as charts draws it.
LEFT, RIGHT, TOP, BOTTOM = 36.0, 384.0, 8.0, 172.0


def history(points: list[tuple[datetime, float]], *, days: int = 7, label: str = "History") -> str:
    return charts.score_history(
        points,
        since=UNTIL - timedelta(days=days),
        until=UNTIL,
        zone=ZoneInfo("Europe/Paris"),
        label=label,
    )


def test_history_label_is_escaped() -> None:
    label = f"Score {EVIL} & more"
    svg = history([(UNTIL - timedelta(hours=h), 70.0) for h in range(5, 0, -1)], label=label)
    check(svg, label)  # parsed as XML with the label intact: it was escaped, not dropped
    assert EVIL not in svg
    assert "&lt;script&gt;" in svg and "&amp; more" in svg


def test_empty_history_says_so_and_keeps_its_axes() -> None:
    root = check(history([]), "History")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "No data yet" in texts
    assert {"0", "50", "80", "100", "Mon", "Tue"} <= set(texts)
    assert not lines_of(root) and not list(root.iter(f"{SVG}circle"))


def test_one_or_two_points_get_dots() -> None:
    one = check(history([(UNTIL - timedelta(hours=3), 60.0)]), "History")
    assert len(list(one.iter(f"{SVG}circle"))) == 1
    assert not lines_of(one)
    two = [(UNTIL - timedelta(hours=3), 60.0), (UNTIL - timedelta(hours=2), 70.0)]
    root = check(history(two), "History")
    assert len(list(root.iter(f"{SVG}circle"))) == 2
    assert len(lines_of(root)) == 1  # and the line between them


def test_an_hour_alone_between_gaps_gets_a_dot() -> None:
    hours = [0, 1, 2, 5, 8, 9]  # 5 is alone
    root = check(history([(UNTIL - timedelta(hours=10 - h), 70.0) for h in hours]), "History")
    assert len(lines_of(root)) == 2
    assert len(list(root.iter(f"{SVG}circle"))) == 1


def test_a_one_day_window_has_six_hourly_ticks() -> None:
    # 10:00 UTC is 11:00 in Paris: ticks at 12:00, 18:00, 00:00, 06:00 local.
    root = check(history([(UNTIL - timedelta(hours=3), 60.0)], days=1), "History")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert [t for t in texts if t and re.fullmatch(r"\d\d:\d\d", t)] == [
        "12:00",
        "18:00",
        "00:00",
        "06:00",
    ]
    xs = [float(t.get("x") or 0) for t in root.iter(f"{SVG}text") if t.text in ("12:00", "06:00")]
    step = (xs[1] - xs[0]) / 18  # the plot's width per hour
    assert step > 0 and abs(xs[0] - step - LEFT) < 0.2  # 12:00 is an hour after the start


def test_scores_and_times_are_placed_on_the_plot() -> None:
    since = UNTIL - timedelta(days=7)
    points = [(since, 100.0), (since + timedelta(hours=1), 0.0)]
    points += [(UNTIL - timedelta(hours=1), 50.0), (UNTIL, 80.0)]
    root = check(history(points), "History")
    first, last = (coordinates(p) for p in lines_of(root))
    assert first[0] == (LEFT, TOP)  # 100 at `since`: the top left corner
    assert first[1][1] == BOTTOM  # 0 at the bottom
    assert first[1][0] == round(LEFT + (RIGHT - LEFT) / 168, 1)  # an hour later
    assert last[-1] == (RIGHT, round(BOTTOM - 0.8 * (BOTTOM - TOP), 1))  # 80 at `until`
    assert last[0][1] == (TOP + BOTTOM) / 2  # 50 half-way up
    # The score guides and their labels are at the same heights.
    labels = {t.text: float(t.get("y") or 0) - 4 for t in root.iter(f"{SVG}text")}
    assert labels["100"] == TOP and labels["0"] == BOTTOM and labels["50"] == (TOP + BOTTOM) / 2


@pytest.mark.parametrize(
    "first",
    [
        datetime(2026, 3, 28, 22, 0, tzinfo=UTC),  # Paris springs forward at 01:00 UTC on the 29th
        datetime(2026, 10, 24, 22, 0, tzinfo=UTC),  # and falls back at 01:00 UTC on 25 October
    ],
)
def test_a_daylight_saving_change_keeps_the_hours_consecutive_and_evenly_spaced(
    first: datetime,
) -> None:
    points = [(first + timedelta(hours=h), 60.0 + h) for h in range(6)]
    root = check(
        charts.score_history(
            points,
            since=first,
            until=first + timedelta(hours=5),
            zone=ZoneInfo("Europe/Paris"),
            label="History",
        ),
        "History",
    )
    [line] = lines_of(root)  # one line: no hour is missing, whatever the wall clock says
    xs = [x for x, _ in coordinates(line)]
    assert xs[0] == LEFT and xs[-1] == RIGHT
    steps = {round(b - a, 1) for a, b in itertools.pairwise(xs)}
    assert steps == {round((RIGHT - LEFT) / 5, 1)}  # an hour is an hour wide
