"""The subscriber search (every text field, every filter, pages, sorts, bad input), the 360
read, and the plan and region reads, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from homeport.core.db import Database
from homeport.core.errors import NotFound, ValidationFailed
from homeport.network import service
from homeport.subscribers import service as subscribers_service
from tests.factories import STANDARD, Fleet, SubscriberSpec, build_fleet, filler
from tests.web.conftest import count_statements


def names(db: Database, **kwargs: Any) -> list[str]:
    with db.session() as session:
        result = service.search_subscribers(session, **kwargs)
        return [row.subscriber.name for row in result.rows]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # name: every word, any order, any case
        ("smith", ["Alice Smith", "Carol Smithers"]),
        ("SMITH alice", ["Alice Smith"]),
        ("o'neill", ["Erin O'Neill"]),
        # account number
        ("bri-2001", ["Dev Patel"]),
        ("ACC-100", ["Alice Smith", "Bob Jones", "Carol Smithers", "Erin O'Neill"]),
        # e-mail
        ("JONES.EXAMPLE", ["Bob Jones"]),
        ("dev.patel@", ["Dev Patel"]),
        # postcode, spaces ignored on both sides
        ("ls14ap", ["Alice Smith"]),
        ("SW1A 1AA", ["Erin O'Neill"]),
        ("bs1 5", ["Dev Patel"]),
        # phone: separators ignored, a national 0 matches the +44 form
        ("020 7946 0001", ["Alice Smith"]),
        ("0113-496-0002", ["Bob Jones"]),
        ("+44 7700 900005", ["Erin O'Neill"]),
        ("7700 900", ["Carol Smithers", "Erin O'Neill"]),
        # gateway device id
        ("dsl-7f3a", ["Dev Patel"]),
        ("gw-000102", ["Bob Jones"]),
        # LIKE wildcards are taken literally
        ("%", []),
        ("_", []),
        ("nobody at all", []),
    ],
)
def test_text_search_matches_each_field(
    db: Database, fleet: Fleet, q: str, expected: list[str]
) -> None:
    assert names(db, q=q) == expected


def test_short_numbers_do_not_search_phones(db: Database, fleet: Fleet) -> None:
    # "0002" is a phone fragment of Bob's, but three digits after the trunk 0 are too few.
    assert names(db, q="0002") == []
    assert names(db, q="4960002") == ["Bob Jones"]


def test_whitespace_only_query_is_no_query(db: Database, fleet: Fleet) -> None:
    assert len(names(db, q="   ")) == len(STANDARD)


def test_control_characters_are_ignored(db: Database, fleet: Fleet) -> None:
    assert names(db, q="\x00smith\t") == ["Alice Smith", "Carol Smithers"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"status": "suspended"}, ["Carol Smithers"]),
        ({"journey_stage": "installation"}, ["Dev Patel"]),
        ({"plan_id": "fibre-500"}, ["Bob Jones", "Carol Smithers"]),
        ({"region_id": "south"}, ["Dev Patel"]),
        ({"access_node_id": "olt"}, ["Alice Smith", "Bob Jones", "Carol Smithers"]),
        ({"port_id": "north-olt1-p1"}, ["Alice Smith", "Bob Jones"]),
        ({"technology": "adsl"}, ["Dev Patel"]),
        ({"technology": "fttp", "q": "smith", "status": "active"}, ["Alice Smith"]),
        ({"region_id": "north", "plan_id": "fibre-100"}, []),
    ],
)
def test_each_filter(
    db: Database, fleet: Fleet, filters: dict[str, str], expected: list[str]
) -> None:
    lookup = {
        "plan_id": fleet.plans,
        "region_id": fleet.regions,
        "access_node_id": fleet.nodes,
        "port_id": fleet.ports,
    }
    kwargs: dict[str, Any] = {k: lookup[k][v] if k in lookup else v for k, v in filters.items()}
    assert names(db, **kwargs) == expected


def test_pages_cover_every_match_once(db: Database, clock: Any) -> None:
    build_fleet(db, clock.now(), STANDARD + filler(30))
    seen: list[str] = []
    with db.session() as session:
        for page in (1, 2, 3, 4):
            result = service.search_subscribers(session, q="filler", page=page, per_page=8)
            assert result.total == 30
            assert result.pages == 4
            seen.extend(r.subscriber.account_number for r in result.rows)
        assert len(seen) == 30 == len(set(seen))
        assert seen == sorted(seen)  # by name: "Filler 0001" ...
        last = service.search_subscribers(session, q="filler", page=4, per_page=8)
        assert (last.first, last.last) == (25, 30)
        beyond = service.search_subscribers(session, q="filler", page=5, per_page=8)
        assert beyond.rows == [] and beyond.total == 30 and beyond.first == 0


@pytest.mark.parametrize(
    ("per_page", "page", "rows", "total"),
    [
        (5, 1, 5, 5),  # a full page: the count is asked for
        (4, 2, 1, 5),  # a partly filled page is the last one
        (10, 1, 5, 5),
        (5, 2, 0, 5),  # beyond the end: still the true total
    ],
)
def test_total_is_right_with_or_without_the_count_query(
    db: Database, fleet: Fleet, per_page: int, page: int, rows: int, total: int
) -> None:
    with db.session() as session:
        result = service.search_subscribers(session, per_page=per_page, page=page)
        assert (len(result.rows), result.total) == (rows, total)


def test_sorts(db: Database, fleet: Fleet) -> None:
    by_account = names(db, sort="account")
    assert by_account[0] == "Alice Smith" and by_account[-1] == "Dev Patel"  # BRI- after ACC-
    assert names(db, sort="newest")[0] == "Erin O'Neill"  # added last


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"status": "gone"}, "status"),
        ({"journey_stage": "happy"}, "journey_stage"),
        ({"technology": "carrier-pigeon"}, "technology"),
        ({"sort": "random()"}, "sort"),
        ({"page": 0}, "page"),
        ({"per_page": 0}, "per_page"),
        ({"per_page": service.MAX_PER_PAGE + 1}, "per_page"),
        ({"plan_id": -1}, "plan_id"),
        ({"port_id": 2**31}, "port_id"),
        ({"q": "x" * (subscribers_service.MAX_QUERY_LENGTH + 1)}, "q"),
    ],
)
def test_bad_search_is_refused_with_the_field(
    db: Database, kwargs: dict[str, Any], field: str
) -> None:
    with db.session() as session, pytest.raises(ValidationFailed) as caught:
        service.search_subscribers(session, **kwargs)
    assert [e.field for e in caught.value.errors] == [field]


def test_every_bad_value_is_reported_at_once(db: Database) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.SubscriberSearch(status="x", journey_stage="y", technology="z", sort="w", page=0)
    fields = [e.field for e in caught.value.errors]
    assert fields == ["status", "journey_stage", "technology", "sort", "page"]


def test_search_from_form_values(db: Database, fleet: Fleet) -> None:
    # A GET form sends empty strings for "any"; they are not filters.
    search = service.SubscriberSearch.from_params(
        {"q": " smith ", "status": "", "plan_id": "", "page": "", "region_id": "1"}
    )
    assert (search.q, search.status, search.plan_id, search.page) == ("smith", None, None, 1)
    assert search.active_filters == {"region_id": 1}
    assert search.params(page=2) == {"q": "smith", "region_id": "1", "page": "2"}
    with pytest.raises(ValidationFailed) as caught:
        service.SubscriberSearch.from_params({"plan_id": "abc", "port_id": "1.5"})
    assert [e.field for e in caught.value.errors] == ["plan_id", "port_id"]


def test_subscriber_360(db: Database, fleet: Fleet) -> None:
    with db.session() as session:
        view = service.subscriber_360(session, fleet.subscribers["ACC-1001"])
        assert view.plan is not None and view.plan.code == "fibre-1000"
        assert [b.code for b in view.bundles] == ["gaming", "mesh"]  # by name
        assert view.region is not None and view.region.code == "north"
        assert view.access_node is not None and view.access_node.code == "LDS-OLT-01"
        assert view.port is not None and view.port.name == "1/1/1"
        assert view.homes_on_port == 2
        assert view.gateway is not None and view.gateway.device_id == "GW-000101"
        assert [n.node_id for n in view.mesh_nodes] == ["SAT-1", "SAT-2"]
        assert [c.last_rssi_dbm for c in view.clients] == [-45, -72, -88]

        prospect = service.subscriber_360(session, fleet.subscribers["ACC-1005"])
        assert prospect.home is None and prospect.port is None and prospect.homes_on_port == 0
        assert prospect.clients == [] and prospect.gateway is None

        with pytest.raises(NotFound):
            service.subscriber_360(session, 999_999)


def test_home_card_is_the_360_as_plain_rows(db: Database, clock: Any) -> None:
    """The console's card shows what the 360 shows, in three statements whatever the home."""
    bare = SubscriberSpec(account="X-9", name="Bare Home", port=None, device_id=None)
    accounts = build_fleet(db, clock.now(), (*STANDARD, bare)).subscribers
    with db.session() as session:
        for account in ("ACC-1001", "ACC-1005", "X-9"):
            full = service.subscriber_360(session, accounts[account])
            with count_statements(db) as log:
                card = service.home_card(session, accounts[account])
                assert (card.plan, card.bundles) == (full.plan, full.bundles)
            assert len(log.statements) <= 3, log
            assert card.subscriber is full.subscriber
            assert (card.home and card.home.id) == (full.home and full.home.id)
            assert (card.home and card.home.technology) == (full.home and full.home.technology)
            assert (card.port and card.port.name) == (full.port and full.port.name)
            assert (card.access_node and card.access_node.code) == (
                full.access_node and full.access_node.code
            )
            gw = ("device_id", "vendor", "model", "firmware", "last_seen_at")
            assert (card.gateway and tuple(getattr(card.gateway, k) for k in gw)) == (
                full.gateway and tuple(getattr(full.gateway, k) for k in gw)
            )
            fields = ("mac", "name", "kind", "last_band", "last_rssi_dbm")
            assert [tuple(getattr(c, k) for k in fields) for c in card.clients] == [
                tuple(getattr(c, k) for k in fields) for c in full.clients
            ]
        assert service.home_card(session, accounts["ACC-1001"]).clients  # the case worth checking
        assert service.home_card(session, accounts["X-9"]).gateway is None
        with pytest.raises(NotFound):
            service.home_card(session, 999_999)


