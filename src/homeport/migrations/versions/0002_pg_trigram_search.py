"""PostgreSQL only: trigram indexes for the subscriber search (ILIKE '%text%').

Without them a text search scans the whole table (about 250 ms at 100,000 subscribers; about
10 ms with them). SQLite has no equivalent and skips this revision. The phone and postcode
expressions must stay identical to ``homeport.subscribers.service._without`` or PostgreSQL will
not use them; ``tests/web/test_search_indexes.py`` checks that it does. ``migrations/env.py``
keeps autogenerate from reporting these indexes (which the models do not declare) as drift.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PHONE = (
    "replace(replace(replace(replace(replace(replace(replace(phone, ' ', ''), '-', ''), "
    "'(', ''), ')', ''), '+', ''), '.', ''), '/', '')"
)
INDEXES = {
    "ix_subscribers_name_trgm": "subscribers USING gin (name gin_trgm_ops)",
    "ix_subscribers_account_trgm": "subscribers USING gin (account_number gin_trgm_ops)",
    "ix_subscribers_email_trgm": "subscribers USING gin (email gin_trgm_ops)",
    "ix_subscribers_postcode_trgm": "subscribers USING gin ((replace(postcode, ' ', '')) gin_trgm_ops)",
    "ix_subscribers_phone_trgm": f"subscribers USING gin (({_PHONE}) gin_trgm_ops)",
    "ix_gateways_device_id_trgm": "gateways USING gin (device_id gin_trgm_ops)",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, target in INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
