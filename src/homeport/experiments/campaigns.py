"""Campaigns: one message (and an optional bundle offer) to the subscribers of one lifestyle
segment, by email and/or as a card in the portal, with consent and opt-out respected.

- **Who**: the active and onboarding subscribers that the segment engineer's rows
  (``subscriber_segments``) put in the campaign's segment.
- **Consent**: a subscriber gets a campaign only with ``consent_marketing``; an email also needs
  ``consent_email`` and an address. Everyone else gets a ``skipped_consent`` delivery (so the
  counts show how many were held back), and nothing is sent.
- **Email**: queued through the support domain's outbound queue (sent over SMTP by the
  worker's outbound task, retried while the relay is down); each email carries its own
  opt-out link ``/campaigns/optout/<token>`` — only the token's SHA-256 is stored. Confirming
  it (a POST: mail scanners that open links do not opt anyone out) clears the subscriber's
  marketing consent through :func:`homeport.subscribers.actions.set_consent`; a token works
  once and only for its own subscriber.
- **Portal**: a card on the portal's home (:func:`portal_messages`, template
  ``experiments/_portal_card.html``), ``shown`` once rendered, answered *Interested* or *Not
  now*.
- **Personalisation**: ``{first_name}``, ``{name}`` and ``{plan}`` in the subject and body are
  replaced by the subscriber's values (no other placeholder is accepted; the text is never
  run through ``str.format``); the portal's templates escape the result like any text, and
  line breaks are stripped from a subject.
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from homeport.experiments.assignment import assign
from homeport.experiments.models import (
    DELIVERY_CHANNELS,
    DELIVERY_STATUSES,
    Campaign,
    CampaignDelivery,
    Experiment,
)
from homeport.identity.service import hash_token
from homeport.retention.models import SEGMENTS, SubscriberSegment
from homeport.selfservice.actions import record_engagement
from homeport.subscribers.actions import set_consent
from homeport.subscribers.models import Bundle, Subscriber
from homeport.support import actions as support_actions
from homeport.support.models import OutboundMessage

PLACEHOLDERS = ("first_name", "name", "plan")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
#: Subscribers a campaign goes to (prospects, suspended and churned accounts are left out).
TARGET_STATUSES = ("active", "onboarding")
RESPONSES = ("interested", "not_now")
MAX_NAME = 120
MAX_SUBJECT = 200
MAX_BODY = 20_000
_TOKEN_BYTES = 32
#: Header linking a queued email to its delivery (kept on the outbound row, not sent).
DELIVERY_HEADER = "X-Homeport-Delivery"
OPTOUT_PATH = "/campaigns/optout/"
#: The variant of a campaign's experiment that is sent nothing: the comparison group.
HOLDOUT = "control"


def _placeholders_in(text: str) -> list[str]:
    return _PLACEHOLDER.findall(text)


def personalise(text: str, subscriber: Subscriber, *, one_line: bool = False) -> str:
    """``text`` with ``{first_name}``, ``{name}`` and ``{plan}`` filled in (unknown braces are
    left as written; :func:`create_campaign` refuses them)."""
    first = subscriber.name.split()[0] if subscriber.name.strip() else "there"
    values = {
        "first_name": first,
        "name": subscriber.name.strip() or "there",
        "plan": subscriber.plan.name if subscriber.plan else "your plan",
    }

    def fill(match: re.Match[str]) -> str:
        return values.get(match.group(1), match.group(0))

    result = _PLACEHOLDER.sub(fill, text)
    if one_line:
        result = " ".join(result.split())
    return result


def _check(
    session: Session,
    *,
    name: str,
    segment: str,
    channels: Sequence[str],
    subject: str,
    body: str,
    offer_bundle_code: str | None,
) -> list[FieldError]:
    problems: list[FieldError] = []
    if not name or len(name) > MAX_NAME:
        problems.append(FieldError("name", f"1–{MAX_NAME} characters"))
    if segment not in SEGMENTS:
        problems.append(FieldError("segment", f"one of {', '.join(SEGMENTS)}"))
    if not channels or any(c not in DELIVERY_CHANNELS for c in channels):
        problems.append(FieldError("channels", f"one or more of {', '.join(DELIVERY_CHANNELS)}"))
    if not subject or len(subject) > MAX_SUBJECT:
        problems.append(FieldError("subject", f"1–{MAX_SUBJECT} characters"))
    if not body or len(body) > MAX_BODY:
        problems.append(FieldError("body", f"1–{MAX_BODY:,} characters"))
    for field, text in (("subject", subject), ("body", body)):
        unknown = sorted({p for p in _placeholders_in(text) if p not in PLACEHOLDERS})
        if unknown:
            problems.append(
                FieldError(
                    field,
                    "unknown placeholder "
                    + ", ".join("{" + u + "}" for u in unknown)
                    + "; use "
                    + ", ".join("{" + p + "}" for p in PLACEHOLDERS),
                )
            )
    if (
        offer_bundle_code
        and session.scalar(select(Bundle.id).where(Bundle.code == offer_bundle_code)) is None
    ):
        problems.append(FieldError("offer_bundle_code", f"no bundle {offer_bundle_code!r}"))
    return problems


def create_campaign(
    session: Session,
    *,
    name: str,
    segment: str,
    channels: Sequence[str],
    subject: str,
    body: str,
    offer_bundle_code: str | None = None,
    experiment_key: str | None = None,
    actor: Actor,
    now: datetime,
) -> Campaign:
    """A draft campaign to ``segment`` through ``channels`` (``email``, ``portal``). With
    ``experiment_key``, the campaign is that experiment's treatment: at launch each eligible
    subscriber is assigned a variant, and those in :data:`HOLDOUT` get nothing (the
    comparison group)."""
    name = name.strip()
    subject = " ".join(subject.split())
    body = body.strip().replace("\r\n", "\n")
    wanted = list(dict.fromkeys(c.strip().lower() for c in channels if c.strip()))
    offer = (offer_bundle_code or "").strip() or None
    problems = _check(
        session,
        name=name,
        segment=segment,
        channels=wanted,
        subject=subject,
        body=body,
        offer_bundle_code=offer,
    )
    if problems:
        raise ValidationFailed("invalid campaign", problems)
    if session.scalar(select(Campaign.id).where(Campaign.name == name)) is not None:
        raise Conflict(f"a campaign {name!r} exists already")
    experiment = None
    if experiment_key:
        experiment = session.scalar(select(Experiment).where(Experiment.key == experiment_key))
        if experiment is None:
            raise ValidationFailed(
                "invalid campaign", [FieldError("experiment", f"no experiment {experiment_key!r}")]
            )
        if HOLDOUT not in {str(v["name"]) for v in experiment.variants}:
            raise ValidationFailed(
                "invalid campaign",
                [FieldError("experiment", f"needs a {HOLDOUT!r} variant: the group sent nothing")],
            )
    campaign = Campaign(
        name=name,
        segment=segment,
        channels=wanted,
        subject=subject,
        body=body,
        offer_bundle_code=offer,
        experiment_id=experiment.id if experiment else None,
        status="draft",
        created_at=now,
        created_by_id=actor.id if actor.kind == "staff" else None,
    )
    session.add(campaign)
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="campaign.created",
        entity_type="campaign",
        entity_id=campaign.id,
        segment=segment,
        channels=wanted,
    )
    return campaign


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}")
    return campaign


def campaign_by_name(session: Session, name: str) -> Campaign:
    campaign = session.scalar(select(Campaign).where(Campaign.name == name.strip()))
    if campaign is None:
        raise NotFound(f"no campaign {name!r}")
    return campaign


def list_campaigns(session: Session) -> list[Campaign]:
    return list(
        session.scalars(select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc()))
    )


def targets(session: Session, segment: str) -> list[Subscriber]:
    """The subscribers a campaign to ``segment`` goes to, by id."""
    return list(
        session.scalars(
            select(Subscriber)
            .join(SubscriberSegment, SubscriberSegment.subscriber_id == Subscriber.id)
            .where(
                SubscriberSegment.segment == segment,
                Subscriber.status.in_(TARGET_STATUSES),
            )
            .order_by(Subscriber.id)
        )
    )


def email_allowed(subscriber: Subscriber) -> bool:
    return bool(subscriber.consent_marketing and subscriber.consent_email and subscriber.email)


def _offer_line(bundle: Bundle | None) -> str:
    if bundle is None:
        return ""
    return f"Our offer for you: {bundle.name} ({bundle.monthly_price} a month)."


def email_text(
    campaign: Campaign,
    subscriber: Subscriber,
    *,
    bundle: Bundle | None,
    optout_url: str,
    bsp_name: str,
) -> tuple[str, str]:
    """(subject, body) of one subscriber's campaign email, with the opt-out link."""
    parts = [personalise(campaign.body, subscriber)]
    if bundle is not None:
        parts.append(_offer_line(bundle))
    parts.append(
        f"--\nYou receive this because you agreed to hear about offers from {bsp_name}.\n"
        f"To stop these emails, open: {optout_url}"
    )
    return personalise(campaign.subject, subscriber, one_line=True), "\n\n".join(parts)


