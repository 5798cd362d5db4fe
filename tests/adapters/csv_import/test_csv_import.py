"""The CSV import end to end on a real database: all rows or none, dry runs, upserts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from homeport.adapters.csv_import import importer
from homeport.audit.models import AuditEntry
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.errors import Conflict, ServiceUnavailable, ValidationFailed
from homeport.core.events import Event
from homeport.network import actions as net_actions
from homeport.network.models import Home
from homeport.subscribers.models import Subscriber
from tests.adapters.csv_import.conftest import fixture, make_bundles, run, snapshot

SUB_HEADER = "account_number,name,email,plan_code,status,journey_stage"
TOPO_HEADER = "region_code,region_name,access_node_code,access_node_kind,port,capacity"
PLAN_HEADER = "code,name,down_mbps,up_mbps,monthly_price"


def _fails(
    db: Database, clock: ManualClock, kind: str, data: bytes | str, *, dry_run: bool = False
) -> ValidationFailed:
    """Import ``data``, expect a refusal, and check nothing in the database changed."""
    before = snapshot(db)
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(ValidationFailed) as caught:
        run(db, clock, kind, raw, dry_run=dry_run, name=f"{kind}.csv")
    assert snapshot(db) == before
    return caught.value


def _errors(failure: ValidationFailed) -> list[tuple[int | None, str, str]]:
    return [(e.line, e.field, e.message) for e in failure.errors]


def test_the_fixture_files_import_in_order(db: Database, clock: ManualClock) -> None:
    make_bundles(db, clock)
    plans = run(db, clock, "plans", fixture("plans.csv"))
    assert (plans.rows, plans.created, plans.dry_run) == (5, 5, False)
    topology = run(db, clock, "topology", fixture("topology.csv"))
    assert (topology.rows, topology.created) == (5, 5)
    assert topology.entities == {
        "region": {"created": 2, "updated": 0, "unchanged": 3},
        "access_node": {"created": 4, "updated": 0, "unchanged": 1},
        "port": {"created": 5, "updated": 0, "unchanged": 0},
    }
    subs = run(db, clock, "subscribers", fixture("subscribers.csv"))
    assert (subs.rows, subs.created, subs.updated, subs.unchanged) == (6, 6, 0, 0)
    assert subs.entities["home"]["created"] == 5
    with db.session() as s:
        ann = s.scalar(select(Subscriber).where(Subscriber.account_number == "ACC-1001"))
        assert ann is not None and ann.plan is not None
        assert (ann.email, ann.postcode, ann.address) == (
            "ann.smith@example.net",
            "LS1 5AB",
            "Flat 2\n10 Park Row",
        )
        assert sorted(b.code for b in ann.bundles) == ["MESH", "SECURE"]
        home = s.scalar(select(Home).where(Home.subscriber_id == ann.id))
        assert home is not None and home.port is not None
        assert (home.technology, home.port.access_node.code, home.port.name) == (
            "fttp",
            "LDS-OLT-01",
            "0/1/1",
        )
        chloe = s.scalar(select(Subscriber).where(Subscriber.account_number == "ACC-1003"))
        assert chloe is not None and chloe.name == "Chloé Dubois"
        assert chloe.address == '22 Harbour Side, "The Loft"'
        erin = s.scalar(select(Subscriber).where(Subscriber.account_number == "ACC-1005"))
        assert erin is not None and erin.churned_at == clock.now()
        dev = s.scalar(select(Subscriber).where(Subscriber.account_number == "ACC-1004"))
        assert dev is not None and dev.plan_id is None and dev.activated_at is None
        audit = list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    imports = [a for a in audit if a.action == "import.completed"]
    assert [a.entity_id for a in imports] == ["plans", "topology", "subscribers"]
    assert imports[-1].detail["file"] == "test.csv" and imports[-1].detail["created"] == 6
    assert len(audit) == 3 + 3  # the three bundles, then one entry per import, none per row


def test_reimport_updates_in_place_and_never_duplicates(
    seeded: Database, clock: ManualClock
) -> None:
    before = snapshot(seeded)
    again = run(seeded, clock, "subscribers", fixture("subscribers.csv"))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 6)
    after = snapshot(seeded)
    assert {t: rows for t, rows in after.items() if t != "audit_log"} == {
        t: rows for t, rows in before.items() if t != "audit_log"
    }
    clock.advance(timedelta(days=1))
    changed = fixture("subscribers.csv").replace(
        b"ACC-1002,Bob Jones,bob@example.net,FTTC-80", b"ACC-1002,Bob Jones,bob@example.net,ADSL-17"
    )
    changed = changed.replace(b"fttc,LDS-DSLAM-01,1/1,", b"adsl,LDS-DSLAM-01,1/1,GAMING")
    result = run(seeded, clock, "subscribers", changed)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 5)
    assert result.entities["home"] == {"created": 0, "updated": 1, "unchanged": 4}
    assert result.entities["bundles"]["updated"] == 1
    with seeded.session() as s:
        bob = s.scalar(select(Subscriber).where(Subscriber.account_number == "ACC-1002"))
        assert bob is not None and bob.plan is not None and bob.plan.code == "ADSL-17"
        assert [b.code for b in bob.bundles] == ["GAMING"] and bob.updated_at == clock.now()
    assert len(snapshot(seeded)["subscribers"]) == 6


def test_topology_reimport_updates(seeded: Database, clock: ManualClock) -> None:
    data = fixture("topology.csv").replace(b"Nokia,ISAM FX-8,64", b"Nokia,ISAM FX-16,64")
    result = run(seeded, clock, "topology", data)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 4)
    assert result.entities["access_node"] == {"created": 0, "updated": 1, "unchanged": 4}


@pytest.mark.parametrize("kind", ["plans", "topology", "subscribers"])
def test_dry_run_writes_nothing_and_counts_like_the_real_thing(
    db: Database, clock: ManualClock, kind: str
) -> None:
    make_bundles(db, clock)
    for earlier in ("plans", "topology", "subscribers"):
        if earlier == kind:
            break
        run(db, clock, earlier, fixture(f"{earlier}.csv"))
    events: list[Event] = []
    db.bus.subscribe(Event, events.append)
    before = snapshot(db)
    dry = run(db, clock, kind, fixture(f"{kind}.csv"), dry_run=True)
    assert snapshot(db) == before and events == []
    real = run(db, clock, kind, fixture(f"{kind}.csv"))
    assert dry.model_dump() == {**real.model_dump(), "dry_run": True}
    assert dry.created == dry.rows > 0
    assert isinstance(events[-1], importer.ImportCompleted) and events[-1].rows == real.rows


def test_dry_run_reports_updates_of_existing_rows(seeded: Database, clock: ManualClock) -> None:
    data = fixture("plans.csv").replace(b"27.50", b"25.00") + b"NEW-1,New,10,1,9.99,,\n"
    before = snapshot(seeded)
    dry = run(seeded, clock, "plans", data, dry_run=True)
    assert (dry.created, dry.updated, dry.unchanged) == (1, 1, 4)
    assert snapshot(seeded) == before


# Every kind of error: reported with its line, and the database left exactly as it was ------


def test_wrong_columns(seeded: Database, clock: ManualClock) -> None:
    failure = _fails(
        seeded, clock, "subscribers", SUB_HEADER + ",colour\nA,B,,,prospect,signup,red\n"
    )
    assert _errors(failure)[0][:2] == (1, "header")
    assert "unknown column 'colour'" in failure.errors[0].message
    assert "account_number, name, email" in failure.errors[0].message  # the expected ones
    failure = _fails(seeded, clock, "plans", "code,name,down_mbps\nX,Y,1\n")
    assert _errors(failure) == [(1, "header", "missing required columns: up_mbps, monthly_price")]
    failure = _fails(seeded, clock, "plans", fixture("topology.csv"))
    assert "this looks like a topology file" in failure.errors[0].message


def test_bad_values_name_line_column_value_and_reason(seeded: Database, clock: ManualClock) -> None:
    data = (
        PLAN_HEADER + ",is_active\n"
        "GOOD-1,Good,100,10,20.00,yes\n"
        "BAD-1,Bad,fast,10,20.00,yes\n"
        "BAD-2,Bad,100,10,-3,perhaps\n"
        "FTTP-900,Changed name,900,110,45.00,yes\n"
    )
    failure = _fails(seeded, clock, "plans", data)
    assert failure.message == "plans.csv: 3 errors; nothing was imported"
    assert _errors(failure) == [
        (3, "down_mbps", "'fast' is not a whole number"),
        (4, "monthly_price", "-3 is negative; prices are 0 or more"),
        (4, "is_active", "'perhaps' is not a yes/no value: use yes/no, true/false or 1/0"),
    ]


def test_duplicate_keys_name_both_lines(seeded: Database, clock: ManualClock) -> None:
    data = (
        SUB_HEADER + "\n"
        "NEW-1,Nia,,,prospect,signup\n"
        "NEW-2,Noor,,,prospect,signup\n"
        "NEW-1,Nia again,,,prospect,signup\n"
    )
    failure = _fails(seeded, clock, "subscribers", data)
    assert _errors(failure) == [(4, "account_number", "duplicate 'NEW-1': also on line 2")]
    topo = TOPO_HEADER + "\nN,North,OLT-9,olt,1,\nN,North,OLT-9,olt,1,\n"
    assert _errors(_fails(seeded, clock, "topology", topo)) == [
        (3, "port", "duplicate 'OLT-9 1': also on line 2")
    ]


def test_unknown_references_are_row_errors(seeded: Database, clock: ManualClock) -> None:
    data = (
        SUB_HEADER + ",technology,access_node_code,port,bundles\n"
        "NEW-1,Nia,nia@example.net,NOPE,active,established,,,,\n"
        "ACC-1001,Ann Smith,ann@example.net,FTTP-900,active,established,fttp,LDS-OLT-01,"
        "9/9/9,\n"
        "NEW-2,Noor,,FTTP-150,active,established,fttp,NO-SUCH-NODE,1,\n"
        "NEW-3,Nell,,FTTP-150,active,established,,,,MESH;PLATINUM\n"
        "NEW-4,Nat,,FTTP-150,active,established,adsl,LDS-OLT-01,0/1/1,\n"
        "NEW-5,Ned,,FTTP-150,active,established,,LDS-OLT-01,0/1/1,\n"
    )
    assert _errors(_fails(seeded, clock, "subscribers", data)) == [
        (2, "plan_code", "no plan with code 'NOPE'"),
        (3, "port", "access node LDS-OLT-01 has no port '9/9/9'"),
        (4, "access_node_code", "no access node with code 'NO-SUCH-NODE'"),
        (5, "bundles", "no bundle with code 'PLATINUM'"),
        (6, "technology", "an ADSL line needs a port on a DSLAM, but LDS-OLT-01 is an OLT"),
        (7, "technology", "is empty; a new home needs its line technology"),
    ]


def test_a_full_port_is_refused_at_the_row_that_overflows(
    seeded: Database, clock: ManualClock
) -> None:
    # BRI-OLT-01 0/1/1 has capacity 2 and one home (ACC-1005) already.
    rows = "".join(
        f"NEW-{i},N{i},,FTTP-150,active,established,fttp,BRI-OLT-01,0/1/1\n" for i in range(3)
    )
    data = SUB_HEADER + ",technology,access_node_code,port\n" + rows
    assert _errors(_fails(seeded, clock, "subscribers", data)) == [
        (3, "port", "BRI-OLT-01 0/1/1 is full (2 of 2 homes)"),
        (4, "port", "BRI-OLT-01 0/1/1 is full (2 of 2 homes)"),
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b"",
            [
                (
                    None,
                    "file",
                    "the file is empty; expected a header line with code, name, "
                    "down_mbps, up_mbps, monthly_price (and optionally currency, "
                    "is_active)",
                )
            ],
        ),
        (
            b"\xef\xbb\xbf" + PLAN_HEADER.encode() + b"\r\n\r\n",
            [(1, "file", "there are no data rows below the header")],
        ),
        (
            PLAN_HEADER.encode() + b"\nP-1,Caf\xe9,1,1,1\n",
            [
                (
                    2,
                    "file",
                    "not UTF-8: byte 0xE9 at byte 8 of the line (a Latin-1 or Windows-1252 "
                    "export?); save the file as UTF-8",
                )
            ],
        ),
    ],
)
def test_empty_header_only_and_non_utf8_files(
    seeded: Database, clock: ManualClock, data: bytes, expected: list[Any]
) -> None:
    assert _errors(_fails(seeded, clock, "plans", data)) == expected


def test_a_bom_is_accepted(db: Database, clock: ManualClock) -> None:
    result = run(db, clock, "plans", b"\xef\xbb\xbf" + fixture("plans.csv"))
    assert result.created == 5


def test_line_numbers_survive_multiline_quoted_fields(seeded: Database, clock: ManualClock) -> None:
    data = (
        SUB_HEADER + ",address\n"
        'NEW-1,Nia,,,prospect,signup,"Flat 1\nThe Old Mill\nMill Lane"\n'
        "NEW-2,Noor,not-an-email,,prospect,signup,\n"
        'NEW-3,Nell,,,prospect,signup,"two\r\nlines"\n'
        "NEW-4,Nat,,,prospect,churned,\n"
    )
    assert _errors(_fails(seeded, clock, "subscribers", data)) == [
        (5, "email", "'not-an-email' is not an e-mail address"),
        (
            8,
            "journey_stage",
            "journey stage 'churned' does not fit status 'prospect'; with "
            "that status the stage is one of: signup",
        ),
    ]


def test_too_many_errors_are_capped_with_the_total(seeded: Database, clock: ManualClock) -> None:
    rows = "".join(f"P-{i},Plan,x,1,1\n" for i in range(250))
    failure = _fails(seeded, clock, "plans", PLAN_HEADER + "\n" + rows)
    assert (
        failure.message == "plans.csv: 250 errors; the first 100 are listed; nothing was imported"
    )
    assert len(failure.errors) == 100 and failure.errors[-1].line == 101


def test_the_write_pass_stops_at_the_cap(
    seeded: Database, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "MAX_ERRORS", 3)
    rows = "".join(f"NEW-{i},N,,NOPE,active,established\n" for i in range(10))
    failure = _fails(seeded, clock, "subscribers", SUB_HEADER + "\n" + rows)
    assert failure.message == "subscribers.csv: at least 3 errors; nothing was imported"
    assert [e.line for e in failure.errors] == [2, 3, 4]


def test_errors_from_both_passes_are_reported_together(
    seeded: Database, clock: ManualClock
) -> None:
    data = (
        SUB_HEADER
        + "\nNEW-1,Nia,bad@,FTTP-150,active,established\nNEW-2,Noor,,NOPE,active,established\n"
    )
    assert [e[:2] for e in _errors(_fails(seeded, clock, "subscribers", data))] == [
        (2, "email"),
        (3, "plan_code"),
    ]


def test_a_dry_run_reports_the_same_errors(seeded: Database, clock: ManualClock) -> None:
    data = SUB_HEADER + "\nNEW-1,Nia,,NOPE,active,established\n"
    assert _errors(_fails(seeded, clock, "subscribers", data, dry_run=True)) == [
        (2, "plan_code", "no plan with code 'NOPE'")
    ]


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (OperationalError("INSERT", {}, Exception("disk I/O error")), ServiceUnavailable),
        (IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")), Conflict),
    ],
)
def test_a_database_error_mid_way_rolls_everything_back(
    db: Database,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    raised: type[Exception],
) -> None:
    monkeypatch.setattr(importer, "CHUNK", 2)  # rows 2-3 flushed before the failure
    real = net_actions.upsert_port
    calls = 0

    def failing(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(net_actions, "upsert_port", failing)
    before = snapshot(db)
    with pytest.raises(raised) as caught:
        run(db, clock, "topology", fixture("topology.csv"), name="topology.csv")
    assert "topology.csv near line 5" in str(caught.value)
    assert "nothing was imported" in str(caught.value)
    assert snapshot(db) == before


def test_chunked_writing_gives_the_same_result(
    db: Database, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "CHUNK", 2)
    make_bundles(db, clock)
    for kind in ("plans", "topology", "subscribers"):
        result = run(db, clock, kind, fixture(f"{kind}.csv"))
        assert result.created == result.rows
    assert len(snapshot(db)["homes"]) == 5
    again = run(db, clock, "subscribers", fixture("subscribers.csv"))
    assert again.unchanged == 6


def test_an_unknown_kind_is_refused(db: Database, clock: ManualClock) -> None:
    with pytest.raises(ValidationFailed, match="unknown import kind"):
        run(db, clock, "gateways", b"x\n1\n")
