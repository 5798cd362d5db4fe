"""Replay of a session captured from a real TR-069 CPE simulator (genieacs-sim).

The requests are replayed byte for byte in their captured order; the ACS's answers must make
sense for *this* ACS (the capture's own answers came from a throwaway stub and are not the
spec). A second test answers the ACS's requests from the parameters and messages the captured
CPE produced, to run the whole plan against that device's real message formats.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from starlette.testclient import TestClient

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.health import remote
from homeport.health.models import DeviceAction
from homeport.telemetry.models import TelemetryReport
from tests.adapters.cwmp.conftest import GW
from tests.adapters.cwmp.cpe import FakeCpe, captured, parse_acs, run_session, with_id
from tests.factories import Fleet


def _post(client: TestClient, n: int) -> tuple[int, bytes]:
    req = captured(n)
    headers = {k: v for k, v in req.headers.items() if k in ("authorization", "content-type")}
    resp = client.post("/cwmp", content=req.body, headers=headers)
    return resp.status_code, resp.content


def _auth() -> dict[str, str]:
    return {"authorization": captured(1).headers["authorization"]}


def test_verbatim_replay(cpe_client: TestClient, db: Database, clock: ManualClock) -> None:
    status, body = _post(cpe_client, 1)
    assert status == 200
    msg_id, method, elem = parse_acs(body)
    assert (msg_id, method) == ("dutk8p1h", "InformResponse")
    assert elem.findtext("MaxEnvelopes") == "1"
    assert "cwmp_session" in cpe_client.cookies

    # The empty POST: the ACS asks what the TR-098 tree holds at its top level (discovery,
    # not the stub's blind GetParameterValues).
    status, body = _post(cpe_client, 2)
    _id, method, elem = parse_acs(body)
    assert (status, method) == (200, "GetParameterNames")
    assert elem.findtext("ParameterPath") == "InternetGatewayDevice."
    assert elem.findtext("NextLevel") == "true"

    # The CPE's next captured messages answer the stub's requests, not ours: each is kept for
    # what it states about the device, the plan moves on, and no answer is ever a non-2xx.
    # Without the top-level names, every subtree Homeport reads is discovered; the fault 9000
    # (006) skips the subtree it answered.
    asked = []
    for n in (3, 4, 5, 6):
        status, body = _post(cpe_client, n)
        assert status == 200
        _id, method, elem = parse_acs(body)
        assert method == "GetParameterNames"
        assert elem.findtext("NextLevel") == "false"
        asked.append(elem.findtext("ParameterPath"))
    assert asked == [
        "InternetGatewayDevice.DeviceInfo.",
        "InternetGatewayDevice.ManagementServer.",
        "InternetGatewayDevice.WANDevice.",
        "InternetGatewayDevice.LANDevice.",
    ]
    # The capture ends here; the device answers the last discovery from what it stated in the
    # capture. Every leaf Homeport reads was already stated by the CPE (its Inform and the
    # values in 003), so none is asked again: the report is stored and an empty 204 ends the
    # session.
    cpe = _replayed_cpe()
    resp = cpe_client.post("/cwmp", content=cpe.answer(body), headers=_auth())
    assert (resp.status_code, resp.content) == (204, b"")
    assert cpe.faults == []

    with db.session() as session:
        row = session.scalars(select(TelemetryReport)).one()
    assert (row.device_id, row.source, row.wan_status, row.uptime_s) == (GW, "cwmp", "up", 213138)
    assert row.ts == clock.now()
    assert row.detail["radios"][0]["band"] == "2.4GHz"
    assert row.detail["radios"][0]["channel"] == 6


def _replayed_cpe() -> FakeCpe:
    """The captured CPE's parameters (from its Inform, values and names) and messages."""
    params: dict[str, tuple[str, bool]] = {}
    for n in (1, 3):
        _id, _m, elem = parse_acs(captured(n).body)
        for pvs in elem.iter("ParameterValueStruct"):
            params[pvs.findtext("Name") or ""] = (pvs.findtext("Value") or "", False)
    _id, _m, elem = parse_acs(captured(4).body)
    for info in elem.iter("ParameterInfoStruct"):
        name = info.findtext("Name") or ""
        if not name.endswith("."):
            params[name] = ("4", False)
    channel = "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.Channel"
    params[channel] = (params[channel][0], True)
    return FakeCpe(
        params,
        canned={
            "SetParameterValues": captured(5).body,  # <Status>0</Status>
            "Reboot": captured(6).body,  # fault 9000: this CPE cannot reboot remotely
        },
    )


def test_replayed_cpe_with_actions(
    cpe_client: TestClient, db: Database, fleet: Fleet, clock: ManualClock
) -> None:
    home = fleet.homes["ACC-1001"]
    with db.transaction() as session:
        for kind, params in (("reboot", {}), ("set_channel", {"band": "2.4GHz", "channel": 11})):
            remote.queue_action(
                session,
                home_id=home,
                device_id=GW,
                kind=kind,
                params=params,
                requested_by="staff:1",
                finding_id=None,
                now=clock.now(),
            )
    clock.advance(timedelta(minutes=2))
    cpe = _replayed_cpe()
    first = captured(1)
    headers = {"authorization": first.headers["authorization"]}
    statuses = run_session(cpe_client, cpe, with_id(first.body, "dutk8p1h"), headers)

    assert set(statuses) <= {200, 204} and statuses[-1] == 204
    assert cpe.faults == [], "the ACS asked for a name the CPE never declared"
    methods = [m for m, _e in cpe.log]
    # Discovery (the top level, then the four subtrees it has), values for the declared leaves
    # only, the channel before the reboot.
    assert methods == ["GetParameterNames"] * 5 + [
        "GetParameterValues",
        "SetParameterValues",
        "Reboot",
    ]
    top = cpe.log[0][1]
    assert (top.findtext("ParameterPath"), top.findtext("NextLevel")) == (
        "InternetGatewayDevice.",
        "true",
    )
    gpv = [s.text for s in cpe.log[5][1].iter("string")]
    assert gpv == [
        "InternetGatewayDevice.DeviceInfo.UpTime",
        "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.Channel",
        "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.ConnectionStatus",
    ]
    spv = cpe.log[6][1]
    value = spv.find(".//Value")
    assert value is not None and value.text == "11"
    assert value.get("{http://www.w3.org/2001/XMLSchema-instance}type") == "xsd:unsignedInt"

    with db.session() as session:
        actions = {a.kind: a for a in session.scalars(select(DeviceAction))}
        assert session.scalars(select(TelemetryReport.source)).all() == ["cwmp"]
    assert actions["set_channel"].status == "done"
    assert actions["reboot"].status == "unsupported"
    assert actions["reboot"].result["fault"] == 9000
    assert actions["reboot"].completed_at == clock.now()
