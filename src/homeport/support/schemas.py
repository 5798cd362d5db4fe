"""Pydantic shapes of the cases API (``/api/v1/cases``): what an integration sends and reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from homeport.support.models import (
    AUTHORS,
    CASE_STATUSES,
    CHANNELS,
    DIRECTIONS,
    OUTCOMES,
    PRIORITIES,
    Case,
    Interaction,
)


def _one_of(values: tuple[str, ...]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in values:
            raise ValueError(f"one of {', '.join(values)}")
        return value

    return check


def _enum(values: tuple[str, ...]) -> Any:
    return WithJsonSchema({"type": "string", "enum": list(values)})


Channel = Annotated[str, AfterValidator(_one_of(CHANNELS)), _enum(CHANNELS)]
Direction = Annotated[str, AfterValidator(_one_of(DIRECTIONS)), _enum(DIRECTIONS)]
Author = Annotated[str, AfterValidator(_one_of(AUTHORS)), _enum(AUTHORS)]
Priority = Annotated[str, AfterValidator(_one_of(PRIORITIES)), _enum(PRIORITIES)]
Status = Annotated[str, AfterValidator(_one_of(CASE_STATUSES)), _enum(CASE_STATUSES)]
Outcome = Annotated[str, AfterValidator(_one_of(OUTCOMES)), _enum(OUTCOMES)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class InteractionIn(_In):
    """One contact on a case: a message received or sent in a channel, or a call logged."""

    channel: Channel
    direction: Direction = "inbound"
    author_kind: Author = "subscriber"
    body: str = Field("", max_length=200_000)
    subject: str = Field("", max_length=300)
    address: str = Field("", max_length=254, description="E-mail address, phone number …")
    external_id: str | None = Field(
        None,
        min_length=1,
        max_length=300,
        description="The channel's own id of the message: sending it twice stores it once",
    )
    started_at: datetime | None = None
    ended_at: datetime | None = None
    handle_time_s: int | None = Field(None, ge=0, le=7 * 24 * 3600)


class CaseIn(_In):
    """A case opened by an integration, with its first interaction."""

    channel: Channel
    subject: str = Field(min_length=1, max_length=200)
    subscriber_id: int | None = Field(None, ge=1, le=2**31 - 1)
    contact: str = Field(
        "", max_length=254, description="How to reach an unknown sender (no subscriber_id)"
    )
    category: str = Field("general", min_length=1, max_length=40)
    priority: Priority = "normal"
    description: str = Field("", max_length=20_000)
    first: InteractionIn | None = None


class StatusIn(_In):
    status: Status
    outcome: Outcome | None = Field(None, description="Required when solving")
    notes: str | None = Field(None, max_length=20_000, description="Resolution notes")


class AttachmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    content_type: str
    size: int
    sha256: str


class InteractionOut(BaseModel):
    id: int
    case_id: int
    channel: str
    direction: str
    author_kind: str
    author_id: int | None
    address: str
    subject: str
    body: str
    has_html: bool
    external_id: str | None
    started_at: datetime
    ended_at: datetime | None
    handle_time_s: int | None
    attachments: list[AttachmentOut] = []

    @classmethod
    def of(cls, i: Interaction, attachments: list[AttachmentOut] | None = None) -> InteractionOut:
        return cls(
            id=i.id,
            case_id=i.case_id,
            channel=i.channel,
            direction=i.direction,
            author_kind=i.author_kind,
            author_id=i.author_id,
            address=i.address,
            subject=i.subject,
            body=i.body,
            has_html=bool(i.body_html),
            external_id=i.external_id,
            started_at=i.started_at,
            ended_at=i.ended_at,
            handle_time_s=i.handle_time_s,
            attachments=attachments or [],
        )


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    subscriber_id: int | None
    contact: str
    origin: str
    channel: str
    category: str
    priority: str
    status: str
    subject: str
    queue_id: int | None
    team_id: int | None
    assignee_id: int | None
    outcome: str | None
    resolution_notes: str
    merged_into_id: int | None
    finding_id: int | None
    outage_id: int | None
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    first_response_at: datetime | None
    sla_paused_at: datetime | None
    sla_breached_at: datetime | None
    opened_at: datetime
    updated_at: datetime
    solved_at: datetime | None
    closed_at: datetime | None


class CaseDetailOut(CaseOut):
    description: str
    tags: list[str]
    interactions: list[InteractionOut]

    @classmethod
    def of(cls, case: Case, tags: list[str], interactions: list[InteractionOut]) -> CaseDetailOut:
        base = CaseOut.model_validate(case).model_dump()
        return cls(**base, description=case.description, tags=tags, interactions=interactions)


class CasePageOut(BaseModel):
    items: list[CaseOut]
    #: Pass as ``before_id`` for the next page; None on the last page.
    next_before_id: int | None


class InteractionAddedOut(BaseModel):
    interaction: InteractionOut
    #: False when the channel had delivered this message before (same external_id).
    created: bool


class HistoryEntryOut(BaseModel):
    """One entry of a case's audit trail."""

    at: datetime
    actor_kind: str
    actor_id: int | None
    action: str
    detail: dict[str, Any]
