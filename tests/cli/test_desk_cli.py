"""``homeport desk``: a working desk out of the box, agents tuned from the command line, and
proactive cases landing in the NOC's queue."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from homeport import migrations
from homeport.cli.context import out
from homeport.cli.main import app as cli
from homeport.core.db import Database
from homeport.identity.models import StaffUser, Team
from homeport.support import actions
from homeport.support.models import AgentProfile, Case, Macro, SlaPolicy, SupportQueue
from tests.conftest import START
from tests.factories import build_fleet, filler


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[CliRunner, str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("HOMEPORT_DATABASE_URL", url)
    monkeypatch.setenv("HOMEPORT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOMEPORT_TIMEZONE", "Europe/London")
    migrations.upgrade(url)
    return CliRunner(), url


def test_init_creates_the_desk_once_and_agents_are_tuned(
    runner: tuple[CliRunner, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    r, url = runner
    first = r.invoke(cli, ["desk", "init"])
    assert first.exit_code == 0, first.output
    assert "4 teams, 5 queues, 4 SLA policies and 4 macros created" in first.output
    again = r.invoke(cli, ["desk", "init"])
    assert "0 teams, 0 queues, 0 SLA policies and 0 macros created" in again.output
    made = r.invoke(
        cli,
        [
            "users",
            "create",
            "--email",
            "sam@example.net",
            "--role",
            "agent",
            "--password",
            "long enough pw",
        ],
    )
    assert made.exit_code == 0, made.output
    tuned = r.invoke(
        cli,
        [
            "desk",
            "agent",
            "--email",
            "sam@example.net",
            "--team",
            "Customer support",
            "--skills",
            "Fibre, welsh",
            "--capacity",
            "5",
            "--away",
        ],
    )
    assert tuned.exit_code == 0, tuned.output
    assert "skills fibre,welsh, capacity 5, away" in tuned.output
    wrong = r.invoke(cli, ["desk", "agent", "--email", "sam@example.net", "--team", "Nope"])
    assert wrong.exit_code == 1 and "no team called 'Nope'" in wrong.output
    monkeypatch.setattr(out, "width", 200)
    listed = r.invoke(cli, ["desk", "queues"])
    assert "Proactive (NOC)" in listed.output and "everything else" in listed.output
    db = Database(url)
    try:
        with db.session() as s:
            normal = s.scalars(select(SlaPolicy).where(SlaPolicy.priority == "normal")).one()
            assert (normal.timezone, normal.first_response_s) == ("Europe/London", 4 * 3600)
            sam = s.scalars(select(StaffUser).where(StaffUser.email == "sam@example.net")).one()
            team = s.scalars(select(Team).where(Team.name == "Customer support")).one()
            profile = s.get_one(AgentProfile, sam.id)
            assert (sam.team_id, profile.capacity, profile.available) == (team.id, 5, False)
            assert len(s.scalars(select(Macro)).all()) == 4
    finally:
        db.dispose()


def test_proactive_cases_go_to_the_noc_queue(db: Database) -> None:
    from homeport.support import defaults
    from tests.conftest import TEST_ACTOR

    fleet = build_fleet(db, START, filler(1))
    with db.transaction() as s:
        defaults.install(s, now=START, actor=TEST_ACTOR, timezone="UTC")
    with db.transaction() as s:
        case, _ = actions.open_proactive_case(
            s,
            subscriber_id=fleet.subscribers["FIL-0001"],
            category="wan_down",
            subject="WAN down",
            description="",
            priority="high",
            now=START,
        )
        reactive = actions.open_case(
            s,
            now=START,
            actor=TEST_ACTOR,
            channel="email",
            subject="slow",
            category="slow_speed",
            subscriber_id=fleet.subscribers["FIL-0001"],
        )
        ids = case.id, reactive.id
    with db.session() as s:
        queues = {q.id: q.name for q in s.scalars(select(SupportQueue))}
        proactive, slow = (s.get_one(Case, i) for i in ids)
        assert queues[proactive.queue_id or 0] == "Proactive (NOC)"
        assert queues[slow.queue_id or 0] == "Connectivity"
        # High priority runs 24x7: first response due within the hour.
        assert proactive.first_response_due_at is not None
        assert (proactive.first_response_due_at - START).total_seconds() == 3600