def test_home_without_port_counts_no_neighbours(db: Database, clock: Any) -> None:
    fleet = build_fleet(
        db,
        clock.now(),
        (
            SubscriberSpec(account="X-1", name="No Port", port=None, device_id="GW-X1"),
            SubscriberSpec(account="X-2", name="Also No Port", port=None, device_id="GW-X2"),
        ),
    )
    with db.session() as session:
        view = service.subscriber_360(session, fleet.subscribers["X-1"])
        assert view.home is not None and view.port is None and view.homes_on_port == 0


def test_plans_and_regions(db: Database, fleet: Fleet) -> None:
    with db.session() as session:
        plans = subscribers_service.list_plans(session)
        assert [(r.plan.code, r.subscriber_count) for r in plans] == [
            ("fibre-100", 1),
            ("fibre-500", 2),
            ("fibre-1000", 1),
        ]
        regions = service.list_regions(session)
        assert [
            (r.region.code, [(n.node.code, n.port_count, n.home_count) for n in r.nodes])
            for r in regions
        ] == [
            ("north", [("LDS-OLT-01", 2, 3)]),
            ("south", [("BRI-DSL-01", 1, 1)]),
        ]


def test_facets(db: Database, fleet: Fleet) -> None:
    with db.session() as session:
        facets = service.search_facets(session)
        assert [name for _, name in facets.plans] == [
            "Fibre 100",
            "Fibre 500",
            "Full Fibre Gigabit",
        ]
        assert [name for _, name in facets.regions] == ["North", "South"]
        assert "suspended" in facets.statuses and "fttp" in facets.technologies
        assert service.topology_label(session, port_id=fleet.ports["north-olt1-p1"]) == (
            "North / LDS-OLT-01 / 1/1/1"
        )
        assert service.topology_label(session, access_node_id=fleet.nodes["dslam"]) == (
            "South / BRI-DSL-01"
        )
        assert service.topology_label(session, port_id=999) is None
