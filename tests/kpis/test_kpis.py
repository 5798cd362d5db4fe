"""Every KPI on the hand-built week of tests/kpis/data.py, with the expected value worked out
by hand beside it; edge cases (nothing to measure, merged and reopened cases), cuts, refusals,
periods and the comparison with the previous period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from homeport.audit.actions import Actor
from homeport.core.db import Database
from homeport.core.errors import ValidationFailed
from homeport.kpis import service
from homeport.kpis.definitions import FAMILIES, KPIS
from homeport.kpis.service import Cut
from homeport.support import service as support
from homeport.support.models import Case
from tests.kpis.data import SINCE, UNTIL, Week, build_week


@pytest.fixture
def week(db: Database) -> Week:
    return build_week(db)


def value(db: Database, name: str, cut: Cut | None = None, **kw: datetime) -> float | None:
    with db.session() as s:
        return service.compute(
            s, name, since=kw.get("since", SINCE), until=kw.get("until", UNTIL), cut=cut
        ).value


#: name -> (expected, how it is worked out)
EXPECTED: dict[str, float] = {
    # Solved reactive, not merged: A, B, C, D, G. FCR: A (1 contact), C (1 chat conversation).
    "first_contact_resolution": 2 / 5 * 100,
    # Reactive opened: A, B, C, D, E, G (F merged); E repeats D within 7 days.
    "repeat_contact_rate": 1 / 6 * 100,
    # Technical opened: A, B, C, D, E, P (G is billing); B got a repair visit.
    "truck_roll_rate": 1 / 6 * 100,
    # 1 visit; subscribers at the end: Alice, Bob, Dev (Carol churned, Erin never active).
    "truck_rolls_per_1000_subscribers": 1 / 3 * 1000 * 30 / 7,
    "repeat_dispatch_rate": 0.0,
    # First responses: A after 0.5 h, B after 1 h.
    "first_response_time": 0.75,
    # Solved: A 2 h, B 5 h, C 3 h, D 4 h, G 25 h, P 1 h -> median of 1 2 3 4 5 25.
    "time_to_resolve": 3.5,
    "time_to_resolve_p90": 25.0,
    # A late (due after 1 h), B in time; E unsolved and due on day 5.
    "sla_compliance": 1 / 3 * 100,
    # B's calls: 600 s and 300 s.
    "average_handle_time": 7.5,
    # 6 reactive cases, 3 subscribers, scaled to 30 days.
    "cases_per_1000_subscribers": 6 / 3 * 1000 * 30 / 7,
    # E is the only case open at the end (F merged, Z opened after).
    "backlog": 1.0,
    "proactive_share": 1 / 6 * 100,
    # Warning/critical findings: Alice's (no contact), Bob's (case B meanwhile), Carol's (open).
    "proactive_resolution_without_contact": 1 / 3 * 100,
    # Finished fixes: Alice fixed, Bob failed, Dev fixed.
    "auto_remediation_success": 2 / 3 * 100,
    # Alice mean 85, Bob 50.
    "experience_score_mean": 67.5,
    "experience_score_good_share": 50.0,
    # 24 reports, 6 down.
    "availability": 75.0,
    # Contained: Alice; handed over: Bob; Dev abandoned (left out).
    "self_service_containment": 50.0,
    # Alice (10 days) and Dev (60 days) of Alice, Bob, Dev.
    "digital_adoption": 2 / 3 * 100,
    "app_engagement": 1 / 3 * 100,
    # 10, 9, 9, 7, 3: 3 promoters, 1 detractor of 5.
    "nps": 40.0,
    # 5, 4, 2.
    "csat": 2 / 3 * 100,
    # 2, 5, 6, 7.
    "ces": 5.0,
    # Dev: sign-up 3 days before the week, installed on day 2.
    "install_lead_time": 5.0,
    # Base at the start: Alice, Bob, Carol, Dev; Carol churned; scaled to 30 days.
    "churn_rate": 1 / 4 * 100 * 30 / 7,
}
#: KPIs with nothing to measure in the week.
NOTHING = {"no_fault_found_rate"}


def test_every_kpi_is_defined_once_and_tested(db: Database) -> None:
    assert set(EXPECTED) | NOTHING == set(KPIS) == set(service.COMPUTE)
    assert {k.family for k in KPIS.values()} == set(FAMILIES)
    for k in KPIS.values():
        assert k.formula and k.source and k.doc and k.unit and k.title, k.name


def test_every_kpi_on_the_hand_built_week(db: Database, week: Week) -> None:
    got = {name: value(db, name) for name in KPIS}
    for name, expected in EXPECTED.items():
        assert got[name] == pytest.approx(expected), name
    for name in NOTHING:
        assert got[name] is None, name


def test_set_based_fcr_matches_the_support_domains_per_case_definition(
    db: Database, week: Week
) -> None:
    with db.session() as s:
        solved = s.scalars(
            select(Case).where(Case.solved_at >= SINCE, Case.solved_at < UNTIL)
        ).all()
        derived = [support.first_contact_resolved(s, c) for c in solved]
    counted = [d for d in derived if d is not None]
    assert len(counted) == 5  # A B C D G; P is proactive, F a merged duplicate
    assert value(db, "first_contact_resolution") == pytest.approx(100 * sum(counted) / len(counted))


def test_nothing_to_measure_is_none_not_zero(db: Database) -> None:
    empty = {name: value(db, name) for name in KPIS}
    assert empty.pop("backlog") == 0.0  # a count: no open case is 0
    assert empty == dict.fromkeys(empty)


def test_merged_case_is_excluded_and_reopened_case_counts_once(db: Database, week: Week) -> None:
    # By SMS only F was opened (and merged): nothing to measure, not a case.
    assert value(db, "repeat_contact_rate", Cut(channel="sms")) is None
    assert value(db, "backlog", Cut(channel="sms")) == 0.0
    # G was solved twice: it counts once, at its last resolution (25 h after opening).
    billing_only = Cut(channel="email", agent_id=None)
    assert value(db, "time_to_resolve", billing_only) == pytest.approx(4.0)  # A 2, D 4, G 25
    with db.session() as s:
        m = service.compute(s, "first_contact_resolution", since=SINCE, until=UNTIL)
    assert (m.numerator, m.denominator) == (2.0, 5.0)


def test_cuts(db: Database, week: Week) -> None:
    south = week.fleet.regions["south"]
    gigabit = week.fleet.plans["fibre-1000"]
    # Email: A (FCR), D (repeat), G (two contacts).
    assert value(db, "first_contact_resolution", Cut(channel="email")) == pytest.approx(100 / 3)
    # South is Dev only: D solved, not FCR; E repeats D of 2 reactive cases (F merged).
    assert value(db, "first_contact_resolution", Cut(region_id=south)) == 0.0
    assert value(db, "repeat_contact_rate", Cut(region_id=south)) == 50.0
    # Gigabit is Alice: A and P technical, P proactive.
    assert value(db, "proactive_share", Cut(plan_id=gigabit)) == 50.0
    assert value(db, "nps", Cut(plan_id=gigabit)) == 100.0  # 10 and 9
    # Origin: the proactive case P took 1 h.
    assert value(db, "time_to_resolve", Cut(origin="proactive")) == 1.0
    # Journey stage: Carol is "churned" now; her chat C was solved in 3 h.
    assert value(db, "time_to_resolve", Cut(journey_stage="churned")) == 3.0
    # Agent: B's calls have no agent author, so none by agent 1.
    assert value(db, "average_handle_time", Cut(agent_id=1)) is None
    assert value(db, "average_handle_time", Cut(channel="phone")) == 7.5
    # Surveys cut by a case dimension: none of these surveys is about a case.
    assert value(db, "csat", Cut(channel="email")) is None


def test_cuts_a_kpi_cannot_take_and_bad_input_are_refused(db: Database) -> None:
    with db.session() as s:
        for name, cut in (
            ("self_service_containment", Cut(region_id=1)),
            ("proactive_share", Cut(origin="reactive")),
            ("churn_rate", Cut(channel="email")),
        ):
            with pytest.raises(ValidationFailed, match="cut not supported"):
                service.compute(s, name, since=SINCE, until=UNTIL, cut=cut)
        with pytest.raises(ValidationFailed, match="unknown KPI"):
            service.compute(s, "happiness", since=SINCE, until=UNTIL)
        with pytest.raises(ValidationFailed, match="invalid cut"):
            service.compute(s, "nps", since=SINCE, until=UNTIL, cut=Cut(channel="fax"))
        with pytest.raises(ValidationFailed, match="invalid period"):
            service.compute(s, "nps", since=UNTIL, until=SINCE)


def test_periods_are_buckets_in_the_bsps_zone() -> None:
    tz = service.zone_of("America/New_York")
    at = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # still Sunday 22nd in New York
    week = service.bucket_start("week", at, tz)
    assert week == datetime(2026, 11, 16, 5, 0, tzinfo=UTC)  # Monday 16th, midnight EST
    assert service.bucket_start("day", at, tz) == datetime(2026, 11, 22, 5, 0, tzinfo=UTC)
    assert service.bucket_start("month", at, tz) == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    # Across the DST change (1 November): October starts at midnight EDT.
    assert service.shift("month", service.bucket_start("month", at, tz), -1, tz) == datetime(
        2026, 10, 1, 4, 0, tzinfo=UTC
    )
    w = service.window("week", at, zone="America/New_York")
    assert (w.since, w.until) == (week, at)
    assert w.previous_since == week - timedelta(weeks=1)
    assert w.previous_until == w.previous_since + (at - week)
    done = service.window("month", at, zone="UTC", complete=True)
    assert (done.since, done.until) == (
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2026, 11, 1, tzinfo=UTC),
    )
    assert done.previous_since == datetime(2026, 9, 1, tzinfo=UTC)
    with pytest.raises(ValidationFailed):
        service.window("year", at)


def test_overview_compares_with_the_target_and_the_previous_period(
    db: Database, week: Week
) -> None:
    from homeport.kpis import actions

    with db.transaction() as s:
        actions.set_target(s, service_actor(), "first_contact_resolution", 30.0, now=UNTIL)
        actions.set_target(s, service_actor(), "backlog", 0.0, now=UNTIL)
    # The week after: only Z (Alice, day 9) opened; nothing solved.
    nxt = UNTIL + timedelta(weeks=1)
    with db.session() as s:
        o = service.overview(s, "week", nxt, zone="Europe/London", complete=True)
        fcr = o.rows["first_contact_resolution"]
        assert (fcr.current.value, fcr.previous.value, fcr.target) == (None, 40.0, 30.0)
        assert fcr.status == "none" and fcr.delta is None
        backlog = o.rows["backlog"]
        # E still open, and Z: 2 at the end of the week after, 1 the week before.
        assert (backlog.current.value, backlog.previous.value) == (2.0, 1.0)
        assert (backlog.delta, backlog.improved, backlog.status) == (1.0, False, "red")
        same = service.overview(s, None, nxt, since=SINCE, until=UNTIL)
        row = same.rows["first_contact_resolution"]
        assert (row.current.value, row.status, row.improved) == (40.0, "green", None)
        assert same.window.previous_since == SINCE - timedelta(weeks=1)
        j = same.to_json()
        assert set(j) == {"period", "cut", "kpis"}
        assert set(j["kpis"]["nps"]) >= {
            "value",
            "unit",
            "direction",
            "target",
            "previous",
            "delta",
            "status",
        }
        # A cut shows only the KPIs that can take it.
        by_channel = service.overview(
            s, None, nxt, since=SINCE, until=UNTIL, cut=Cut(channel="email")
        )
        assert "churn_rate" not in by_channel.rows and "backlog" in by_channel.rows


def service_actor() -> Actor:
    return Actor("staff", None, "leader")