@dataclass(frozen=True)
class LaunchRun:
    campaign_id: int
    #: Deliveries made, by channel and status.
    counts: dict[str, dict[str, int]]

    @property
    def total(self) -> int:
        return sum(n for by in self.counts.values() for n in by.values())


def launch(
    session: Session,
    campaign_id: int,
    *,
    actor: Actor,
    now: datetime,
    base_url: str,
    bsp_name: str,
    sender: str = "",
) -> LaunchRun:
    """Send a draft campaign: one delivery per targeted subscriber and channel. Emails are
    queued for the worker with their opt-out link; portal cards wait to be shown; subscribers
    without consent get a ``skipped_consent`` delivery and nothing else."""
    campaign = get_campaign(session, campaign_id)
    if campaign.status != "draft":
        raise Conflict(f"campaign {campaign.name!r} is {campaign.status}: only a draft launches")
    bundle = (
        session.scalar(select(Bundle).where(Bundle.code == campaign.offer_bundle_code))
        if campaign.offer_bundle_code
        else None
    )
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    domain = (sender or "").rpartition("@")[2] or "homeport.invalid"
    experiment = session.get(Experiment, campaign.experiment_id) if campaign.experiment_id else None
    if experiment is not None and experiment.status != "running":
        raise Conflict(f"experiment {experiment.key!r} is {experiment.status}: start it first")

    def allowed(subscriber: Subscriber, channel: str) -> bool:
        if channel == "email":
            return email_allowed(subscriber)
        return bool(subscriber.consent_marketing)

    for subscriber in targets(session, campaign.segment):
        variant = None
        if experiment is not None and any(allowed(subscriber, c) for c in campaign.channels):
            # Only subscribers the campaign may reach are split, so the groups compare.
            variant = assign(session, experiment, subscriber.id, now).variant
            if variant == HOLDOUT:
                counts["holdout"]["held_out"] += 1
                continue
        for channel in campaign.channels:
            delivery = CampaignDelivery(
                campaign_id=campaign.id,
                subscriber_id=subscriber.id,
                channel=channel,
                variant=variant,
                status="queued",
                created_at=now,
                response="",
            )
            allowed_here = allowed(subscriber, channel)
            if not allowed_here:
                delivery.status = "skipped_consent"
                session.add(delivery)
                counts[channel]["skipped_consent"] += 1
                continue
            token = None
            if channel == "email":
                token = secrets.token_urlsafe(_TOKEN_BYTES)
                delivery.optout_token_hash = hash_token(token)
            session.add(delivery)
            session.flush()
            if token is not None:
                subject, body = email_text(
                    campaign,
                    subscriber,
                    bundle=bundle,
                    optout_url=f"{base_url.rstrip('/')}{OPTOUT_PATH}{token}",
                    bsp_name=bsp_name,
                )
                headers: dict[str, object] = {
                    "Message-ID": make_msgid(
                        idstring=f"homeport-campaign{campaign.id}-d{delivery.id}", domain=domain
                    ),
                    DELIVERY_HEADER: str(delivery.id),
                }
                if sender:
                    headers["From"] = sender
                support_actions.queue_outbound(
                    session,
                    channel="email",
                    recipient=subscriber.email,
                    subject=subject,
                    body=body,
                    headers=headers,
                    now=now,
                )
            counts[channel]["queued"] += 1
    campaign.status = "running"
    campaign.started_at = now
    plain = {ch: dict(by) for ch, by in counts.items()}
    record(
        session,
        at=now,
        actor=actor,
        action="campaign.launched",
        entity_type="campaign",
        entity_id=campaign.id,
        deliveries=plain,
    )
    return LaunchRun(campaign.id, plain)


