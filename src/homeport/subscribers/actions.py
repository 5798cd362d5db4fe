"""Writes of the subscribers domain: plans, bundles, subscribers and their bundles.

Each action works in the caller's session (the caller's transaction decides whether it all
happens), records an audit entry and publishes a past-tense event when something changed.
An upsert that changes nothing writes nothing, audits nothing and publishes nothing.

Batch callers (the CSV import) pass a :class:`Known` so that rows found by natural key are
looked up once for the whole batch instead of once per action, and ``audit=False`` when they
record one audit entry for the whole batch themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from homeport.core.events import Event, publish, publish_when_flushed
from homeport.core.writes import Saved, apply, cached, given, load_by_key
from homeport.subscribers.models import Bundle, Plan, Subscriber
from homeport.subscribers.schemas import (
    BundleIn,
    BundleSelection,
    PlanIn,
    SubscriberIn,
    shown,
)

# Events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanCreated(Event):
    plan_id: int
    code: str


@dataclass(frozen=True)
class PlanUpdated(Event):
    plan_id: int
    changed: tuple[str, ...]


@dataclass(frozen=True)
class BundleCreated(Event):
    bundle_id: int
    code: str


@dataclass(frozen=True)
class SubscriberCreated(Event):
    subscriber_id: int
    status: str
    journey_stage: str
    plan_id: int | None


@dataclass(frozen=True)
class SubscriberUpdated(Event):
    subscriber_id: int
    changed: tuple[str, ...]


@dataclass(frozen=True)
class SubscriberStatusChanged(Event):
    """Status or journey stage moved (activation, suspension, churn, a new journey stage)."""

    subscriber_id: int
    old_status: str
    new_status: str
    old_stage: str
    new_stage: str


@dataclass(frozen=True)
class SubscriberPlanChanged(Event):
    subscriber_id: int
    old_plan_id: int | None
    new_plan_id: int | None


@dataclass(frozen=True)
class SubscriberBundlesChanged(Event):
    subscriber_id: int
    added: tuple[str, ...]
    removed: tuple[str, ...]


# Rows already looked up ---------------------------------------------------------------------


@dataclass
class Known:
    """Rows found by natural key, shared by many actions in one session.

    A key mapped to ``None`` is known not to exist; a key that is absent is looked up. Actions
    add the rows they create, so later actions in the batch find them.
    """

    plans: dict[str, Plan | None] = field(default_factory=dict)
    bundles: dict[str, Bundle | None] = field(default_factory=dict)
    subscribers: dict[str, Subscriber | None] = field(default_factory=dict)

    def fetch(
        self,
        session: Session,
        *,
        plans: Iterable[str] = (),
        bundles: Iterable[str] = (),
        subscribers: Iterable[str] = (),
    ) -> Known:
        """Look up the keys not known yet, in a few queries."""
        load_by_key(session, Plan, Plan.code, plans, self.plans)
        load_by_key(session, Bundle, Bundle.code, bundles, self.bundles)
        load_by_key(session, Subscriber, Subscriber.account_number, subscribers, self.subscribers)
        return self


def plan_by_code(session: Session, code: str, known: Known | None = None) -> Plan | None:
    return cached(
        known.plans if known else None,
        code,
        lambda: session.scalar(select(Plan).where(Plan.code == code)),
    )


def bundle_by_code(session: Session, code: str, known: Known | None = None) -> Bundle | None:
    return cached(
        known.bundles if known else None,
        code,
        lambda: session.scalar(select(Bundle).where(Bundle.code == code)),
    )


def subscriber_by_account(
    session: Session, account: str, known: Known | None = None
) -> Subscriber | None:
    return cached(
        known.subscribers if known else None,
        account,
        lambda: session.scalar(select(Subscriber).where(Subscriber.account_number == account)),
    )


# Plans and bundles -------------------------------------------------------------------------


def upsert_plan(
    session: Session,
    data: PlanIn,
    *,
    actor: Actor,
    now: datetime,
    known: Known | None = None,
    audit: bool = True,
) -> Saved[Plan]:
    """Create the plan ``data.code`` or bring it in line with ``data``."""
    values = {
        "name": data.name,
        "down_mbps": data.down_mbps,
        "up_mbps": data.up_mbps,
        "monthly_price": data.monthly_price,
        **given(currency=data.currency, is_active=data.is_active),
    }
    plan = plan_by_code(session, data.code, known)
    if plan is None:
        new = plan = Plan(code=data.code, **{"currency": "GBP", "is_active": True, **values})
        session.add(plan)
        if known is not None:
            known.plans[plan.code] = plan
        if audit:
            session.flush()
            record(
                session,
                at=now,
                actor=actor,
                action="plan.created",
                entity_type="plan",
                entity_id=plan.id,
                code=plan.code,
            )
        publish_when_flushed(session, lambda: PlanCreated(new.id, new.code))
        return Saved(plan, created=True)
    changes = apply(plan, values)
    if changes:
        if audit:
            record(
                session,
                at=now,
                actor=actor,
                action="plan.updated",
                entity_type="plan",
                entity_id=plan.id,
                changed=changes,
            )
        publish(session, PlanUpdated(plan.id, tuple(changes)))
    return Saved(plan, created=False, changed=tuple(changes))


def create_bundle(session: Session, data: BundleIn, *, actor: Actor, now: datetime) -> Bundle:
    if bundle_by_code(session, data.code) is not None:
        raise Conflict(f"a bundle with code {data.code} already exists")
    bundle = Bundle(
        code=data.code,
        name=data.name,
        lifestyle=data.lifestyle,
        description=data.description,
        monthly_price=data.monthly_price,
    )
    session.add(bundle)
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="bundle.created",
        entity_type="bundle",
        entity_id=bundle.id,
        code=bundle.code,
        lifestyle=bundle.lifestyle,
    )
    publish(session, BundleCreated(bundle.id, bundle.code))
    return bundle


# Subscribers -------------------------------------------------------------------------------

_NEW_SUBSCRIBER_DEFAULTS: dict[str, Any] = {
    "phone": "",
    "address": "",
    "city": "",
    "postcode": "",
    "preferred_channel": "email",
    "consent_email": True,
    "consent_sms": False,
    "consent_marketing": False,
}
_CONSENTS = ("consent_email", "consent_sms", "consent_marketing")


def _lifecycle_dates(
    activated_at: datetime | None, churned_at: datetime | None, status: str, now: datetime
) -> dict[str, Any]:
    """Activation and churn dates that follow the status."""
    dates: dict[str, Any] = {}
    if status in ("active", "suspended") and activated_at is None:
        dates["activated_at"] = now
    if status == "churned":
        if churned_at is None:
            dates["churned_at"] = now
    elif churned_at is not None:
        dates["churned_at"] = None  # back from churn
    return dates


def upsert_subscriber(
    session: Session,
    data: SubscriberIn,
    *,
    actor: Actor,
    now: datetime,
    known: Known | None = None,
    audit: bool = True,
) -> Saved[Subscriber]:
    """Create the subscriber ``data.account_number`` or bring it in line with ``data``.

    Status and journey stage move together (checked by :class:`SubscriberIn`); the first move to
    active (or suspended) sets ``activated_at``, churn sets ``churned_at`` and leaving churn
    clears it. A change of consent sets ``consent_updated_at``.
    """
    plan: Plan | None = None
    if data.plan_code is not None:
        plan = plan_by_code(session, data.plan_code, known)
        if plan is None:
            raise ValidationFailed(
                "unknown plan",
                [FieldError("plan_code", f"no plan with code {shown(data.plan_code)}")],
            )
    values: dict[str, Any] = {
        "name": data.name,
        "email": data.email,
        "plan_id": plan.id if plan else None,
        "status": data.status,
        "journey_stage": data.journey_stage,
        **given(
            phone=data.phone,
            address=data.address,
            city=data.city,
            postcode=data.postcode,
            preferred_channel=data.preferred_channel,
            consent_email=data.consent_email,
            consent_sms=data.consent_sms,
            consent_marketing=data.consent_marketing,
        ),
    }
    sub = subscriber_by_account(session, data.account_number, known)
    if sub is None:
        return _create_subscriber(
            session,
            data.account_number,
            values,
            plan,
            actor=actor,
            now=now,
            known=known,
            audit=audit,
        )
    old_status, old_stage, old_plan_id = sub.status, sub.journey_stage, sub.plan_id
    changes = apply(sub, values)
    if any(c in changes for c in _CONSENTS):
        sub.consent_updated_at = now
    if changes:
        changes.update(
            apply(sub, _lifecycle_dates(sub.activated_at, sub.churned_at, data.status, now))
        )
        sub.updated_at = now
        if "plan_id" in changes:
            sub.plan = plan
        if audit:
            record(
                session,
                at=now,
                actor=actor,
                action="subscriber.updated",
                entity_type="subscriber",
                entity_id=sub.id,
                changed=changes,
            )
        publish(session, SubscriberUpdated(sub.id, tuple(changes)))
        if "status" in changes or "journey_stage" in changes:
            publish(
                session,
                SubscriberStatusChanged(
                    sub.id, old_status, sub.status, old_stage, sub.journey_stage
                ),
            )
        if "plan_id" in changes:
            publish(session, SubscriberPlanChanged(sub.id, old_plan_id, sub.plan_id))
    return Saved(sub, created=False, changed=tuple(changes))


def _create_subscriber(
    session: Session,
    account_number: str,
    values: dict[str, Any],
    plan: Plan | None,
    *,
    actor: Actor,
    now: datetime,
    known: Known | None,
    audit: bool,
) -> Saved[Subscriber]:
    status, stage = values["status"], values["journey_stage"]
    sub = Subscriber(
        account_number=account_number,
        **{**_NEW_SUBSCRIBER_DEFAULTS, **values},
        **_lifecycle_dates(None, None, status, now),
        consent_updated_at=now,
        created_at=now,
        updated_at=now,
    )
    sub.bundles = []
    sub.plan = plan
    session.add(sub)
    if known is not None:
        known.subscribers[account_number] = sub
    if audit:
        session.flush()
        record(
            session,
            at=now,
            actor=actor,
            action="subscriber.created",
            entity_type="subscriber",
            entity_id=sub.id,
            account_number=account_number,
            status=status,
            journey_stage=stage,
        )
    plan_id = plan.id if plan else None
    publish_when_flushed(session, lambda: SubscriberCreated(sub.id, status, stage, plan_id))
    return Saved(sub, created=True)


def subscriber_row(session: Session, subscriber: Subscriber | int) -> Subscriber:
    """The subscriber itself, given it or its id (:class:`NotFound` for an unknown id)."""
    if isinstance(subscriber, Subscriber):
        return subscriber
    sub = session.get(Subscriber, subscriber)
    if sub is None:
        raise NotFound(f"no subscriber {subscriber}")
    return sub


def set_subscriber_bundles(
    session: Session,
    subscriber: Subscriber | int,
    data: BundleSelection,
    *,
    actor: Actor,
    now: datetime,
    known: Known | None = None,
    audit: bool = True,
) -> Saved[Subscriber]:
    """Give the subscriber exactly the bundles ``data.codes`` (adding and removing)."""
    sub = subscriber_row(session, subscriber)
    wanted: list[Bundle] = []
    unknown: list[str] = []
    for code in data.codes:
        bundle = bundle_by_code(session, code, known)
        if bundle is None:
            unknown.append(code)
        else:
            wanted.append(bundle)
    if unknown:
        raise ValidationFailed(
            "unknown bundle",
            [FieldError("bundles", f"no bundle with code {', '.join(map(shown, unknown))}")],
        )
    current = {b.code for b in sub.bundles}
    codes = set(data.codes)
    added, removed = tuple(sorted(codes - current)), tuple(sorted(current - codes))
    if not added and not removed:
        return Saved(sub, created=False)
    sub.bundles = sorted(wanted, key=lambda b: b.name)
    sub.updated_at = now
    if audit:
        session.flush()
        record(
            session,
            at=now,
            actor=actor,
            action="subscriber.bundles_set",
            entity_type="subscriber",
            entity_id=sub.id,
            added=list(added),
            removed=list(removed),
        )
    publish_when_flushed(session, lambda: SubscriberBundlesChanged(sub.id, added, removed))
    return Saved(sub, created=False, changed=("bundles",))


def set_consent(
    session: Session,
    subscriber_id: int,
    *,
    actor: Actor,
    now: datetime,
    email: bool | None = None,
    sms: bool | None = None,
    marketing: bool | None = None,
) -> bool:
    """Change only the given consents (an SMS STOP, a portal preference) and stamp
    ``consent_updated_at``; the rest of the subscriber is left as stored. Returns whether
    anything changed."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise NotFound(f"no subscriber {subscriber_id}")
    changes = {
        name: value
        for name, value in (
            ("consent_email", email),
            ("consent_sms", sms),
            ("consent_marketing", marketing),
        )
        if value is not None and getattr(subscriber, name) != value
    }
    if not changes:
        return False
    for name, value in changes.items():
        setattr(subscriber, name, value)
    subscriber.consent_updated_at = now
    subscriber.updated_at = now
    record(
        session,
        at=now,
        actor=actor,
        action="subscriber.consent",
        entity_type="subscriber",
        entity_id=subscriber.id,
        **changes,
    )
    return True
