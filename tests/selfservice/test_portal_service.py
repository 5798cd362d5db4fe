"""The portal's plain words: every finding kind a detector can raise has its own sentence (no
code leaks to a subscriber), device names replace MAC addresses, and each Wi-Fi or line finding
leads to the guided flow the agents use for it."""

from __future__ import annotations

import re

import pytest

from homeport.health.detectors import KINDS
from homeport.selfservice import service
from homeport.support import guided

CODE = re.compile(r"\b[a-z]+_[a-z_]+\b|\[T\d+\]|dBm\b")


@pytest.mark.parametrize("kind", KINDS)
def test_every_finding_kind_has_plain_words(kind: str) -> None:
    headline, why, helps = service.explain_finding(
        kind, "aa:bb:cc:dd:ee:ff", {"band": "2.4GHz", "rssi_dbm": -82, "retrans_pct": 18.5}, {}
    )
    generic = service.explain_finding("no_such_kind", "", {}, {})
    assert (headline, why, helps) != generic, kind
    for text in (headline, helps):
        assert not CODE.search(text), f"{kind}: {text!r}"
    assert "aa:bb" not in headline + why + helps


def test_device_names_replace_mac_addresses() -> None:
    headline, why, _ = service.explain_finding(
        "weak_client_signal",
        "AA:BB:CC:DD:EE:FF",
        {"rssi_dbm": -82, "band": "5GHz"},
        {"aa:bb:cc:dd:ee:ff": "Kitchen tablet"},
    )
    assert headline == "Kitchen tablet has a weak Wi-Fi signal"
    assert "-82 dBm on 5GHz" in why


def test_findings_lead_to_the_agents_flows() -> None:
    assert service.flow_for_kind("congested_channel") == "wifi_coverage"
    assert service.flow_for_kind("weak_client_signal") == "wifi_coverage"
    assert service.flow_for_kind("wan_down") == "no_internet"
    assert service.flow_for_kind("speed_below_plan") == "slow_speed"
    assert service.flow_for_kind("legacy_client") in (None, *guided.shipped_flows())


def test_every_shipped_step_speaks_to_the_subscriber() -> None:
    """The portal shows ``subscriber_say``: written for every rule, free of agent jargon."""
    for flow in guided.shipped_flows().values():
        for step in flow.steps.values():
            assert step.subscriber_title, (flow.name, step.id)
            for rule in step.rules:
                assert rule.subscriber_say, (flow.name, step.id, rule.result)
                assert "subscriber" not in rule.subscriber_say.lower(), rule.result
                assert not re.search(r"\[[TP]\d+\]", rule.subscriber_say), rule.result


def test_a_subscriber_say_with_an_unknown_fact_is_refused() -> None:
    data = {
        "flow": "x",
        "title": "X",
        "steps": [
            {
                "id": "a",
                "title": "A",
                "rules": [
                    {"otherwise": True, "result": "r", "say": "ok", "subscriber_say": "{nope}"}
                ],
            }
        ],
    }
    with pytest.raises(guided.FlowError, match="unknown fact"):
        guided.parse_flow(data)
