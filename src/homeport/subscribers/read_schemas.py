"""Pydantic output models for reading subscribers, plans and bundles (the JSON API)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from homeport.subscribers.models import Subscriber


class PlanRefOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str


class PlanOut(PlanRefOut):
    down_mbps: int = Field(description="Advertised download speed, Mbit/s")
    up_mbps: int = Field(description="Advertised upload speed, Mbit/s")
    monthly_price: Decimal = Field(description="Price per month, in `currency`")
    currency: str
    is_active: bool


class PlanWithCountOut(PlanOut):
    subscriber_count: int = Field(description="Subscribers on this plan (any status)")


class BundleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    lifestyle: str
    description: str
    monthly_price: Decimal


class ConsentOut(BaseModel):
    email: bool
    sms: bool
    marketing: bool
    updated_at: datetime | None


class SubscriberOut(BaseModel):
    """A subscriber's account, contact details and consent, with the plan."""

    id: int
    account_number: str
    name: str
    email: str
    phone: str
    address: str
    city: str
    postcode: str
    status: str
    journey_stage: str
    preferred_channel: str
    consent: ConsentOut
    plan: PlanOut | None
    activated_at: datetime | None
    churned_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, sub: Subscriber) -> SubscriberOut:
        return cls(
            id=sub.id,
            account_number=sub.account_number,
            name=sub.name,
            email=sub.email,
            phone=sub.phone,
            address=sub.address,
            city=sub.city,
            postcode=sub.postcode,
            status=sub.status,
            journey_stage=sub.journey_stage,
            preferred_channel=sub.preferred_channel,
            consent=ConsentOut(
                email=sub.consent_email,
                sms=sub.consent_sms,
                marketing=sub.consent_marketing,
                updated_at=sub.consent_updated_at,
            ),
            plan=PlanOut.model_validate(sub.plan) if sub.plan else None,
            activated_at=sub.activated_at,
            churned_at=sub.churned_at,
            created_at=sub.created_at,
            updated_at=sub.updated_at,
        )
