"""Every KPI on the hand-built week of tests/kpis/data.py, with the expected value worked out
by hand beside it; edge cases (nothing to measure, merged and reopened cases), cuts, refusals,
periods and the comparison with the previous period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

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
