"""Calls from a PBX or telephony provider as support interactions (no web code here).

One call is one interaction in channel ``phone`` whose ``external_id`` is the call id, so every
event of a call, and every retry of an event, lands on the same row:

- ``call.started``: the caller is looked up by number (:func:`find_subscriber`); the call joins
  the case the event names, else the subscriber's most recently updated live case of the last
  :data:`ATTACH_DAYS` days, else a new reactive case in channel ``phone`` (an unknown number
  becomes the case's contact).
- ``call.answered``: the answering agent is noted (``meta.call.agent_id``) and given the case if
  nobody has it.
- ``call.ended``: the interaction gets ``ended_at`` and ``handle_time_s`` (seconds from answer
  to hang-up; 0 for a call nobody answered, marked ``meta.call.missed``).

Events may arrive late, twice or out of order: an end without a start records the whole call,
an answer after the end changes nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.errors import Conflict, NotFound, ValidationFailed
from homeport.identity import service as identity_service
from homeport.identity.models import StaffUser
from homeport.subscribers.models import Subscriber
from homeport.support import actions
from homeport.support.models import LIVE_STATUSES, Case, Interaction

EVENTS = ("call.started", "call.answered", "call.ended")
#: A call joins the caller's live case updated within this many days.
ATTACH_DAYS = 7
ACTOR = Actor.system("cti")


@dataclass(frozen=True)
class CallEvent:
    event: str
    call_id: str
    at: datetime
    caller: str = ""
    direction: str = "inbound"
    staff_id: int | None = None
    agent_email: str = ""
    extension: str = ""
    case_id: int | None = None
    started_at: datetime | None = None


@dataclass(frozen=True)
class CallResult:
    case_id: int
    interaction_id: int
    subscriber_id: int | None
    subscriber_name: str
    account_number: str
    agent_id: int | None
    state: str
    #: Nothing changed: a retry, or an event the call is already past.
    duplicate: bool


def resolve_agent(session: Session, event: CallEvent, extensions: dict[str, str]) -> int | None:
    """The staff user the event names: by id, e-mail, or extension (``cti_extensions``)."""
    user: StaffUser | None = None
    if event.staff_id is not None:
        user = session.get(StaffUser, event.staff_id)
    elif event.agent_email:
        user = identity_service.staff_by_email(session, event.agent_email)
    elif event.extension and event.extension in extensions:
        user = identity_service.staff_by_email(session, extensions[event.extension])
    return user.id if user is not None and user.is_active else None


def _call_meta(item: Interaction) -> dict[str, Any]:
    return dict((item.meta or {}).get("call") or {})


def _with_call(item: Interaction, call: dict[str, Any]) -> dict[str, Any]:
    return {**(item.meta or {}), "call": call}


def _case_to_join(session: Session, event: CallEvent, subscriber: Subscriber | None) -> Case | None:
    if event.case_id is not None:
        case = session.get(Case, event.case_id)
        if case is None:
            raise NotFound(f"no case {event.case_id}")
        return case if case.status != "closed" else None
    if subscriber is None:
        return None
    return session.scalars(
        select(Case)
        .where(
            Case.subscriber_id == subscriber.id,
            Case.status.in_(LIVE_STATUSES),
            Case.merged_into_id.is_(None),
            Case.updated_at >= event.at - timedelta(days=ATTACH_DAYS),
        )
        .order_by(Case.updated_at.desc(), Case.id.desc())
        .limit(1)
    ).first()


def _start(
    session: Session, event: CallEvent, agent_id: int | None, started: datetime
) -> Interaction:
    subscriber = actions.find_subscriber(session, phone=event.caller) if event.caller else None
    outbound = event.direction == "outbound"
    item = actions.NewInteraction(
        channel="phone",
        direction="outbound" if outbound else "inbound",
        author_kind="agent" if outbound else "subscriber",
        author_id=agent_id if outbound else None,
        address=event.caller[:254],
        external_id=event.call_id,
        started_at=started,
        meta={"call": {"state": "ringing", "agent_id": agent_id}},
    )
    case = _case_to_join(session, event, subscriber)
    if case is None:
        who = subscriber.name if subscriber else (event.caller or "unknown number")
        case = actions.open_case(
            session,
            now=event.at,
            actor=ACTOR,
            channel="phone",
            subject=f"Phone call from {who}"[:200],
            first=item,
            subscriber_id=subscriber.id if subscriber else None,
            contact="" if subscriber else (event.caller or "unknown"),
        )
        session.flush()
        stored = actions.find_interaction(session, "phone", event.call_id)
        assert stored is not None
        return stored
    stored, _ = actions.add_interaction(session, case.id, item, now=event.at, actor=ACTOR)
    return stored


def _answer(session: Session, item: Interaction, agent_id: int | None, at: datetime) -> bool:
    call = _call_meta(item)
    if call.get("state") in ("answered", "ended"):
        return False
    call.update(state="answered", answered_at=at.isoformat())
    if agent_id is not None:
        call["agent_id"] = agent_id
    actions.update_interaction(
        session, item.id, now=at, actor=ACTOR, meta=_with_call(item, call), answered=True
    )
    record(
        session,
        at=at,
        actor=ACTOR,
        action="call.answered",
        entity_type="case",
        entity_id=item.case_id,
        interaction_id=item.id,
        agent_id=agent_id,
    )
    case = session.get(Case, item.case_id)
    if agent_id is not None and case is not None and case.assignee_id is None:
        # A user who does not work cases answered: the call is logged all the same.
        with contextlib.suppress(ValidationFailed, Conflict):
            actions.assign(session, case.id, agent_id, now=at, actor=ACTOR)
    return True


def _end(session: Session, item: Interaction, agent_id: int | None, at: datetime) -> bool:
    """Record the end of the call: ``ended_at`` and the handle time (answer to hang-up)."""
    call = _call_meta(item)
    if call.get("state") == "ended" or item.ended_at is not None:
        return False
    answered = call.get("answered_at")
    ended = max(at, item.started_at)
    if answered:
        handle = int((ended - datetime.fromisoformat(answered)).total_seconds())
    else:
        handle = 0
        call["missed"] = True
    if agent_id is not None and not call.get("agent_id"):
        call["agent_id"] = agent_id
    call["state"] = "ended"
    actions.update_interaction(
        session,
        item.id,
        now=at,
        actor=ACTOR,
        meta=_with_call(item, call),
        ended_at=ended,
        handle_time_s=max(handle, 0),
    )
    record(
        session,
        at=at,
        actor=ACTOR,
        action="call.ended",
        entity_type="case",
        entity_id=item.case_id,
        interaction_id=item.id,
        handle_time_s=item.handle_time_s,
        missed=bool(call.get("missed")),
    )
    return True


def handle(session: Session, event: CallEvent, *, extensions: dict[str, str]) -> CallResult:
    """Apply one call event in the caller's transaction."""
    if event.event not in EVENTS:
        raise ValidationFailed(f"unknown event {event.event!r}: one of {', '.join(EVENTS)}")
    agent_id = resolve_agent(session, event, extensions)
    item = actions.find_interaction(session, "phone", event.call_id)
    changed = False
    if item is None:
        started = event.started_at or event.at
        item = _start(session, event, agent_id, min(started, event.at))
        changed = True
    else:
        item = session.scalars(
            select(Interaction).where(Interaction.id == item.id).with_for_update()
        ).one()
    if event.event == "call.answered":
        changed = _answer(session, item, agent_id, event.at) or changed
    elif event.event == "call.ended":
        changed = _end(session, item, agent_id, event.at) or changed
    session.flush()
    case = session.get_one(Case, item.case_id)
    subscriber = session.get(Subscriber, case.subscriber_id) if case.subscriber_id else None
    call = _call_meta(item)
    return CallResult(
        case_id=case.id,
        interaction_id=item.id,
        subscriber_id=case.subscriber_id,
        subscriber_name=subscriber.name if subscriber else "",
        account_number=subscriber.account_number if subscriber else "",
        agent_id=call.get("agent_id") or agent_id,
        state=str(call.get("state", "")),
        duplicate=not changed,
    )