def finish(session: Session, campaign_id: int, *, actor: Actor, now: datetime) -> Campaign:
    """End a running campaign (its portal cards stop showing) or cancel a draft."""
    campaign = get_campaign(session, campaign_id)
    if campaign.status == "running":
        campaign.status = "done"
    elif campaign.status == "draft":
        campaign.status = "cancelled"
    else:
        raise Conflict(f"campaign {campaign.name!r} is {campaign.status} already")
    campaign.finished_at = now
    record(
        session,
        at=now,
        actor=actor,
        action=f"campaign.{campaign.status}",
        entity_type="campaign",
        entity_id=campaign.id,
    )
    return campaign


def refresh_email_statuses(session: Session, campaign: Campaign) -> int:
    """Bring queued email deliveries up to date with the outbound queue (``sent`` once the
    relay took it, ``failed`` once the worker gave up). Returns how many changed."""
    if campaign.started_at is None or "email" not in campaign.channels:
        return 0
    queued = {
        d.id: d
        for d in session.scalars(
            select(CampaignDelivery).where(
                CampaignDelivery.campaign_id == campaign.id,
                CampaignDelivery.channel == "email",
                CampaignDelivery.status == "queued",
            )
        )
    }
    if not queued:
        return 0
    changed = 0
    messages = session.scalars(
        select(OutboundMessage).where(
            OutboundMessage.channel == "email",
            OutboundMessage.created_at == campaign.started_at,
            OutboundMessage.status != "queued",
        )
    )
    for message in messages:
        ref = (message.headers or {}).get(DELIVERY_HEADER)
        delivery = queued.get(int(ref)) if isinstance(ref, str) and ref.isdigit() else None
        if delivery is None:
            continue
        delivery.status = "sent" if message.status == "sent" else "failed"
        delivery.sent_at = message.sent_at
        changed += 1
    return changed


