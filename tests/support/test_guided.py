"""Guided troubleshooting: the condition language, flow validation at load, every shipped flow,
and flows run over homes with crafted telemetry proposing the right next step."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from homeport.audit.actions import Actor
from homeport.audit.models import AuditEntry
from homeport.core.db import Database
from homeport.core.errors import Conflict, NotFound
from homeport.health.models import DeviceAction
from homeport.support import guided
from homeport.support.conditions import ConditionError, FactType, compile_condition
from homeport.support.models import GuidedStep
from tests.conftest import START
from tests.factories import Fleet, build_fleet, filler
from tests.health.reports import LAPTOP, PHONE, PLUG
from tests.support.guided_data import HEALTH, feed, last_hour, open_case

GW = "GW-F00001"

TYPES = {
    "up": FactType("bool"),
    "speed": FactType("number"),
    "band": FactType("text", ("2.4GHz", "5GHz")),
    "kinds": FactType("list", ("reboot", "speed_test")),
}


# --- The condition language -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "facts", "expected"),
    [
        ("up", {"up": True}, True),
        ("not up", {"up": None}, True),  # unknown is false, so "not" of it holds
        ("up == false", {"up": None}, False),  # ... but it is not known to be false
        ("speed < 80", {"speed": None}, False),
        ("speed == null", {"speed": None}, True),
        ("speed != null and speed >= 80", {"speed": 80.0}, True),
        ("band == '5GHz' or speed > 1", {"band": "2.4GHz", "speed": 0.5}, False),
        ("'reboot' in kinds", {"kinds": ["reboot"]}, True),
        ("'reboot' not in kinds", {"kinds": []}, True),
        ("band in ['5GHz', \"2.4GHz\"]", {"band": "5GHz"}, True),
        ("kinds", {"kinds": []}, False),
        ("not (up and speed > 10)", {"up": True, "speed": 5}, True),
    ],
)
def test_conditions_evaluate(source: str, facts: dict[str, Any], expected: bool) -> None:
    assert compile_condition(source, TYPES)(facts) is expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("upp", "unknown fact 'upp'"),
        ("speed", "is a number, not true or false"),
        ("speed > 'fast'", "orders a number and a text"),
        ("up == 1", "compares a bool with a number"),
        ("band == '6GHz'", "band is never '6GHz'"),
        ("'firmware' in kinds", "kinds is never 'firmware'"),
        ("speed in band", "needs a list on its right"),
        ("up and", "unexpected 'end of condition'"),
        ("(up", "expected ')'"),
        ("up; drop table", "unexpected character ';'"),
        ("__import__('os')", "unknown fact '__import__'"),
        ("", "non-empty"),
    ],
)
def test_bad_conditions_are_refused_with_the_reason(source: str, message: str) -> None:
    with pytest.raises(ConditionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compile_condition(source, TYPES)


# --- Flow files -----------------------------------------------------------------------------


def test_every_shipped_flow_loads_and_reads_only_known_facts() -> None:
    flows = guided.load_flows()
    assert {"no_internet", "slow_speed", "wifi_coverage"} <= set(flows)
    for flow in flows.values():
        assert flow.facts <= set(guided.FACTS), flow.name
        assert flow.start in flow.steps
        for step in flow.steps.values():
            assert step.rules[-1].when is None
    assert [f.name for f in guided.flows_for_category("coverage_gap")] == ["wifi_coverage"]


def _minimal() -> dict[str, Any]:
    return {
        "flow": "demo",
        "title": "Demo",
        "steps": [
            {
                "id": "first",
                "title": "First",
                "rules": [
                    {
                        "when": "not wan_up",
                        "result": "down",
                        "say": "Down",
                        "action": "reboot",
                        "next": "second",
                    },
                    {"otherwise": True, "result": "up", "say": "Up at {down_mbps}", "solved": True},
                ],
            },
            {
                "id": "second",
                "title": "Second",
                "rules": [{"otherwise": True, "result": "x", "say": "x", "dispatch": "repair"}],
            },
        ],
    }


def _broken(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(_minimal())
    *parents, last = path.split(".")
    target: Any = data
    for p in parents:
        target = target[int(p)] if p.isdigit() else target[p]
    if value is KeyError:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "steps.0.rules.0.when",
            "wan_upp",
            "step 'first' rule 1: condition 'wan_upp': unknown fact",
        ),
        ("steps.0.rules.0.next", "third", "next step 'third' does not exist"),
        ("steps.0.rules.0", {"when": "wan_up", "result": "a", "say": "a"}, "cannot be reached"),
        ("steps.1.rules.0", {"when": "wan_up", "result": "a", "say": "a"}, "must be 'otherwise"),
        ("steps.0.rules.0.action", "format_disk", "action 'format_disk' is not one of"),
        ("steps.1.rules.0.dispatch", "demolish", "dispatch 'demolish' is not one of"),
        ("steps.0.rules.1.say", "Up at {speed}", "unknown fact {speed}"),
        ("steps.0.rules.1.say", "Up at {down_mbps.__class__}", "unknown fact"),
        ("steps.0.rules.1.colour", "red", "unknown key(s) colour"),
        ("steps.0.rules.1.result", "Not An Id", "is not a name"),
        ("steps.1.id", "first", "a second step with this id"),
        ("steps.0.rules.1.next", "second", "solved ends the flow"),
        ("start", "nowhere", "start step 'nowhere' does not exist"),
        ("title", KeyError, "missing title"),
    ],
)
def test_flow_validation_names_the_problem(path: str, value: Any, message: str) -> None:
    with pytest.raises(guided.FlowError, match=message.replace("(", r"\(").replace(")", r"\)")):
        guided.parse_flow(_broken(path, value), "demo.yaml")


def test_a_flow_file_must_be_valid_yaml_named_like_its_flow(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("flow: [unclosed\n")
    with pytest.raises(guided.FlowError, match=r"bad\.yaml: not valid YAML"):
        guided.load_flows(tmp_path)
    (tmp_path / "bad.yaml").unlink()
    import yaml

    (tmp_path / "other.yaml").write_text(yaml.safe_dump(_minimal()))
    with pytest.raises(guided.FlowError, match="must be named like its file"):
        guided.load_flows(tmp_path)


# --- Running flows over real homes ----------------------------------------------------------


@pytest.fixture
def fleet(db: Database) -> Fleet:
    """Two filler homes (FTTP, plan Fibre 100: 100/20 Mbps), gateways GW-F00001 and 2."""
    return build_fleet(db, START - timedelta(days=7), filler(2))


STAFF = Actor("staff", None, "agent")


def run(db: Database, case: int, flow: str, step: str | None = None, **kw: Any) -> guided.Outcome:
    with db.transaction() as s:
        return guided.run_step(
            s,
            case_id=case,
            flow_name=flow,
            actor=STAFF,
            now=START,
            step=step,
            health=HEALTH,
            **kw,
        ).outcome


def walk(db: Database, case: int, flow: str) -> list[tuple[str, str, str]]:
    """Run a flow from its start while it proposes a plain next step; (step, result, kind)."""
    out = []
    step: str | None = None
    while True:
        outcome = run(db, case, flow, step)
        out.append((outcome.step, outcome.result, outcome.proposal.kind))
        if outcome.proposal.kind != "next":
            return out
        step = None


def test_healthy_home_no_internet_ends_at_the_device(db: Database, fleet: Fleet) -> None:
    feed(db, fleet, last_hour(GW))
    case = open_case(db, fleet.subscribers["FIL-0001"])
    assert walk(db, case, "no_internet") == [
        ("check_gateway", "gateway_reporting", "next"),
        ("check_wan", "wan_up", "next"),
        ("check_home_network", "line_and_wifi_ok", "solved"),
    ]
    with db.session() as s:
        rows = guided.history(s, case)
        assert [r.step for r in rows] == ["check_gateway", "check_wan", "check_home_network"]
        last = rows[-1]
        facts = last.observation["facts"]
        assert facts["wan_status"] == "up" and facts["clients"] == 3
        assert facts["report_age_min"] == 0 and facts["score_band"] == "excellent"
        assert last.observation["proposal"] == {"kind": "solved"}
        assert "3 devices connected" in last.observation["text"]
        assert last.at == START and last.flow == "no_internet"
        audit = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "guided_step.ran").order_by(AuditEntry.id)
        ).all()
        assert len(audit) == 3 and audit[0].entity_id == str(case)
        assert audit[0].detail["result"] == "gateway_reporting"
    # The flow has ended: asking for "the next step" is refused, naming a step reruns it.
    with pytest.raises(Conflict, match="has ended"):
        run(db, case, "no_internet")
    assert run(db, case, "no_internet", "check_wan").result == "wan_up"


def test_wan_down_proposes_a_reboot_then_a_technician(db: Database, fleet: Fleet) -> None:
    feed(db, fleet, last_hour(GW, wan={"status": "down", "down_mbps": None}))
    case = open_case(db, fleet.subscribers["FIL-0001"])
    run(db, case, "no_internet")
    outcome = run(db, case, "no_internet")
    assert (outcome.step, outcome.result) == ("check_wan", "wan_down")
    assert outcome.proposal == guided.Proposal("action", next="after_reboot", action="reboot")
    assert outcome.seen["wan_status"] == "down"

    with db.transaction() as s:
        step_id = s.scalars(select(GuidedStep.id).order_by(GuidedStep.id.desc())).first()
        assert step_id is not None
        action = guided.queue_proposed_action(
            s, guided_step_id=step_id, actor=Actor("staff", 7, "a"), now=START
        )
        assert (action.kind, action.params, action.requested_by) == ("reboot", {}, "staff:7")

    # Still down after the restart: a repair visit.
    after = run(db, case, "no_internet")
    assert (after.step, after.result, after.proposal.kind) == (
        "after_reboot",
        "down_after_reboot",
        "dispatch",
    )
    assert after.proposal.dispatch == "repair"
    # Going back to the WAN check now knows a reboot was already tried.
    again = run(db, case, "no_internet", "check_wan")
    assert again.result == "down_after_reboot" and again.seen["recent_actions"] == ["reboot"]


def test_silent_gateway_and_area_outage(db: Database, fleet: Fleet) -> None:
    feed(db, fleet, last_hour(GW, end=START - timedelta(minutes=40)))
    case = open_case(db, fleet.subscribers["FIL-0001"])
    outcome = run(db, case, "no_internet")
    assert (outcome.result, outcome.proposal.next) == ("gateway_silent", "after_power_cycle")
    assert "40 minutes" in outcome.text
    assert run(db, case, "no_internet").proposal.dispatch == "repair"  # still silent

    # A home with no gateway at all needs an installation.
    with db.transaction() as s:
        from homeport.network.models import Gateway

        s.delete(s.scalars(select(Gateway).where(Gateway.device_id == "GW-F00002")).one())
    other = open_case(db, fleet.subscribers["FIL-0002"])
    first = run(db, other, "no_internet")
    assert (first.result, first.proposal.dispatch) == ("no_gateway", "install")


def test_fibre_signal_out_of_range_sends_a_technician(db: Database, fleet: Fleet) -> None:
    feed(db, fleet, last_hour(GW, wan={"optical_rx_dbm": -29.5}))
    case = open_case(db, fleet.subscribers["FIL-0001"])
    outcome = run(db, case, "no_internet", "check_wan")
    assert (outcome.result, outcome.proposal.dispatch) == ("optical_out_of_range", "repair")
    assert "-29.5 dBm" in outcome.text
    slow = open_case(db, fleet.subscribers["FIL-0001"], "slow_speed")
    assert run(db, slow, "slow_speed").result == "optical_out_of_range"


def test_slow_line_is_restarted_and_a_wifi_problem_is_fixed_remotely(
    db: Database, fleet: Fleet
) -> None:
    feed(db, fleet, last_hour(GW, wan={"down_mbps": 42.0}))
    case = open_case(db, fleet.subscribers["FIL-0001"], "slow_speed")
    assert run(db, case, "slow_speed").result == "measured"
    outcome = run(db, case, "slow_speed")
    assert (outcome.result, outcome.proposal.action) == ("below_plan", "reboot")
    assert outcome.seen["speed_pct"] == 42.0 and "42 of 100 Mbps" in outcome.text

    # A second home: the line is fine, the 2.4 GHz radio is crowded.
    feed(
        db,
        fleet,
        last_hour("GW-F00002", radio={"2.4GHz": {"utilization_pct": 88}}),
    )
    busy = open_case(db, fleet.subscribers["FIL-0002"], "slow_speed")
    results = [run(db, busy, "slow_speed").result for _ in range(3)]
    assert results == ["measured", "line_ok", "congested_channel"]
    with db.transaction() as s:
        step_id = s.scalars(select(GuidedStep.id).order_by(GuidedStep.id.desc())).first()
        assert step_id is not None
        action = guided.queue_proposed_action(
            s, guided_step_id=step_id, actor=Actor("staff", 3, "a"), now=START
        )
        # Away from channel 6 to the next non-overlapping one [T8].
        assert action.params == {"band": "2.4GHz", "channel": 11}
    # Asked again, the flow does not propose a second channel change within the hour.
    assert run(db, busy, "slow_speed").result != "congested_channel"


def test_no_speed_figure_asks_for_a_speed_test(db: Database, fleet: Fleet) -> None:
    feed(db, fleet, last_hour(GW, wan={"down_mbps": None, "up_mbps": None}))
    case = open_case(db, fleet.subscribers["FIL-0001"], "slow_speed")
    outcome = run(db, case, "slow_speed")
    assert (outcome.result, outcome.proposal.action) == ("not_measured", "speed_test")


def test_wifi_coverage_gap_without_mesh_proposes_an_upgrade(db: Database, fleet: Fleet) -> None:
    weak = {PHONE: {"rssi_dbm": -80}, LAPTOP: {"rssi_dbm": -79}, PLUG: {"rssi_dbm": -70}}
    feed(db, fleet, last_hour(GW, client=weak, mesh=[]))
    case = open_case(db, fleet.subscribers["FIL-0001"], "coverage_gap")
    steps = walk(db, case, "wifi_coverage")
    assert steps == [
        ("check_line", "line_stable", "next"),
        ("check_channel", "channels_ok", "next"),
        ("check_coverage", "coverage_gap_no_mesh", "dispatch"),
    ]
    with db.session() as s:
        seen = guided.history(s, case)[-1].observation["facts"]
    assert seen["good_signal_share"] == 0.0 and seen["clients_weak"] == 2
    assert seen["mesh_nodes"] == 0 and "coverage_gap" in seen["open_findings"]


def test_wifi_dropouts_that_are_the_line(db: Database, fleet: Fleet) -> None:
    feed(db, fleet, last_hour(GW, wan={"disconnects": 1}))
    case = open_case(db, fleet.subscribers["FIL-0001"], "wifi")
    outcome = run(db, case, "wifi_coverage")
    assert (outcome.result, outcome.proposal.action) == ("line_drops", "reboot")
    assert outcome.seen["disconnects_1h"] == 12


def test_client_stuck_on_2g_is_steered(db: Database, fleet: Fleet) -> None:
    stuck = {PHONE: {"band": "2.4GHz", "retrans_pct": 30.0, "rssi_dbm": -60}}
    feed(db, fleet, last_hour(GW, client=stuck))
    case = open_case(db, fleet.subscribers["FIL-0001"], "high_retransmissions")
    outcome = run(db, case, "wifi_coverage", "check_coverage")
    assert outcome.result == "client_on_2g"
    with db.transaction() as s:
        step_id = s.scalars(select(GuidedStep.id).order_by(GuidedStep.id.desc())).first()
        assert step_id is not None
        action = guided.queue_proposed_action(
            s, guided_step_id=step_id, actor=Actor("staff", 3, "a"), now=START
        )
        assert action.params == {"mac": PHONE, "band": "5GHz"}
        assert s.scalars(select(DeviceAction.kind)).all() == ["band_steer"]


def test_refusals(db: Database, fleet: Fleet) -> None:
    feed(db, fleet, last_hour(GW))
    case = open_case(db, fleet.subscribers["FIL-0001"])
    with pytest.raises(NotFound, match="no guided flow"):
        run(db, case, "fix_everything")
    with pytest.raises(NotFound, match="no case"):
        run(db, 999_999, "no_internet")
    unknown_sender = open_case(db, None)
    with pytest.raises(Conflict, match="no known subscriber"):
        run(db, unknown_sender, "no_internet")
    run(db, case, "no_internet")
    with db.transaction() as s:
        step_id = s.scalars(select(GuidedStep.id)).one()
        with pytest.raises(Conflict, match="proposed no remote action"):
            guided.queue_proposed_action(s, guided_step_id=step_id, actor=STAFF, now=START)
