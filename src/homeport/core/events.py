"""Domain events, delivered only after the transaction that raised them commits.

An action calls :func:`publish` with the session it writes through. The event waits in
``session.info`` and the :class:`EventBus` delivers it from SQLAlchemy's ``after_commit`` hook;
a rollback discards it. Handlers run in-process (the default queue); a handler that raises is
logged and does not affect the others or the committed data.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_PENDING = "homeport.pending_events"
_BUS = "homeport.event_bus"


@dataclass(frozen=True)
class Event:
    """Base class: subclasses are frozen dataclasses named in the past tense."""


E = TypeVar("E", bound=Event)
Handler = Callable[[Any], None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type[Event], list[Handler]] = defaultdict(list)
        #: Set by ``homeport.wiring.connect`` once the domains' handlers are subscribed.
        self.wired = False

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        self._handlers[event_type].append(handler)

    def dispatch(self, event: Event) -> None:
        for event_type in type(event).__mro__:
            for handler in self._handlers.get(event_type, ()):
                try:
                    handler(event)
                except Exception:
                    log.exception("event handler %r failed for %r", handler, event)

    def attach(self, session: Session) -> None:
        session.info[_BUS] = self


def publish(session: Session, event: Event) -> None:
    """Queue ``event`` for delivery when ``session`` commits."""
    session.info.setdefault(_PENDING, []).append(event)


@sa_event.listens_for(Session, "after_commit")
def _deliver(session: Session) -> None:
    pending: list[Event] = session.info.pop(_PENDING, [])
    bus: EventBus | None = session.info.get(_BUS)
    if bus is None:
        return
    for ev in pending:
        bus.dispatch(ev)


@sa_event.listens_for(Session, "after_soft_rollback")
def _discard(session: Session, previous_transaction: Any) -> None:
    session.info.pop(_PENDING, None)


_AWAITING_IDS = "homeport.events_awaiting_ids"


def publish_when_flushed(session: Session, make: Callable[[], Event]) -> None:
    """Publish the event ``make()`` builds once the next flush has given new rows their ids.

    An action that creates a row need not flush it at once just to name its id in an event;
    a batch of creates is then flushed together (at the latest by the commit). As with
    :func:`publish`, nothing reaches the bus unless the transaction commits.
    """
    session.info.setdefault(_AWAITING_IDS, []).append(make)


@sa_event.listens_for(Session, "after_flush_postexec")
def _publish_awaiting(session: Session, _flush_context: Any) -> None:
    for make in session.info.pop(_AWAITING_IDS, []):
        publish(session, make())


@sa_event.listens_for(Session, "after_soft_rollback")
def _discard_awaiting(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_AWAITING_IDS, None)