def delivery_counts(session: Session, campaign_id: int) -> dict[str, dict[str, int]]:
    """Deliveries by status and channel, plus the portal's answers under ``response:*``."""
    counts: dict[str, dict[str, int]] = {s: {} for s in DELIVERY_STATUSES}
    rows = session.execute(
        select(CampaignDelivery.status, CampaignDelivery.channel, CampaignDelivery.response).where(
            CampaignDelivery.campaign_id == campaign_id
        )
    )
    for status, channel, response in rows:
        counts[status][channel] = counts[status].get(channel, 0) + 1
        if response:
            key = f"response:{response}"
            counts.setdefault(key, {})
            counts[key][channel] = counts[key].get(channel, 0) + 1
    return counts


# --- The portal -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PortalMessage:
    delivery_id: int
    campaign_id: int
    subject: str
    body: str
    offer: str
    shown: bool
    response: str


def _portal_rows(session: Session, subscriber_id: int) -> list[tuple[CampaignDelivery, Campaign]]:
    rows = session.execute(
        select(CampaignDelivery, Campaign)
        .join(Campaign, Campaign.id == CampaignDelivery.campaign_id)
        .where(
            CampaignDelivery.subscriber_id == subscriber_id,
            CampaignDelivery.channel == "portal",
            CampaignDelivery.status.in_(("queued", "shown")),
            Campaign.status == "running",
        )
        .order_by(Campaign.started_at.desc(), CampaignDelivery.id.desc())
    ).all()
    return [(d, c) for d, c in rows]


