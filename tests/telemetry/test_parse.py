"""Parsing and validating reports: every kind of bad report is refused with a readable reason,
and never stops the good ones around it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from homeport.telemetry.ingest import parse_batch, parse_one, positions
from tests.telemetry.conftest import report


def _wan(**fields: Any) -> dict[str, Any]:
    wan: dict[str, Any] = report()["wan"]
    wan.update(fields)
    return wan


def _client(**fields: Any) -> dict[str, Any]:
    client = {"mac": "a4:5e:60:00:00:01", "band": "5GHz", "rssi_dbm": -50}
    client.update(fields)
    return client


#: (the bad report, a fragment its reason must contain)
BAD: list[tuple[object, str]] = [
    (42, "must be a JSON object, not a number"),
    ("GW-1", "not a string"),
    ({k: v for k, v in report().items() if k != "device_id"}, "device_id: Field required"),
    (report(device_id="GW 1/../x"), "device_id: String should match pattern"),
    (report(ts="2026-11-23T09:55:00"), "ts: Input should have timezone info"),
    (report(ts="yesterday"), "ts: Input should be a valid datetime"),
    ({k: v for k, v in report().items() if k != "wan"}, "wan: Field required"),
    (report(wan=_wan(status="sideways")), "wan.status: Input should be 'up', 'down' or 'unknown'"),
    (report(wan=_wan(latency_ms=70_000)), "wan.latency_ms: Input should be less than or equal"),
    (report(wan=_wan(loss_pct=120)), "wan.loss_pct: Input should be less than or equal to 100"),
    (report(wan=_wan(down_mbps="fast")), "wan.down_mbps: Input should be a valid number"),
    (report(wan=_wan(optical_rx_dbm=-60)), "wan.optical_rx_dbm: Input should be greater"),
    (report(clients=[_client(rssi_dbm=40)]), "clients.0.rssi_dbm: Input should be less than"),
    (report(clients=[_client(mac="zz:00")]), "clients.0.mac: not a MAC address"),
    (report(clients=[_client(), _client()]), "a client MAC appears twice in one report"),
    (
        report(
            clients=[_client(mac=f"00:00:00:00:{i // 256:02x}:{i % 256:02x}") for i in range(257)]
        ),
        "clients: List should have at most 256 items",
    ),
    (
        report(radios=[{"band": "2.4GHz", "channel": 36}]),
        "channel 36 does not exist in the 2.4GHz band",
    ),
    (report(uptime_s=-1), "uptime_s: Input should be greater than or equal to 0"),
    (report(firmware="1.0"), "firmware: Extra inputs are not permitted"),
    (report(resources={"temperature_c": 400}), "resources.temperature_c: Input should be less"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD, ids=[r for _, r in BAD])
def test_each_bad_report_is_refused_with_its_reason(bad: object, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_one(bad if isinstance(bad, dict) else orjson.dumps(bad))


def test_bad_reports_do_not_stop_the_good_ones_in_a_batch() -> None:
    batch = [report(device_id="GW-000101")]
    for bad, _ in BAD:
        batch.append(bad)  # type: ignore[arg-type]
    batch.append(report(device_id="GW-000102"))
    reports, rejected = parse_batch(orjson.dumps(batch))
    assert [r.device_id for r in reports] == ["GW-000101", "GW-000102"]
    assert [r.index for r in rejected] == list(range(1, len(BAD) + 1))
    for rejection, (bad, reason) in zip(rejected, BAD, strict=True):
        assert reason in rejection.reason
        expected_id = bad.get("device_id") if isinstance(bad, dict) else None
        assert rejection.device_id == expected_id
    assert positions(len(batch), rejected) == [0, len(batch) - 1]


def test_a_good_report_is_parsed_with_normalised_values() -> None:
    parsed = parse_one(orjson.dumps(report(ts="2026-11-23T11:55:00+02:00")))
    assert parsed.ts == datetime(2026, 11, 23, 9, 55, tzinfo=UTC)
    assert [c.mac for c in parsed.clients] == ["a4:5e:60:00:00:01", "a4:5e:60:00:00:09"]
    assert parsed.wan.optical_rx_dbm == -19.4
    assert parse_one(report()) == parsed


def test_a_batch_may_be_wrapped_in_an_object() -> None:
    reports, rejected = parse_batch(orjson.dumps({"reports": [report(), report(uptime_s=-5)]}))
    assert len(reports) == 1
    assert [(r.index, r.device_id) for r in rejected] == [(1, "GW-000101")]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "the body is not valid JSON"),
        (b"", "the body is not valid JSON"),
        (b"\xff\xfe", "the body is not valid JSON"),
        (b"42", "a batch must be a JSON array"),
        (b'{"device_id": "GW-1"}', "a batch must be a JSON array"),
        (b'{"reports": [], "token": "x"}', "unexpected keys next to 'reports': token"),
    ],
)
def test_a_body_that_is_not_a_batch_is_refused_whole(body: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_batch(body)
    if reason.startswith("the body is not valid JSON"):
        with pytest.raises(ValueError, match=re.escape(reason)):
            parse_one(body)


def test_an_empty_batch_is_empty() -> None:
    assert parse_batch(b"[]") == ([], [])
