"""Batch logic without a broker: topic checks, parse rejections, store rejections by index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from homeport.adapters.mqtt.batch import Received, device_of, process
from homeport.adapters.mqtt.broker import Broker, Subscription, check_client_id
from homeport.adapters.mqtt.consumer import Options
from homeport.core.errors import ValidationFailed
from homeport.telemetry.ingest import parse_one
from homeport.telemetry.schemas import Rejection, Report
from tests.adapters.mqtt.conftest import report

TS = datetime(2026, 11, 23, 9, 55, tzinfo=UTC)
PREFIX = "homeport/telemetry"


@dataclass
class Result:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)


class FakeStore:
    """Accepts every report except those of ``unknown`` devices (rejected by index)."""

    def __init__(self, unknown: frozenset[str] = frozenset()) -> None:
        self.calls: list[list[Report]] = []
        self.unknown = unknown

    def __call__(self, reports: Sequence[Report]) -> Result:
        self.calls.append(list(reports))
        bad = [
            Rejection(index=i, device_id=r.device_id, reason="unknown device")
            for i, r in enumerate(reports)
            if r.device_id in self.unknown
        ]
        return Result(accepted=len(reports) - len(bad), rejected=bad)


def msg(topic: str, payload: bytes, mid: int = 1) -> Received:
    return Received(topic, payload, mid, 1, 1)


def test_device_of_takes_exactly_one_level() -> None:
    assert device_of("homeport/telemetry/GW-1", PREFIX) == "GW-1"
    assert device_of("homeport/telemetry/GW-1", PREFIX + "/") == "GW-1"
    for topic in ("homeport/telemetry/", "homeport/telemetry/a/b", "other/telemetry/GW-1"):
        with pytest.raises(ValueError, match="is not homeport/telemetry/<device_id>"):
            device_of(topic, PREFIX)


def test_good_and_bad_messages_of_one_batch() -> None:
    store = FakeStore(unknown=frozenset({"GW-NOPE"}))
    batch = [
        msg(f"{PREFIX}/GW-1", report("GW-1", TS), 1),
        msg(f"{PREFIX}/GW-2", b"{not json", 2),
        msg(f"{PREFIX}/GW-3", report("GW-3", TS, latency_ms=-5), 3),
        msg(f"{PREFIX}/GW-4", report("GW-5", TS), 4),
        msg(f"{PREFIX}/GW-NOPE", report("GW-NOPE", TS), 5),
        msg(f"{PREFIX}/GW-6", report("GW-6", TS), 6),
    ]
    outcome = process(batch, prefix=PREFIX, parse=parse_one, store=store)
    assert outcome.accepted == 2
    assert [r.device_id for r in store.calls[0]] == ["GW-1", "GW-NOPE", "GW-6"]
    reasons = {m.mid: reason for m, reason in outcome.rejected}
    assert set(reasons) == {2, 3, 4, 5}
    assert "not valid JSON" in reasons[2]
    assert "latency_ms" in reasons[3]
    assert reasons[4] == "the topic names device 'GW-4' but the report is from 'GW-5'"
    assert reasons[5] == "unknown device"


def test_store_not_called_when_nothing_is_valid() -> None:
    store = FakeStore()
    outcome = process([msg(f"{PREFIX}/GW-1", b"[]")], prefix=PREFIX, parse=parse_one, store=store)
    assert store.calls == []
    assert outcome.accepted == 0
    assert len(outcome.rejected) == 1


def test_store_failure_propagates_so_nothing_is_acknowledged() -> None:
    def down(_reports: Sequence[Report]) -> Result:
        raise ConnectionError("database down")

    with pytest.raises(ConnectionError):
        process(
            [msg(f"{PREFIX}/GW-1", report("GW-1", TS))], prefix=PREFIX, parse=parse_one, store=down
        )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://127.0.0.1:1883", Broker("127.0.0.1", 1883)),
        ("mqtt://broker.example.net", Broker("broker.example.net", 1883)),
        ("mqtts://broker.example.net", Broker("broker.example.net", 8883, tls=True)),
        (
            "mqtt://ingest:p%40ss@10.0.0.5:11883/",
            Broker("10.0.0.5", 11883, False, "ingest", "p@ss"),
        ),
    ],
)
def test_broker_urls(url: str, expected: Broker) -> None:
    assert Broker.parse(url) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:1883", "must be mqtt://"),
        ("mqtt://", "has no host"),
        ("mqtt://host:99999", "invalid port"),
        ("mqtt://host/topic", "must not have a path"),
    ],
)
def test_bad_broker_urls(url: str, reason: str) -> None:
    with pytest.raises(ValidationFailed, match=reason):
        Broker.parse(url)


def test_subscription_filters() -> None:
    assert Subscription().topic_filter == "homeport/telemetry/+"
    assert Subscription("/a/b/", "ingest").topic_filter == "$share/ingest/a/b/+"
    for prefix in ("", "a/+", "a/#", "$SYS"):
        with pytest.raises(ValidationFailed, match="invalid topic prefix"):
            Subscription(prefix)
    with pytest.raises(ValidationFailed, match="invalid shared-subscription group"):
        Subscription(group="a/b")


def test_options_are_checked() -> None:
    assert check_client_id("homeport-ingest-1") == "homeport-ingest-1"
    with pytest.raises(ValidationFailed, match="invalid MQTT client id"):
        Options(client_id="")
    with pytest.raises(ValidationFailed, match="batch size"):
        Options(client_id="x", batch_size=0)
    with pytest.raises(ValidationFailed, match="batch time"):
        Options(client_id="x", batch_ms=0)
    assert Options(client_id="x", batch_size=10).receive_maximum == 1_000
    assert Options(client_id="x", batch_size=500).receive_maximum == 2_000
    assert Options(client_id="x", batch_size=10_000).receive_maximum == 40_000
