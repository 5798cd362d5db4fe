"""When a remote action is queued for a TR-069 CPE whose ConnectionRequestURL this process
knows, ask the CPE to call in now (in a background thread: never on the committing request's
path). Connected by ``homeport.wiring.connect`` through :func:`register`."""

from __future__ import annotations

import logging
import threading

from homeport.adapters.cwmp import connreq
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.health.remote import ActionQueued

log = logging.getLogger(__name__)


def on_action_queued(event: ActionQueued, settings: Settings) -> threading.Thread | None:
    """Start the connection request for ``event``'s device (None when its URL is unknown)."""
    url = connreq.known_url(event.device_id)
    if url is None:
        return None
    user, password = connreq.credentials(settings.effective_secret_key(), event.device_id)

    def run() -> None:
        result = connreq.connection_request(url, user, password)
        log.info(
            "connection request to %s for action %d: %s",
            event.device_id,
            event.action_id,
            result.reason,
        )

    thread = threading.Thread(target=run, name=f"cwmp-cr-{event.device_id}", daemon=True)
    thread.start()
    return thread


def register(db: Database, settings: Settings) -> None:
    def handler(event: ActionQueued) -> None:
        on_action_queued(event, settings)

    db.bus.subscribe(ActionQueued, handler)
