"""Hand-built sessions: a TR-181 CPE, faults, firmware, and the periodic inform interval."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from homeport.adapters.cwmp import connreq
from homeport.adapters.cwmp.datamodel import to_report
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.health import remote
from homeport.health.models import DeviceAction
from homeport.telemetry.models import TelemetryReport
from tests.adapters.cwmp.conftest import GW181
from tests.adapters.cwmp.cpe import FakeCpe, envelope, inform, parse_acs, run_session
from tests.conftest import START
from tests.factories import Fleet

D = "Device."


def tr181_cpe() -> FakeCpe:
    p: dict[str, tuple[str, bool]] = {
        "DeviceInfo.UpTime": ("86400", False),
        "DeviceInfo.SoftwareVersion": ("4.2.1", False),
        "DeviceInfo.ProcessStatus.CPUUsage": ("12", False),
        "DeviceInfo.MemoryStatus.Total": ("524288", False),
        "DeviceInfo.MemoryStatus.Free": ("131072", False),
        "ManagementServer.URL": ("http://acs.test/cwmp", True),
        "ManagementServer.PeriodicInformEnable": ("true", True),
        "ManagementServer.PeriodicInformInterval": ("86400", True),
        "ManagementServer.ConnectionRequestURL": ("http://10.0.0.7:7547/cr", False),
        "ManagementServer.ConnectionRequestUsername": ("", True),
        "ManagementServer.ConnectionRequestPassword": ("", True),
        "Optical.Interface.1.Status": ("Up", False),
        "Optical.Interface.1.OpticalSignalLevel": ("-21500", False),
        "Optical.Interface.1.TransmitOpticalLevel": ("2100", False),
        "IP.Interface.1.Name": ("wan0", False),
        "IP.Interface.1.Status": ("Up", False),
        "IP.Interface.2.Name": ("br-lan", False),
        "IP.Interface.2.Status": ("Up", False),
        "WiFi.Radio.1.Enable": ("true", True),
        "WiFi.Radio.1.OperatingFrequencyBand": ("2.4GHz", False),
        "WiFi.Radio.1.Channel": ("1", True),
        "WiFi.Radio.1.AutoChannelEnable": ("true", True),
        "WiFi.Radio.1.CurrentOperatingChannelBandwidth": ("20MHz", False),
        "WiFi.Radio.1.Stats.Noise": ("-92", False),
        "WiFi.Radio.2.Enable": ("true", True),
        "WiFi.Radio.2.OperatingFrequencyBand": ("5GHz", False),
        "WiFi.Radio.2.Channel": ("36", True),
        "WiFi.Radio.2.CurrentOperatingChannelBandwidth": ("80MHz", False),
        "WiFi.SSID.1.LowerLayers": ("Device.WiFi.Radio.1.", False),
        "WiFi.SSID.2.LowerLayers": ("Device.WiFi.Radio.2.", False),
        "WiFi.AccessPoint.1.SSIDReference": ("Device.WiFi.SSID.1.", False),
        "WiFi.AccessPoint.2.SSIDReference": ("Device.WiFi.SSID.2.", False),
        "WiFi.AccessPoint.1.AssociatedDevice.1.MACAddress": ("AA:BB:CC:00:00:01", False),
        "WiFi.AccessPoint.1.AssociatedDevice.1.SignalStrength": ("-78", False),
        "WiFi.AccessPoint.1.AssociatedDevice.1.LastDataDownlinkRate": ("65000", False),
        "WiFi.AccessPoint.2.AssociatedDevice.1.MACAddress": ("aa:bb:cc:00:00:02", False),
        "WiFi.AccessPoint.2.AssociatedDevice.1.SignalStrength": ("-55", False),
        "WiFi.AccessPoint.2.AssociatedDevice.1.Retransmissions": ("3", False),
        # A buggy CPE reports an impossible signal: that client alone is left out.
        "WiFi.AccessPoint.2.AssociatedDevice.2.MACAddress": ("aa:bb:cc:00:00:03", False),
        "WiFi.AccessPoint.2.AssociatedDevice.2.SignalStrength": ("40", False),
        "Hosts.Host.1.PhysAddress": ("aa:bb:cc:00:00:01", False),
        "Hosts.Host.1.Active": ("true", False),
        "Hosts.Host.1.HostName": ("laptop", False),
    }
    return FakeCpe({D + k: v for k, v in p.items()})


def _inform181() -> bytes:
    return inform(
        D,
        {
            "DeviceInfo.SoftwareVersion": "4.2.1",
            "ManagementServer.ConnectionRequestURL": "http://10.0.0.7:7547/cr",
        },
    )


BASIC181 = "Basic " + base64.b64encode(b"cpe-181:s3cret-181").decode()


def _run(client: TestClient, cpe: FakeCpe) -> list[int]:
    headers = {"authorization": BASIC181}
    return run_session(client, cpe, _inform181(), headers)


def test_tr181_session(cpe_client: TestClient, db: Database, clock: ManualClock) -> None:
    cpe = tr181_cpe()
    statuses = _run(cpe_client, cpe)
    assert set(statuses) <= {200, 204}
    assert cpe.faults == []
    gpn = [e.findtext("ParameterPath") for m, e in cpe.log if m == "GetParameterNames"]
    # The top level first; then only the subtrees this CPE has (no PPP, no DSL here).
    assert gpn == [
        "Device.",
        "Device.DeviceInfo.",
        "Device.ManagementServer.",
        "Device.IP.Interface.",
        "Device.Optical.Interface.",
        "Device.WiFi.",
        "Device.Hosts.",
    ]
    asked = [s.text for m, e in cpe.log if m == "GetParameterValues" for s in e.iter("string")]
    assert "Device.DeviceInfo.SoftwareVersion" not in asked  # not a leaf Homeport reads
    assert "Device.Hosts.Host.1.PhysAddress" in asked
    assert all(n and not n.endswith(".") for n in asked)
    # The management settings: inform every report interval, connection-request credentials.
    assert cpe.params[D + "ManagementServer.PeriodicInformInterval"][0] == "300"
    user, password = connreq.credentials("test-secret-key-not-for-production", GW181)
    assert cpe.params[D + "ManagementServer.ConnectionRequestUsername"][0] == user
    assert cpe.params[D + "ManagementServer.ConnectionRequestPassword"][0] == password
    assert connreq.known_url(GW181) == "http://10.0.0.7:7547/cr"

    with db.session() as session:
        row = session.scalars(select(TelemetryReport)).one()
    assert (row.device_id, row.wan_status, row.uptime_s) == (GW181, "up", 86400)
    assert row.optical_rx_dbm == pytest.approx(-21.5)
    assert row.cpu_pct == 12 and row.mem_pct == pytest.approx(75)
    assert row.clients == 2 and row.clients_weak == 1
    radios = {r["band"]: r for r in row.detail["radios"]}
    assert radios["5GHz"]["width_mhz"] == 80 and radios["2.4GHz"]["noise_dbm"] == -92
    clients = {c["mac"]: c for c in row.detail["clients"]}
    assert clients["aa:bb:cc:00:00:01"]["band"] == "2.4GHz"
    assert clients["aa:bb:cc:00:00:01"]["phy_rate_mbps"] == 65
    assert clients["aa:bb:cc:00:00:02"]["retrans_pct"] == 3

    # The next session finds the interval already right: no SetParameterValues at all.
    clock.advance(timedelta(minutes=5))
    cpe.log.clear()
    _run(cpe_client, cpe)
    assert "SetParameterValues" not in [m for m, _e in cpe.log]
    with db.session() as session:
        assert len(session.scalars(select(TelemetryReport)).all()) == 2


def test_channel_and_firmware_on_tr181(
    cpe_client: TestClient, db: Database, fleet: Fleet, clock: ManualClock
) -> None:
    home = fleet.homes["ACC-1002"]
    ids = {}
    with db.transaction() as session:
        for kind, params in (
            ("set_channel", {"band": "2.4GHz", "channel": 11}),
            ("firmware", {"url": "https://fw.example/hg-4.3.bin", "file_size": 1000}),
            ("band_steer", {"mac": "aa:bb:cc:00:00:01", "band": "5GHz"}),
        ):
            ids[kind] = remote.queue_action(
                session,
                home_id=home,
                device_id=GW181,
                kind=kind,
                params=params,
                requested_by="policy:wifi",
                finding_id=None,
                now=clock.now(),
            ).id
    cpe = tr181_cpe()
    _run(cpe_client, cpe)
    assert cpe.params[D + "WiFi.Radio.1.Channel"][0] == "11"
    assert cpe.params[D + "WiFi.Radio.1.AutoChannelEnable"][0] == "false"
    assert cpe.params[D + "WiFi.Radio.2.Channel"][0] == "36"
    download = next(e for m, e in cpe.log if m == "Download")
    assert download.findtext("URL") == "https://fw.example/hg-4.3.bin"
    assert download.findtext("CommandKey") == f"hp-{ids['firmware']}"
    with db.session() as session:
        status = {a.kind: a.status for a in session.scalars(select(DeviceAction))}
    # The download goes on after the session (Status 1); band steering has no CWMP carrier.
    assert status == {"set_channel": "done", "firmware": "sent", "band_steer": "unsupported"}

    # The next session opens with TransferComplete for the download: the action is done.
    clock.advance(timedelta(minutes=10))
    headers = {"authorization": BASIC181}
    resp = cpe_client.post("/cwmp", content=_inform181(), headers=headers)
    assert resp.status_code == 200
    done = envelope(
        "tc1",
        f"<cwmp:TransferComplete><CommandKey>hp-{ids['firmware']}</CommandKey>"
        "<FaultStruct><FaultCode>0</FaultCode><FaultString/></FaultStruct>"
        "<StartTime>2026-11-23T10:05:00Z</StartTime><CompleteTime>2026-11-23T10:07:00Z"
        "</CompleteTime></cwmp:TransferComplete>",
    )
    resp = cpe_client.post("/cwmp", content=done, headers=headers)
    assert parse_acs(resp.content)[:2] == ("tc1", "TransferCompleteResponse")
    with db.session() as session:
        action = session.get(DeviceAction, ids["firmware"])
        assert action is not None and action.status == "done"
        assert action.result["completed"] == "2026-11-23T10:07:00Z"


def test_values_fault_is_isolated(cpe_client: TestClient, db: Database) -> None:
    cpe = tr181_cpe()
    cpe.poison = {D + "WiFi.Radio.2.Stats.Noise", D + "DeviceInfo.ProcessStatus.CPUUsage"}
    cpe.params[D + "WiFi.Radio.2.Stats.Noise"] = ("-90", False)
    statuses = _run(cpe_client, cpe)
    assert set(statuses) <= {200, 204}
    gpvs = [m for m, _e in cpe.log if m == "GetParameterValues"]
    assert len(gpvs) > 3  # split in halves until each poisoned name stood alone
    with db.session() as session:
        row = session.scalars(select(TelemetryReport)).one()
    assert row.cpu_pct is None  # the poisoned leaf is skipped
    assert row.optical_rx_dbm == pytest.approx(-21.5)  # everything else still read
    assert {r["band"] for r in row.detail["radios"]} == {"2.4GHz", "5GHz"}


def test_no_radio_for_band_is_unsupported(
    cpe_client: TestClient, db: Database, fleet: Fleet, clock: ManualClock
) -> None:
    with db.transaction() as session:
        remote.queue_action(
            session,
            home_id=fleet.homes["ACC-1002"],
            device_id=GW181,
            kind="set_channel",
            params={"band": "6GHz", "channel": 37},
            requested_by="system",
            finding_id=None,
            now=clock.now(),
        )
    _run(cpe_client, tr181_cpe())
    with db.session() as session:
        action = session.scalars(select(DeviceAction)).one()
    assert (action.status, action.result["reason"]) == ("unsupported", "no 6GHz radio")


def test_cpe_fault_on_set_fails_the_action(
    cpe_client: TestClient, db: Database, fleet: Fleet, clock: ManualClock
) -> None:
    with db.transaction() as session:
        remote.queue_action(
            session,
            home_id=fleet.homes["ACC-1002"],
            device_id=GW181,
            kind="set_channel",
            params={"band": "5GHz", "channel": 44},
            requested_by="system",
            finding_id=None,
            now=clock.now(),
        )
    cpe = tr181_cpe()
    cpe.params[D + "WiFi.Radio.2.Channel"] = ("36", False)  # read-only on this CPE: fault 9008
    statuses = _run(cpe_client, cpe)
    assert set(statuses) <= {200, 204}
    with db.session() as session:
        action = session.scalars(select(DeviceAction)).one()
    assert (action.status, action.result["fault"]) == ("failed", 9008)


def test_report_mapping_keeps_good_parts() -> None:
    values = {k: v for k, (v, _w) in tr181_cpe().params.items()}
    values[D + "Optical.Interface.1.OpticalSignalLevel"] = "-99000"  # −99 dBm: out of bounds
    report, notes = to_report(GW181, D, values, START)
    assert report.wan.status == "up" and report.wan.optical_rx_dbm is None
    assert any("WAN measurements left out" in n for n in notes)
    assert any("aa:bb:cc:00:00:03" in n for n in notes)
    assert len(report.clients) == 2


def test_tr098_mapping_with_vendor_signal_and_dsl() -> None:
    p = "InternetGatewayDevice."
    wlan = p + "LANDevice.1.WLANConfiguration."
    values = {
        p + "DeviceInfo.UpTime": "120",
        p + "WANDevice.1.WANConnectionDevice.1.WANPPPConnection.1.ConnectionStatus": "Connecting",
        p + "WANDevice.1.WANDSLInterfaceConfig.DownstreamNoiseMargin": "62",
        wlan + "1.Channel": "6",
        wlan + "2.Channel": "44",
        wlan + "2.OperatingFrequencyBand": "5GHz",
        wlan + "3.Channel": "149",
        wlan + "3.Enable": "false",
        wlan + "2.AssociatedDevice.1.AssociatedDeviceMACAddress": "00-11-22-33-44-55",
        wlan + "2.AssociatedDevice.1.X_ACME_RSSI": "-81",
        wlan + "1.AssociatedDevice.1.AssociatedDeviceMACAddress": "00:11:22:33:44:66",
        p + "LANDevice.1.Hosts.Host.1.MACAddress": "00:11:22:33:44:77",
        p + "LANDevice.1.Hosts.Host.1.Active": "1",
        p + "LANDevice.1.Hosts.Host.1.Layer2Interface": wlan + "1",
        p + "LANDevice.1.Hosts.Host.1.X_ACME_SignalStrength": "-60",
    }
    report, notes = to_report("DSL-7F3A2C", p, values, START)
    assert report.wan.status == "down"  # a PPP session still connecting is not up
    assert report.wan.dsl_snr_margin_db == pytest.approx(6.2)
    assert [(r.band, r.channel) for r in report.radios] == [("2.4GHz", 6), ("5GHz", 44)]
    # The client without a signal cannot be reported (the contract needs its RSSI).
    assert [(c.mac, c.band, c.rssi_dbm) for c in report.clients] == [
        ("00:11:22:33:44:55", "5GHz", -81),
        ("00:11:22:33:44:77", "2.4GHz", -60),
    ]
    assert notes == []
