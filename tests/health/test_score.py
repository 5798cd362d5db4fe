"""The experience score: sub-scores, the cap at worst + 20, bands, stars, the explanation, and
the hourly history stored per home."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from homeport.core.db import Database
from homeport.core.health_settings import HealthSettings
from homeport.health import score
from homeport.health import service as health_service
from homeport.health.detectors.base import HomeContext
from homeport.health.models import ExperienceScore
from tests.conftest import START
from tests.factories import Fleet
from tests.health.pipeline import evaluate, feed, home_of
from tests.health.reports import INTERVAL, LAPTOP, PHONE, report
from tests.web.conftest import count_statements

CTX = HomeContext(home_id=1, plan_down_mbps=100, plan_up_mbps=20)
S = HealthSettings()


def test_a_healthy_home_scores_100() -> None:
    sub = score.subscores(report(), CTX, S)
    assert sub.values == dict.fromkeys(score.SUBSCORES, 100.0)
    assert score.combine(sub.values) == 100.0
    assert score.explain(sub.values, {})["text"] == "Every dimension is at its best."


def test_one_bad_dimension_cannot_hide() -> None:
    """WAN down: the weighted mean would be 45, the cap (worst 0 + 20) makes it 20."""
    sub = score.subscores(report(wan={"status": "down"}), CTX, S)
    assert sub.values["wan_service"] == 0 and sub.values["wan_continuity"] == 0
    assert score.combine(sub.values) == 20.0
    why = score.explain(sub.values, {"wan_service": {"no Internet connection": 1}})
    assert why["weakest"] == "wan_service" and why["capped"] is True
    assert "no Internet connection" in str(why["text"]) and "capped at 20" in str(why["text"])
    assert (why["band"], why["stars"]) == ("poor", 1)


@pytest.mark.parametrize(
    ("value", "band", "stars"),
    [
        (100, "excellent", 5),
        (81, "excellent", 5),
        (80.9, "average", 5),
        (80, "average", 4),
        (51, "average", 3),
        (50, "poor", 3),
        (20, "poor", 1),
        (0, "poor", 1),
    ],
)
def test_bands_and_stars(value: float, band: str, stars: int) -> None:
    assert (score.band(value), score.stars(value)) == (band, stars)


def test_sub_scores_react_to_their_own_metrics() -> None:
    weak = score.subscores(
        report(client={PHONE: {"rssi_dbm": -80}, LAPTOP: {"rssi_dbm": -72}}), CTX, S
    )
    assert weak.values["wifi_coverage"] == pytest.approx(100 / 3)
    assert weak.values["wan_service"] == 100
    busy = score.subscores(report(radio={"5GHz": {"utilization_pct": 75}}), CTX, S)
    assert busy.values["wifi_efficiency"] == 70
    slow = score.subscores(report(wan={"down_mbps": 65.0}), CTX, S)
    assert slow.values["wan_service"] == pytest.approx(45.0)
    assert slow.reasons["wan_service"] == ["speed 65% of plan"]
    rebooted = score.subscores(report(uptime_s=30, resources={"cpu_pct": 99}), CTX, S)
    assert rebooted.values["device_health"] == 40
    assert rebooted.values["wan_continuity"] == 50


def test_hourly_history_with_explanation(db: Database, fleet: Fleet) -> None:
    """Twelve reports in one hour, four with a weak laptop: the hour's coverage sub-score is
    the mean, and the explanation names coverage and why."""
    weak: dict[str, Any] = {"client": {LAPTOP: {"rssi_dbm": -80}, PHONE: {"rssi_dbm": -70}}}
    reports = [report(ts=START + n * INTERVAL, **(weak if n < 4 else {})) for n in range(12)]
    evaluate(db, fleet, reports[:5])
    feed(db, fleet, reports[5:])
    evaluate(db, fleet, [report(ts=START + 12 * INTERVAL)])  # the next hour
    with db.session() as s:
        rows = list(
            s.scalars(
                select(ExperienceScore)
                .where(ExperienceScore.home_id == home_of(fleet, "GW-F00001"))
                .order_by(ExperienceScore.period_start)
            )
        )
    assert [r.period_start for r in rows] == [START, START + 12 * INTERVAL]
    first = rows[0]
    assert first.explanation["samples"] == 12
    assert first.wifi_coverage == pytest.approx((4 * 100 / 3 + 8 * 100) / 12, abs=0.01)
    assert first.explanation["weakest"] == "wifi_coverage"
    assert "Wi-Fi coverage" in first.explanation["text"]
    assert first.explanation["reasons"]["wifi_coverage"] == {"2 of 3 devices below -67 dBm": 4}
    assert first.score == score.combine({k: getattr(first, k) for k in score.SUBSCORES})
    assert rows[1].score == 100.0


def test_home_experience_reads_points_and_explains_the_latest(db: Database, fleet: Fleet) -> None:
    """The pages' read: every hour as (start, score), only the latest hour explained, in at most
    four statements; the API's read explains every hour and agrees with it."""
    weak: dict[str, Any] = {"client": {LAPTOP: {"rssi_dbm": -80}, PHONE: {"rssi_dbm": -70}}}
    hours = 5
    evaluate(
        db,
        fleet,
        [
            report(ts=START + n * INTERVAL, **(weak if n >= 12 * (hours - 1) else {}))
            for n in range(12 * hours)
        ],
    )
    home = home_of(fleet, "GW-F00001")
    now = START + hours * 12 * INTERVAL
    with db.session() as s, count_statements(db) as counted:
        exp = health_service.home_experience(s, home, now=now, days=1)
    assert len(counted.statements) <= 4
    assert [p.period_start for p in exp.points] == [START + n * 12 * INTERVAL for n in range(hours)]
    assert exp.latest is not None and exp.latest.period_start == exp.points[-1].period_start
    assert exp.latest.weakest == "wifi_coverage" and "Wi-Fi coverage" in exp.latest.text
    assert exp.points[-1].score == exp.latest.score < exp.points[0].score == 100.0
    assert exp.current == exp.latest
    with db.session() as s:
        same, history = health_service.explained_experience(s, home, now=now, days=1)
    assert same.points == exp.points and same.latest == exp.latest
    assert [h.period_start for h in history] == [p.period_start for p in exp.points]
    assert history[-1] == exp.latest and history[0].score == 100.0
    with db.session() as s:
        empty = health_service.home_experience(s, home, now=START - INTERVAL, days=1)
    assert empty.points == [] and empty.latest is None and empty.current is None
