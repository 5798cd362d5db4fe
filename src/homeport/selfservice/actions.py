"""Writes of the self-service domain (the only place in it that persists)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor
from homeport.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from homeport.core.health_settings import HealthSettings
from homeport.health import remote
from homeport.health import service as health_service
from homeport.health.models import DeviceAction, Finding
from homeport.selfservice import service
from homeport.selfservice.models import ENGAGEMENT_CHANNELS, EngagementEvent
from homeport.subscribers import actions as subscriber_actions
from homeport.support import actions as support_actions
from homeport.support import guided
from homeport.support.models import Case, Interaction
from homeport.telemetry import service as telemetry_service

#: Longest engagement kind (the column's width).
MAX_KIND = 40


def record_engagement(
    session: Session,
    subscriber_id: int,
    kind: str,
    *,
    at: datetime,
    channel: str = "portal",
    detail: dict[str, Any] | None = None,
) -> EngagementEvent:
    """Record one use of self-service (a page, a fix, a speed test, a bot message) in the
    caller's transaction. Digital adoption and app engagement count these events."""
    if channel not in ENGAGEMENT_CHANNELS:
        raise ValidationFailed(
            "bad engagement event", [FieldError("channel", f"must be one of {ENGAGEMENT_CHANNELS}")]
        )
    if not kind or len(kind) > MAX_KIND:
        raise ValidationFailed(
            "bad engagement event", [FieldError("kind", f"must be 1-{MAX_KIND} characters")]
        )
    event = EngagementEvent(
        subscriber_id=subscriber_id, at=at, channel=channel, kind=kind, detail=detail or {}
    )
    session.add(event)
    return event


# --- The subscriber portal's writes -----------------------------------------------------------
# Each takes the signed-in subscriber's id, acts only on what belongs to them, and records the
# use as an engagement event, all in the caller's transaction.

#: Engagement kind of each remote action a subscriber can run.
ACTION_ENGAGEMENT = {
    "speed_test": "speed_test",
    "reboot": "restart",
    "band_steer": "band_move",
    "set_channel": "channel_change",
}
#: Remote actions a subscriber may ask for directly (a channel change comes from a guided flow).
SUBSCRIBER_ACTIONS = ("speed_test", "reboot", "band_steer")
#: A guided step's proposed action can be run this long after the step.
PROPOSAL_VALID = timedelta(hours=1)
MAX_SUBJECT = 200
MAX_MESSAGE = 20_000
#: A callback can be asked for this far ahead at most.
CALLBACK_HORIZON = timedelta(days=14)


def portal_actor(subscriber_id: int) -> Actor:
    return Actor("subscriber", subscriber_id, "portal")


def _gateway(session: Session, subscriber_id: int) -> tuple[int, str]:
    try:
        return health_service.subscriber_gateway(session, subscriber_id)
    except NotFound as exc:
        raise Conflict("your home has no gateway on record: contact us") from exc


