"""Pydantic output models of the health read API (fleet summary, findings, outages, a home's
experience). Times are UTC (ISO 8601 with offset)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from homeport.health import service
from homeport.health.models import DeviceAction, Finding


class PagingOut(BaseModel):
    total: int = Field(description="Rows matching the filters, on every page")
    page: int
    per_page: int
    pages: int

    @classmethod
    def of(cls, p: service.Paging) -> PagingOut:
        return cls(total=p.total, page=p.page, per_page=p.per_page, pages=p.pages)


class SubScoreOut(BaseModel):
    key: str = Field(description="wan_service, wan_continuity, wifi_coverage, ...")
    label: str
    value: float = Field(ge=0, le=100)
    weight: float


class ScoreOut(BaseModel):
    period_start: datetime = Field(description="Start of the hour this score covers (UTC)")
    score: float = Field(ge=0, le=100)
    band: str = Field(description="excellent (≥ 81), average (51–80) or poor (≤ 50)")
    stars: int = Field(ge=1, le=5)
    subscores: list[SubScoreOut]
    explanation: str = Field(description="What pulled the score down, in one sentence")
    weakest: str = Field(description="The weakest sub-score")
    capped: bool = Field(description="The score was capped at the weakest sub-score + 20")
    samples: int = Field(description="Reports averaged into this hour")
    reasons: list[tuple[str, int]] = Field(
        description="The weakest sub-score's most frequent reasons, with how many reports"
    )

    @classmethod
    def of(cls, v: service.ScoreView) -> ScoreOut:
        return cls(
            period_start=v.period_start,
            score=v.score,
            band=v.band,
            stars=v.stars,
            subscores=[
                SubScoreOut(key=s.key, label=s.label, value=s.value, weight=s.weight)
                for s in v.subscores
            ],
            explanation=v.text,
            weakest=v.weakest,
            capped=v.capped,
            samples=v.samples,
            reasons=v.reasons,
        )


class HistoryPointOut(BaseModel):
    period_start: datetime
    score: float
    subscores: dict[str, float]


class FindingOut(BaseModel):
    id: int
    home_id: int
    kind: str = Field(description="The detector (docs/detectors.md)")
    title: str
    subject: str = Field(description="'' for the home, else a client MAC, mesh node or band")
    severity: str
    status: str
    summary: str
    first_seen_at: datetime
    opened_at: datetime | None
    last_seen_at: datetime
    resolved_at: datetime | None
    outage_id: int | None
    remediation: str
    evidence: dict[str, Any]

    @classmethod
    def of(cls, f: Finding) -> FindingOut:
        return cls(
            id=f.id,
            home_id=f.home_id,
            kind=f.kind,
            title=service.finding_title(f.kind),
            subject=f.subject,
            severity=f.severity,
            status=f.status,
            summary=f.summary,
            first_seen_at=f.first_seen_at,
            opened_at=f.opened_at,
            last_seen_at=f.last_seen_at,
            resolved_at=f.resolved_at,
            outage_id=f.outage_id,
            remediation=f.remediation,
            evidence=dict(service.evidence_items(f)),
        )


class SubscriberRefOut(BaseModel):
    id: int
    name: str
    account_number: str


class RegionRefOut(BaseModel):
    id: int
    name: str


class FindingRowOut(FindingOut):
    subscriber: SubscriberRefOut
    region: RegionRefOut | None

    @classmethod
    def of_row(cls, r: service.FindingRow) -> FindingRowOut:
        return cls(
            **FindingOut.of(r.finding).model_dump(),
            subscriber=SubscriberRefOut(
                id=r.subscriber_id, name=r.subscriber_name, account_number=r.account_number
            ),
            region=(
                RegionRefOut(id=r.region_id, name=r.region_name or "")
                if r.region_id is not None
                else None
            ),
        )


class FindingPageOut(PagingOut):
    items: list[FindingRowOut]

    @classmethod
    def of_page(cls, p: service.FindingPage) -> FindingPageOut:
        return cls(
            **PagingOut.of(p.paging).model_dump(),
            items=[FindingRowOut.of_row(r) for r in p.rows],
        )


class ActionOut(BaseModel):
    id: int
    kind: str
    params: dict[str, Any]
    status: str = Field(description="queued, sent, done, failed, unsupported or cancelled")
    requested_by: str
    finding_id: int | None
    created_at: datetime
    sent_at: datetime | None
    completed_at: datetime | None
    result: dict[str, Any]

    @classmethod
    def of(cls, a: DeviceAction) -> ActionOut:
        return cls(
            id=a.id,
            kind=a.kind,
            params=a.params or {},
            status=a.status,
            requested_by=a.requested_by,
            finding_id=a.finding_id,
            created_at=a.created_at,
            sent_at=a.sent_at,
            completed_at=a.completed_at,
            result=a.result or {},
        )


class OutageOut(BaseModel):
    id: int
    scope: str = Field(description="port or access_node")
    status: str = Field(description="open or closed")
    place: str = Field(description="Region / access node / port")
    port_id: int | None
    port_name: str | None
    access_node_id: int | None
    access_node_code: str | None
    region: RegionRefOut | None
    opened_at: datetime
    closed_at: datetime | None
    eta_at: datetime | None
    homes_affected: int
    homes_recovered: int
    homes_still_down: int

    @classmethod
    def of(cls, r: service.OutageRow) -> OutageOut:
        o = r.outage
        return cls(
            id=o.id,
            scope=o.scope,
            status=o.status,
            place=r.place,
            port_id=o.port_id,
            port_name=r.port_name,
            access_node_id=o.access_node_id,
            access_node_code=r.node_code,
            region=(
                RegionRefOut(id=r.region_id, name=r.region_name or "")
                if r.region_id is not None
                else None
            ),
            opened_at=o.opened_at,
            closed_at=o.closed_at,
            eta_at=o.eta_at,
            homes_affected=o.homes_affected,
            homes_recovered=o.homes_recovered,
            homes_still_down=r.still_down,
        )


class OutagePageOut(PagingOut):
    items: list[OutageOut]

    @classmethod
    def of_page(cls, p: service.OutagePage) -> OutagePageOut:
        return cls(**PagingOut.of(p.paging).model_dump(), items=[OutageOut.of(r) for r in p.rows])


class OutageMemberOut(BaseModel):
    subscriber: SubscriberRefOut
    home_id: int
    device_id: str | None
    lost_at: datetime
    recovered_at: datetime | None


class OutageDetailOut(OutageOut):
    members: list[OutageMemberOut]

    @classmethod
    def of_detail(cls, d: service.OutageDetail) -> OutageDetailOut:
        return cls(
            **OutageOut.of(d.row).model_dump(),
            members=[
                OutageMemberOut(
                    subscriber=SubscriberRefOut(
                        id=m.subscriber_id, name=m.name, account_number=m.account_number
                    ),
                    home_id=m.home_id,
                    device_id=m.device_id,
                    lost_at=m.lost_at,
                    recovered_at=m.recovered_at,
                )
                for m in d.members
            ],
        )


class KindCountOut(BaseModel):
    kind: str
    title: str
    total: int
    homes: int
    by_severity: dict[str, int]


class BucketOut(BaseModel):
    low: float = Field(description="Lower bound (excluded, except 0)")
    high: float = Field(description="Upper bound (included)")
    homes: int


class WorstHomeOut(BaseModel):
    subscriber: SubscriberRefOut
    home_id: int
    score: float
    band: str
    period_start: datetime
    explanation: str


class TrendPointOut(BaseModel):
    period_start: datetime
    mean_score: float
    homes: int


class HomesOut(BaseModel):
    with_gateway: int
    reporting: int = Field(description="Reported within offline_after_intervals intervals")
    silent: int = Field(description="Reported before, not recently")
    never_reported: int
    offline: int = Field(description="Internet lost now (open wan_down or device_offline)")


class ScoresOut(BaseModel):
    scored_homes: int = Field(description="Homes with a score in the last two hours")
    mean: float | None
    bands: dict[str, int]
    buckets: list[BucketOut]
    worst: list[WorstHomeOut]
    trend: list[TrendPointOut] = Field(description="Fleet mean score per hour, last 24 hours")


class FleetSummaryOut(BaseModel):
    at: datetime
    homes: HomesOut
    open_findings: int
    findings_by_severity: dict[str, int]
    findings_by_kind: list[KindCountOut]
    open_outages: list[OutageOut]
    scores: ScoresOut

    @classmethod
    def of(cls, s: service.FleetSummary) -> FleetSummaryOut:
        return cls(
            at=s.at,
            homes=HomesOut(
                with_gateway=s.homes,
                reporting=s.reporting,
                silent=s.silent,
                never_reported=s.never_reported,
                offline=s.offline,
            ),
            open_findings=s.open_findings,
            findings_by_severity=s.findings_by_severity,
            findings_by_kind=[
                KindCountOut(
                    kind=k.kind,
                    title=k.title,
                    total=k.total,
                    homes=k.homes,
                    by_severity=k.by_severity,
                )
                for k in s.findings_by_kind
            ],
            open_outages=[OutageOut.of(o) for o in s.outages],
            scores=ScoresOut(
                scored_homes=s.scored_homes,
                mean=s.mean_score,
                bands=s.bands,
                buckets=[BucketOut(low=b.low, high=b.high, homes=b.homes) for b in s.buckets],
                worst=[
                    WorstHomeOut(
                        subscriber=SubscriberRefOut(
                            id=w.subscriber_id, name=w.name, account_number=w.account_number
                        ),
                        home_id=w.home_id,
                        score=w.score,
                        band=w.band,
                        period_start=w.period_start,
                        explanation=w.text,
                    )
                    for w in s.worst
                ],
                trend=[
                    TrendPointOut(period_start=t.period_start, mean_score=t.mean, homes=t.homes)
                    for t in s.trend
                ],
            ),
        )


class ExperienceOut(BaseModel):
    subscriber_id: int
    home_id: int | None = Field(description="None when the subscriber has no home on record")
    since: datetime
    current: ScoreOut | None = Field(description="The latest score if from the last two hours")
    latest: ScoreOut | None = Field(description="The latest score in the window, however old")
    history: list[HistoryPointOut] = Field(description="Hourly scores in the window, oldest first")
    open_findings: list[FindingOut]
    recent_actions: list[ActionOut]

    @classmethod
    def of(
        cls,
        subscriber_id: int,
        e: service.Experience | None,
        since: datetime,
        history: Sequence[service.ScoreView],
    ) -> ExperienceOut:
        """``history``: every hour of the window explained
        (:func:`service.explained_experience`; the experience itself holds only the points)."""
        if e is None:
            return cls(
                subscriber_id=subscriber_id,
                home_id=None,
                since=since,
                current=None,
                latest=None,
                history=[],
                open_findings=[],
                recent_actions=[],
            )
        return cls(
            subscriber_id=subscriber_id,
            home_id=e.home_id,
            since=e.since,
            current=ScoreOut.of(e.current) if e.current else None,
            latest=ScoreOut.of(e.latest) if e.latest else None,
            history=[
                HistoryPointOut(
                    period_start=h.period_start,
                    score=h.score,
                    subscores={s.key: s.value for s in h.subscores},
                )
                for h in history
            ],
            open_findings=[FindingOut.of(f) for f in e.open_findings],
            recent_actions=[ActionOut.of(a) for a in e.actions],
        )
