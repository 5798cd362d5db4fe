"""On PostgreSQL, every text-search branch can use its trigram index (migration 0002)."""

from __future__ import annotations

import pytest
from sqlalchemy import Select, select, text

from homeport.core.db import Database
from homeport.network.models import Gateway
from homeport.subscribers.models import Subscriber
from homeport.subscribers.service import phone_digits, postcode_compact

SUB = select(Subscriber.id)


@pytest.mark.parametrize(
    ("index", "query"),
    [
        (
            "ix_subscribers_name_trgm",
            SUB.where(Subscriber.name.icontains("smith", autoescape=True)),
        ),
        (
            "ix_subscribers_account_trgm",
            SUB.where(Subscriber.account_number.icontains("acc-1", autoescape=True)),
        ),
        (
            "ix_subscribers_email_trgm",
            SUB.where(Subscriber.email.icontains("smith@", autoescape=True)),
        ),
        (
            "ix_subscribers_postcode_trgm",
            SUB.where(postcode_compact(Subscriber.postcode).icontains("ls14", autoescape=True)),
        ),
        (
            "ix_subscribers_phone_trgm",
            SUB.where(phone_digits(Subscriber.phone).contains("2079460", autoescape=True)),
        ),
        (
            "ix_gateways_device_id_trgm",
            select(Gateway.id).where(Gateway.device_id.icontains("GW-0001", autoescape=True)),
        ),
    ],
)
def test_search_branches_use_their_trigram_index(
    db: Database, index: str, query: Select[tuple[int]]
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("trigram indexes are PostgreSQL-only")
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    with db.engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {compiled}")))
    assert index in plan, plan
