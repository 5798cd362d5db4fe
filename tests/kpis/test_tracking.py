"""Targets (audited, documented defaults), snapshots (idempotent, read when the data is gone),
scheduled email reports (once per period, right content), the API and the CLI JSON, and the
generated docs/kpis.md."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from homeport.audit.actions import Actor
from homeport.audit.models import AuditEntry
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import ValidationFailed
from homeport.kpis import actions, docs, service
from homeport.kpis.definitions import HEADLINE, KPIS
from homeport.kpis.models import KpiReportSubscription, KpiSnapshot
from homeport.kpis.service import Cut
from homeport.support.models import Case, OutboundMessage
from tests.conftest import login, make_staff
from tests.kpis.data import SINCE, UNTIL, Week, build_week

LEADER = Actor("system", None, "tests")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def week(db: Database) -> Week:
    return build_week(db)


def test_targets_are_audited_and_defaults_documented(db: Database) -> None:
    with db.transaction() as s:
        done = actions.seed_default_targets(s, LEADER, now=UNTIL)
        assert "first_contact_resolution" in done
        assert service.targets(s)["first_contact_resolution"] == 70.0
        actions.set_target(s, LEADER, "nps", 35, now=UNTIL)
        actions.set_target(s, LEADER, "nps", 25, "team:2", now=UNTIL)
        assert actions.seed_default_targets(s, LEADER, now=UNTIL) == []  # nothing overwritten
        assert service.targets(s)["nps"] == 35.0
        assert service.targets(s, "team:2") == {"nps": 25.0}
        actions.set_target(s, LEADER, "nps", None, now=UNTIL)
        assert "nps" not in service.targets(s)
        for bad in (
            ("csat", 120.0, ""),
            ("happiness", 1.0, ""),
            ("churn_rate", 1.0, "team:2"),
            ("nps", float("nan"), ""),
            ("backlog", -1.0, ""),
        ):
            with pytest.raises(ValidationFailed):
                actions.set_target(s, LEADER, bad[0], bad[1], bad[2], now=UNTIL)
        audited = s.scalars(
            select(AuditEntry.detail).where(AuditEntry.entity_id == "nps@team:2")
        ).all()
        assert audited == [{"kpi": "nps", "cut": "team:2", "previous": None, "target": 25}]
    # Every default target says where it comes from, and every KPI family has one.
    with_target = [k for k in KPIS.values() if k.default_target is not None]
    assert all(k.target_source for k in with_target)
    assert {k.family for k in with_target} == {k.family for k in KPIS.values()}


def test_snapshots_are_idempotent_and_outlive_the_data(db: Database, week: Week) -> None:
    now = UNTIL + timedelta(hours=1)
    with db.transaction() as s:
        first = actions.snapshot(s, period="week", period_start=SINCE, now=now)
    with db.transaction() as s:
        again = actions.snapshot(s, period="week", period_start=SINCE, now=now)
        rows = s.scalar(select(func.count()).select_from(KpiSnapshot))
        fcr = s.scalars(
            select(KpiSnapshot).where(
                KpiSnapshot.kpi == "first_contact_resolution", KpiSnapshot.cut == ""
            )
        ).one()
        by_email = s.scalars(
            select(KpiSnapshot.value).where(
                KpiSnapshot.kpi == "first_contact_resolution",
                KpiSnapshot.cut == "channel:email",
            )
        ).one()
    assert first == again == rows and rows > len(KPIS)
    assert (fcr.value, fcr.numerator, fcr.denominator) == (40.0, 2.0, 5.0)
    assert by_email == pytest.approx(100 / 3)
    with pytest.raises(ValidationFailed), db.transaction() as s:
        actions.snapshot(s, period="week", period_start=SINCE + timedelta(days=1), now=now)
    # Retention takes the cases: the trend still shows the week from its snapshot.
    with db.transaction() as s:
        s.execute(delete(Case))
    with db.session() as s:
        points = service.series(s, "first_contact_resolution", "week", 2, now, zone="Europe/London")
    assert [(p.period_start, p.measure.value, p.source) for p in points] == [
        (SINCE, 40.0, "snapshot"),
        (UNTIL, None, "live"),
    ]


def test_daily_snapshot_task_covers_last_and_current_periods(db: Database, week: Week) -> None:
    now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # Tuesday
    with db.transaction() as s:
        run = actions.snapshot_due(s, now=now, zone="Europe/London")
    assert run.buckets == [
        ("day", datetime(2026, 11, 23, tzinfo=UTC)),
        ("day", datetime(2026, 11, 24, tzinfo=UTC)),
        ("week", SINCE),
        ("week", UNTIL),
        ("month", datetime(2026, 9, 30, 23, 0, tzinfo=UTC)),  # 1 October, BST
        ("month", datetime(2026, 11, 1, tzinfo=UTC)),
    ]


def test_report_is_queued_once_per_period_with_the_headline(db: Database, week: Week) -> None:
    with db.transaction() as s:
        actions.seed_default_targets(s, LEADER, now=SINCE)
        actions.subscribe(s, LEADER, "Boss@Example.org", now=SINCE + timedelta(days=2))
        actions.subscribe(s, LEADER, "cfo@example.org", frequency="monthly", now=SINCE)
        with pytest.raises(ValidationFailed):
            actions.subscribe(s, LEADER, "not an address", now=SINCE)
    monday = UNTIL + timedelta(hours=7, minutes=5)  # Monday 23rd 07:05 London
    with db.transaction() as s:
        assert actions.send_reports(s, now=monday - timedelta(minutes=10), bsp_name="Acme") == 0
        assert actions.send_reports(s, now=monday, zone="Europe/London", bsp_name="Acme") == 1
        assert actions.send_reports(s, now=monday + timedelta(hours=3), bsp_name="Acme") == 0
    with db.session() as s:
        (msg,) = s.scalars(select(OutboundMessage)).all()
        sub = s.scalars(
            select(KpiReportSubscription).where(KpiReportSubscription.frequency == "weekly")
        ).one()
    assert sub.last_sent_at == monday
    assert (msg.channel, msg.recipient, msg.status) == ("email", "boss@example.org", "queued")
    assert msg.subject == "Acme KPIs, week of 16 Nov 2026"
    lines = msg.body.splitlines()
    fcr = next(line for line in lines if line.startswith("First-contact resolution"))
    # 40 % this week against the 70 % default target; nothing the week before.
    assert fcr.split()[-4:] == ["70.0", "%", "–", "RED"] and "40.0 %" in fcr
    assert all(any(line.startswith(KPIS[n].title) for line in lines) for n in HEADLINE)
    # The next Monday: one more email for the weekly subscriber; the 1st: the monthly one.
    with db.transaction() as s:
        assert actions.send_reports(s, now=monday + timedelta(weeks=1), bsp_name="Acme") == 1
        december = datetime(2026, 12, 1, 7, 1, tzinfo=UTC)
        assert actions.send_reports(s, now=december, bsp_name="Acme") == 1
        assert actions.send_reports(s, now=december, bsp_name="Acme") == 0


def test_api_json_csv_and_series(
    client: TestClient, db: Database, clock: ManualClock, week: Week
) -> None:
    assert client.get("/api/v1/kpis").status_code == 401
    make_staff(db, clock, email="agent@example.net", role="agent")
    login(client, "agent@example.net")
    params = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
    body = client.get("/api/v1/kpis", params=params).json()
    assert set(body["kpis"]) == set(KPIS)
    fcr = body["kpis"]["first_contact_resolution"]
    assert fcr["value"] == 40.0 and fcr["unit"] == "%" and fcr["direction"] == "higher"
    assert set(fcr) >= {"target", "previous", "delta", "status"}
    email = client.get("/api/v1/kpis", params={**params, "channel": "email"}).json()
    assert email["cut"] == {"channel": "email"}
    assert email["kpis"]["first_contact_resolution"]["value"] == pytest.approx(33.3333)
    assert client.get("/api/v1/kpis", params={"channel": "fax"}).status_code == 422
    csv = client.get("/api/v1/kpis.csv", params=params)
    assert csv.headers["content-type"].startswith("text/csv")
    rows = csv.text.splitlines()
    assert rows[0].startswith("kpi,title,family,unit,direction,value,target")
    assert any(r.startswith("first_contact_resolution,") and ",40.0," in r for r in rows)
    clock.advance(timedelta(days=3))  # START is Monday 23rd; now Thursday 26th
    series = client.get("/api/v1/kpis/nps/series", params={"period": "week", "weeks": 2}).json()
    assert [p["value"] for p in series["points"]] == [40.0, None]
    assert client.get("/api/v1/kpis/nope/series").status_code == 422


def test_cli_json_keys(
    db: Database, week: Week, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from homeport.cli.main import app as cli

    monkeypatch.setenv("HOMEPORT_DATABASE_URL", database_url)
    monkeypatch.setenv("HOMEPORT_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["kpis", "--json", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat()],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload) == {"period", "cut", "kpis"}
    assert payload["kpis"]["nps"]["value"] == 40.0
    assert {"value", "unit", "target", "previous", "status"} <= set(payload["kpis"]["csat"])
    targets = runner.invoke(cli, ["kpis", "targets", "--defaults", "--set", "nps=30"])
    assert targets.exit_code == 0, targets.output
    with db.session() as s:
        assert service.targets(s)["nps"] == 30.0
    bad = runner.invoke(cli, ["kpis", "targets", "--set", "nps=lots"])
    assert bad.exit_code == 1
    assert runner.invoke(cli, ["kpis", "subscribe", "a@b.example", "--monthly"]).exit_code == 0
    assert runner.invoke(cli, ["kpis", "snapshot"]).exit_code == 0
    table = runner.invoke(cli, ["kpis", "--period", "month"])
    assert table.exit_code == 0 and "First-contact resolution" in table.output


def test_docs_are_generated_from_the_definitions() -> None:
    text = docs.render()
    for k in KPIS.values():
        assert f"`{k.name}`" in text and k.formula in text
    committed = (ROOT / "docs" / "kpis.md").read_text(encoding="utf-8")
    assert committed == text, "docs/kpis.md is stale: run 'homeport kpis docs'"


def test_cut_keys_round_trip() -> None:
    cut = Cut(channel="email", team_id=3)
    assert cut.key() == "channel:email;team:3"
    assert Cut.parse(cut.key()) == cut
    with pytest.raises(ValidationFailed):
        Cut.parse("colour:red")


def test_the_dashboard_is_cached_per_bucket_until_its_time_runs_out(db: Database) -> None:
    """A second view within the TTL is the same object (no query); ttl 0 always computes; a
    target change empties the cache of this process."""
    service.forget_dashboards()
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    with db.session() as s:
        first = service.dashboard(s, "week", now, names=("backlog", "nps"), buckets=3)
        again = service.dashboard(s, "week", now, names=("backlog", "nps"), buckets=3)
        fresh = service.dashboard(s, "week", now, names=("backlog", "nps"), buckets=3, ttl_s=0)
    assert again is first and fresh is not first
    assert set(first.overview.rows) == {"backlog", "nps"}
    assert [len(t) for t in first.trends.values()] == [3, 3]
    with db.transaction() as s:
        actions.set_target(s, Actor("system", None, "test"), "nps", 30.0, now=now)
    with db.session() as s:
        after = service.dashboard(s, "week", now, names=("backlog", "nps"), buckets=3)
    assert after is not first and after.overview.rows["nps"].target == 30.0
