"""Connects the domains' event handlers to a database's event bus.

Every process (``serve``, ``ingest``, ``worker``, ``demo``, the tests) calls :func:`connect`
once for its :class:`~homeport.core.db.Database`. Upward effects travel this way
(``telemetry`` → ``health`` → ``support``), never as imports from a lower domain.
"""

from __future__ import annotations

from homeport.core.db import Database
from homeport.core.settings import Settings


def connect(db: Database, settings: Settings) -> None:
    """Subscribe all handlers to ``db.bus`` (a second call for the same bus does nothing)."""
    if db.bus.wired:
        return
    db.bus.wired = True
    # Each domain with handlers registers them here, lowest domain first; adapters last.
    from homeport.adapters.cwmp import handlers as cwmp_handlers
    from homeport.health import handlers as health_handlers
    from homeport.journey import handlers as journey_handlers
    from homeport.selfservice import bot
    from homeport.support import actions as support_actions

    health_handlers.register(db, settings)
    support_actions.register(db)
    bot.register(db, settings.zone)
    journey_handlers.register(db)
    cwmp_handlers.register(db, settings)