def portal_messages(session: Session, subscriber_id: int) -> list[PortalMessage]:
    """The running campaigns' cards for the subscriber's portal home, newest first; nothing
    once they withdrew marketing consent, and nothing they already answered."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or not subscriber.consent_marketing:
        return []
    messages = []
    for delivery, campaign in _portal_rows(session, subscriber_id):
        if delivery.response:
            continue
        bundle = (
            session.scalar(select(Bundle).where(Bundle.code == campaign.offer_bundle_code))
            if campaign.offer_bundle_code
            else None
        )
        messages.append(
            PortalMessage(
                delivery_id=delivery.id,
                campaign_id=campaign.id,
                subject=personalise(campaign.subject, subscriber, one_line=True),
                body=personalise(campaign.body, subscriber),
                offer=_offer_line(bundle),
                shown=delivery.status == "shown",
                response=delivery.response,
            )
        )
    return messages


def _own_portal_delivery(
    session: Session, subscriber_id: int, delivery_id: int
) -> tuple[CampaignDelivery, Campaign]:
    delivery = session.get(CampaignDelivery, delivery_id)
    if delivery is None or delivery.subscriber_id != subscriber_id or delivery.channel != "portal":
        raise NotFound(f"no message {delivery_id}")
    return delivery, get_campaign(session, delivery.campaign_id)


def mark_shown(session: Session, subscriber_id: int, delivery_id: int, now: datetime) -> bool:
    """The card was rendered to the subscriber: ``queued → shown`` (the first time only)."""
    delivery, _ = _own_portal_delivery(session, subscriber_id, delivery_id)
    if delivery.status != "queued":
        return False
    delivery.status = "shown"
    delivery.sent_at = now
    return True


def respond(
    session: Session, subscriber_id: int, delivery_id: int, response: str, now: datetime
) -> CampaignDelivery:
    """The subscriber's answer to a portal card (``interested`` or ``not_now``), once."""
    if response not in RESPONSES:
        raise ValidationFailed(
            "invalid answer", [FieldError("response", f"one of {', '.join(RESPONSES)}")]
        )
    delivery, campaign = _own_portal_delivery(session, subscriber_id, delivery_id)
    if delivery.status not in ("queued", "shown") or campaign.status != "running":
        raise Conflict("this message is no longer open")
    if delivery.response:
        raise Conflict("you answered this message already")
    delivery.response = response
    delivery.responded_at = now
    if delivery.status == "queued":
        delivery.status = "shown"
        delivery.sent_at = now
    record_engagement(
        session,
        subscriber_id,
        "campaign_response",
        at=now,
        detail={"campaign_id": campaign.id, "response": response},
    )
    record(
        session,
        at=now,
        actor=Actor("subscriber", subscriber_id, "portal"),
        action="campaign.response",
        entity_type="campaign",
        entity_id=campaign.id,
        subscriber_id=subscriber_id,
        response=response,
    )
    return delivery


# --- Opt-out ----------------------------------------------------------------------------------


def optout_delivery(session: Session, token: str) -> CampaignDelivery | None:
    """The email delivery an opt-out token belongs to, if it was not used yet."""
    if not token or len(token) > 200:
        return None
    delivery = session.scalar(
        select(CampaignDelivery).where(CampaignDelivery.optout_token_hash == hash_token(token))
    )
    if delivery is None or delivery.status == "opted_out":
        return None
    return delivery


def redeem_optout(session: Session, token: str, now: datetime) -> int | None:
    """Use an opt-out token: the subscriber's marketing consent is cleared (audited as theirs)
    and the token is spent. Returns the subscriber's id, or ``None`` for a wrong or used
    token."""
    delivery = optout_delivery(session, token)
    if delivery is None:
        return None
    set_consent(
        session,
        delivery.subscriber_id,
        actor=Actor("subscriber", delivery.subscriber_id, "campaign opt-out link"),
        now=now,
        marketing=False,
    )
    delivery.status = "opted_out"
    delivery.response = "opted_out"
    delivery.responded_at = now
    record(
        session,
        at=now,
        actor=Actor("subscriber", delivery.subscriber_id, "campaign opt-out link"),
        action="campaign.opted_out",
        entity_type="campaign",
        entity_id=delivery.campaign_id,
        subscriber_id=delivery.subscriber_id,
    )
    return delivery.subscriber_id
