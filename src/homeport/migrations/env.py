from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, pool

from homeport.core.db import Base, make_engine
from homeport.core.settings import load_settings
from homeport.migrations import import_all_models

import_all_models()
config = context.config
_given: str | None = config.attributes.get("homeport_url") or config.get_main_option(
    "sqlalchemy.url"
)
url: str = _given if _given and _given != "driver://" else load_settings().effective_database_url


def run_migrations_offline() -> None:
    context.configure(
        url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def _include_object(obj, name, type_, reflected, compare_to):
    """Leave out of the drift check the PostgreSQL-only search indexes of revision 0002."""
    return not (type_ == "index" and reflected and name and name.endswith("_trgm"))


def _run(connection: Connection) -> None:
    context.configure(
        include_object=_include_object,
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
        user_module_prefix="homeport.core.db.",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