def run_remote_action(
    session: Session,
    subscriber_id: int,
    kind: str,
    *,
    now: datetime,
    params: dict[str, Any] | None = None,
    finding_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> DeviceAction:
    """Queue a remote action for the subscriber's own gateway (the action queue's rate limits
    apply: :class:`Conflict`), requested by ``subscriber:<id>``, and record the use."""
    if kind not in ACTION_ENGAGEMENT:
        raise ValidationFailed(
            "unknown action", [FieldError("kind", f"one of {', '.join(ACTION_ENGAGEMENT)}")]
        )
    home_id, device_id = _gateway(session, subscriber_id)
    action = remote.queue_action(
        session,
        home_id=home_id,
        device_id=device_id,
        kind=kind,
        params=params or {},
        requested_by=f"subscriber:{subscriber_id}",
        finding_id=finding_id,
        now=now,
    )
    record_engagement(
        session,
        subscriber_id,
        ACTION_ENGAGEMENT[kind],
        at=now,
        detail={
            "action_id": action.id,
            **({"params": action.params} if action.params else {}),
            **(detail or {}),
        },
    )
    return action


def guided_case(session: Session, subscriber_id: int, flow: guided.Flow) -> Case | None:
    """The subscriber's live case an agent would follow this flow on: one linked to an open
    finding the flow covers, else one whose category the flow covers (newest first)."""
    cases = service.live_cases(session, subscriber_id)
    if not cases:
        return None
    finding_ids = {c.finding_id for c in cases if c.finding_id is not None}
    kinds: dict[int, str] = {}
    if finding_ids:
        kinds = {
            int(i): str(k)
            for i, k in session.execute(
                select(Finding.id, Finding.kind).where(Finding.id.in_(finding_ids))
            )
        }
    for c in cases:
        if c.finding_id is not None and kinds.get(c.finding_id) in flow.categories:
            return c
    for c in cases:
        if c.category in flow.categories:
            return c
    return None


@dataclass(frozen=True)
class GuidedRun:
    outcome: guided.Outcome
    case_id: int | None
    event: EngagementEvent


def run_guided_step(
    session: Session,
    subscriber_id: int,
    flow_name: str,
    step: str | None,
    *,
    now: datetime,
    health: HealthSettings | None = None,
    silent_after: timedelta = guided.DEFAULT_SILENT_AFTER,
) -> GuidedRun:
    """Run one step of a guided flow for the subscriber's own home over its live facts (no
    step: the flow's start, beginning a new run). The step and its result are recorded as a
    ``guided_step`` engagement event; when the subscriber has a live case the flow covers, also
    on the case exactly as the console records it (a ``GuidedStep`` row and an internal note),
    so that an agent who takes over sees what was tried."""
    flow = guided.get_flow(flow_name)
    new_run = step is None
    step_id = step or flow.start
    if step_id not in flow.steps:
        raise ValidationFailed(
            "unknown step", [FieldError("step", f"one of {', '.join(flow.steps)}")]
        )
    case = guided_case(session, subscriber_id, flow)
    actor = portal_actor(subscriber_id)
    if case is not None:
        run = guided.run_step(
            session,
            case_id=case.id,
            flow_name=flow.name,
            actor=actor,
            now=now,
            step=step_id,
            health=health,
            silent_after=silent_after,
        )
        outcome = run.outcome
        support_actions.add_note(
            session,
            case.id,
            f"Guided step in the portal, by the subscriber ({flow.name}, {outcome.step}): "
            f"{outcome.result}. {outcome.text}",
            now=now,
            actor=actor,
            author_id=None,
            meta={"guided_step_id": run.guided_step_id, "via": "portal"},
        )
    else:
        facts = guided.gather_facts(
            session, subscriber_id, now=now, health=health, silent_after=silent_after
        )
        outcome = guided.evaluate_step(flow, step_id, facts)
    event = record_engagement(
        session,
        subscriber_id,
        "guided_step",
        at=now,
        detail={
            "flow": flow.name,
            "step": outcome.step,
            "result": outcome.result,
            "text": outcome.subscriber_text,
            "proposal": outcome.proposal.as_json(),
            "new_run": new_run,
            **({"case_id": case.id} if case is not None else {}),
        },
    )
    return GuidedRun(outcome, case.id if case is not None else None, event)


def run_guided_action(
    session: Session,
    subscriber_id: int,
    flow_name: str,
    step: str,
    *,
    now: datetime,
    health: HealthSettings | None = None,
) -> DeviceAction:
    """Run the remote action the subscriber's latest run of ``step`` proposed (within
    :data:`PROPOSAL_VALID`), with parameters from the home's live report: the congested band's
    next preferred channel, or the 2.4 GHz device to move to 5 GHz. :class:`Conflict` when the
    step proposed no action or too long ago."""
    flow = guided.get_flow(flow_name)
    last = session.scalars(
        select(EngagementEvent)
        .where(
            EngagementEvent.subscriber_id == subscriber_id,
            EngagementEvent.kind == "guided_step",
            EngagementEvent.at > now - PROPOSAL_VALID,
        )
        .order_by(EngagementEvent.at.desc(), EngagementEvent.id.desc())
        .limit(20)
    ).all()
    mine = next(
        (e for e in last if e.detail.get("flow") == flow.name and e.detail.get("step") == step),
        None,
    )
    proposal = (mine.detail.get("proposal") or {}) if mine is not None else {}
    kind = proposal.get("action")
    if mine is None or proposal.get("kind") != "action" or not isinstance(kind, str):
        raise Conflict("this step proposed nothing to run: check again first")
    s = health or HealthSettings()
    facts = guided.gather_facts(session, subscriber_id, now=now, health=s)
    _, device_id = _gateway(session, subscriber_id)
    latest = telemetry_service.latest_report(session, device_id)
    detail = (latest.detail or {}) if latest is not None else {}
    for radio in detail.get("radios", []):
        if radio.get("band") == facts.get("congested_band"):
            facts["congested_channel_no"] = radio.get("channel")
    clients = [c for c in detail.get("clients", []) if isinstance(c, dict)]
    params = guided.action_params(kind, facts, clients, s)
    action = run_remote_action(
        session,
        subscriber_id,
        kind,
        now=now,
        params=params,
        detail={"flow": flow.name, "step": step},
    )
    record_engagement(
        session,
        subscriber_id,
        "guided_action",
        at=now,
        detail={"flow": flow.name, "step": step, "action_id": action.id, "kind": kind},
    )
    case_id = mine.detail.get("case_id")
    if isinstance(case_id, int):
        case = session.get(Case, case_id)
        if case is not None and case.subscriber_id == subscriber_id and case.status != "closed":
            what = ", ".join(f"{k} {v}" for k, v in sorted(action.params.items()))
            support_actions.add_note(
                session,
                case_id,
                f"Remote action run by the subscriber from the portal's guided flow: {kind} "
                f"({device_id})" + (f" — {what}" if what else "") + ".",
                now=now,
                actor=portal_actor(subscriber_id),
                author_id=None,
                meta={"device_action_id": action.id, "device_action_kind": kind, "via": "portal"},
            )
    return action


def _message(channel_body: str, *, what: str, max_len: int) -> str:
    text = channel_body.strip()
    if not text:
        raise ValidationFailed(f"empty {what}", [FieldError(what, "required")])
    if len(text) > max_len:
        raise ValidationFailed(
            f"{what} too long", [FieldError(what, f"at most {max_len} characters")]
        )
    return text


def send_message(
    session: Session, subscriber_id: int, *, subject: str, body: str, now: datetime
) -> Case:
    """The portal's contact form: a new case in channel ``app`` with the message as its first
    interaction."""
    subject = _message(subject, what="subject", max_len=MAX_SUBJECT)
    text = _message(body, what="body", max_len=MAX_MESSAGE)
    sub = service.subscriber(session, subscriber_id)
    case = support_actions.open_case(
        session,
        now=now,
        actor=portal_actor(subscriber_id),
        channel="app",
        subject=subject,
        subscriber_id=subscriber_id,
        contact=sub.email or "",
        first=support_actions.NewInteraction(
            channel="app",
            direction="inbound",
            author_kind="subscriber",
            body=text,
            subject=subject,
            address=sub.email or "",
        ),
    )
    record_engagement(session, subscriber_id, "contact", at=now, detail={"case_id": case.id})
    return case


def request_callback(
    session: Session,
    subscriber_id: int,
    *,
    at: datetime,
    phone: str,
    note: str,
    now: datetime,
    zone: ZoneInfo,
) -> Case:
    """Ask for a call back at ``at`` (aware, in the future, within :data:`CALLBACK_HORIZON`) on
    ``phone``: a case in channel ``app`` tagged ``callback`` whose first interaction says when."""
    if at.tzinfo is None:
        raise ValidationFailed("bad time", [FieldError("when", "a time with its zone")])
    if at <= now or at > now + CALLBACK_HORIZON:
        raise ValidationFailed("bad time", [FieldError("when", "a time in the next 14 days")])
    number = phone.strip()
    if not number or len(number) > 40 or not any(ch.isdigit() for ch in number):
        raise ValidationFailed("bad phone", [FieldError("phone", "a phone number")])
    local = at.astimezone(zone)
    when = local.strftime("%a %d %b %Y, %H:%M")
    body = f"Please call me back on {number} around {when} ({zone.key})."
    if note.strip():
        body += "\n\n" + _message(note, what="note", max_len=MAX_MESSAGE)
    sub = service.subscriber(session, subscriber_id)
    actor = portal_actor(subscriber_id)
    case = support_actions.open_case(
        session,
        now=now,
        actor=actor,
        channel="app",
        subject=f"Callback request: {when}",
        subscriber_id=subscriber_id,
        contact=sub.email or number,
        category="callback",
        description=body,
        first=support_actions.NewInteraction(
            channel="app",
            direction="inbound",
            author_kind="subscriber",
            body=body,
            address=number,
            meta={"callback_at": at.isoformat(), "phone": number},
        ),
    )
    support_actions.set_tags(session, case.id, ["callback"], now=now, actor=actor)
    record_engagement(
        session,
        subscriber_id,
        "callback",
        at=now,
        detail={"case_id": case.id, "callback_at": at.isoformat()},
    )
    return case


def reply_to_case(
    session: Session, subscriber_id: int, case_id: int, *, body: str, now: datetime
) -> Interaction:
    """The subscriber answers on their own case (:class:`NotFound` for anybody else's): an
    inbound interaction in channel ``app`` (which reopens a solved case). A closed case takes
    no more messages (:class:`Conflict`): the portal offers a new message instead."""
    text = _message(body, what="body", max_len=MAX_MESSAGE)
    case = service.own_case(session, subscriber_id, case_id)
    if case.status == "closed":
        raise Conflict("this case is closed: send us a new message")
    interaction, _ = support_actions.add_interaction(
        session,
        case.id,
        support_actions.NewInteraction(
            channel="app", direction="inbound", author_kind="subscriber", body=text
        ),
        now=now,
        actor=portal_actor(subscriber_id),
    )
    record_engagement(session, subscriber_id, "case_reply", at=now, detail={"case_id": case.id})
    return interaction


def set_preferences(
    session: Session,
    subscriber_id: int,
    *,
    email: bool,
    sms: bool,
    marketing: bool,
    now: datetime,
) -> bool:
    """Notification preferences from the portal, stored as the subscriber's consents."""
    changed = subscriber_actions.set_consent(
        session,
        subscriber_id,
        actor=portal_actor(subscriber_id),
        now=now,
        email=email,
        sms=sms,
        marketing=marketing,
    )
    record_engagement(
        session,
        subscriber_id,
        "preferences",
        at=now,
        detail={"email": email, "sms": sms, "marketing": marketing, "changed": changed},
    )
    return changed
