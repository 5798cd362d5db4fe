"""Staff pages of the health domain: the fleet health dashboard, the findings list, the outage
list and one outage; and the remote-action form of the subscriber page."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from homeport.core.errors import Conflict, ValidationFailed
from homeport.health import remote, service
from homeport.health import score as scoring
from homeport.health.api import silent_after
from homeport.identity.api import Access
from homeport.identity.schemas import Principal
from homeport.web import charts
from homeport.web.templating import flash, render

router = APIRouter(include_in_schema=False)

#: Staff who may queue a remote action from the subscriber page: every role that talks to
#: subscribers or runs the network.
REMOTE_ACTION_ROLES = ("agent", "technician", "noc", "supervisor", "admin")
#: The actions the subscriber page offers (no parameters; the others are policy-driven or need
#: a choice the page does not offer yet).
PAGE_ACTIONS = {"reboot": "Restart the gateway", "speed_test": "Run a speed test"}
#: The dashboard reloads its figures this often (seconds).
REFRESH_S = 30

SEVERITY_TONES = {"critical": "bad", "warning": "warn", "info": ""}
BAND_TONES = {"poor": "bad", "average": "warn", "excellent": "ok"}
ACTION_TONES = {
    "queued": "",
    "sent": "",
    "done": "ok",
    "failed": "bad",
    "unsupported": "warn",
    "cancelled": "",
}


def _words(value: str | None) -> str:
    if not value:
        return "—"
    text = value.replace("_", " ")
    return text[:1].upper() + text[1:]


UNITS = {"dbm": "dBm", "pct": "%", "ms": "ms", "mbps": "Mbps", "s": "s", "db": "dB"}
ACRONYMS = {"rssi": "RSSI", "cpu": "CPU", "wan": "WAN", "mac": "MAC", "phy": "PHY"}


def evidence_label(key: str) -> str:
    """An evidence key as words with its unit: "rssi_dbm" → "RSSI (dBm)"."""
    parts = key.split("_")
    unit = UNITS.get(parts[-1]) if len(parts) > 1 else None
    if unit:
        parts = parts[:-1]
    text = " ".join(ACRONYMS.get(p, p) for p in parts)
    text = text[:1].upper() + text[1:]
    return f"{text} ({unit})" if unit else text


def evidence_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{round(value, 2):g}"
    if isinstance(value, list | tuple):
        return ", ".join(evidence_value(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{_words(str(k))}: {evidence_value(v)}" for k, v in value.items())
    return str(value)


def requester(requested_by: str) -> str:
    """Who asked for a remote action, in words."""
    kind, _, rest = requested_by.partition(":")
    if kind == "policy":
        return f"auto-fix policy ({service.finding_title(rest)})"
    if kind == "staff":
        return f"staff member #{rest}"
    if kind == "subscriber":
        return "the subscriber (self-service)"
    return requested_by


def remediation_label(value: str) -> str:
    return {
        "attempted": "Auto-fix attempted",
        "fixed": "Auto-fixed",
        "failed": "Auto-fix failed",
        "not_allowed": "Auto-fix refused",
    }.get(value, "")


HELPERS: dict[str, Any] = {
    "severity_tone": lambda s: SEVERITY_TONES.get(s, ""),
    "band_tone": lambda b: BAND_TONES.get(b, ""),
    "action_tone": lambda s: ACTION_TONES.get(s, ""),
    "finding_title": service.finding_title,
    "evidence_items": service.evidence_items,
    "evidence_value": evidence_value,
    "evidence_label": evidence_label,
    "requester": requester,
    "remediation_label": remediation_label,
    "hwords": _words,
    "band_of": scoring.band,
}


def _local_range(request: Request, since: datetime, until: datetime) -> str:
    zone = request.app.state.settings.zone
    a, b = since.astimezone(zone), until.astimezone(zone)
    return f"{a:%d %b %H:%M} to {b:%d %b %H:%M}"


def history_chart(
    request: Request, experience: service.Experience, subject: str = "Experience score"
) -> Markup:
    zone = request.app.state.settings.zone
    points = experience.points
    days = round((experience.now - experience.since) / timedelta(days=1))
    latest = experience.latest
    if points and latest is not None:
        low = min(points, key=lambda p: p.score)
        window = _local_range(request, experience.since, experience.now)
        summary = (
            f"{subject}, hourly, last {days} days ({window}, {zone.key} time): "
            f"{len(points)} hours scored, latest "
            f"{latest.score:.0f} ({latest.band}), lowest {low[1]:.0f} on "
            f"{low[0].astimezone(zone):%a %d %b at %H:%M}, range 0 to 100."
        )
    else:
        summary = f"{subject}, last {days} days: no scores yet."
    return charts.score_history(
        points, since=experience.since, until=experience.now, zone=zone, label=summary
    )


def daily_table(request: Request, experience: service.Experience) -> list[dict[str, Any]]:
    """The history as one row per local day: lowest, mean and highest hourly score."""
    zone = request.app.state.settings.zone
    days: dict[str, list[float]] = {}
    for h in experience.points:
        days.setdefault(h.period_start.astimezone(zone).strftime("%a %d %b"), []).append(h.score)
    return [
        {
            "day": day,
            "hours": len(v),
            "low": min(v),
            "mean": sum(v) / len(v),
            "high": max(v),
        }
        for day, v in days.items()
    ]


@router.get("/health", dependencies=[Depends(Access.staff(page=True))])
def fleet_health(request: Request) -> Response:
    now = request.app.state.clock.now()
    with request.app.state.db.session() as session:
        summary = service.fleet_summary(session, now=now, silent_after=silent_after(request))
    zone = request.app.state.settings.zone
    severities = ("critical", "warning", "info")
    buckets = [(b.label, b.homes, b.band) for b in summary.buckets]
    distribution = summary.scored_homes and charts.score_distribution(
        buckets,
        label=(
            f"Current experience scores of {summary.scored_homes} homes, in bands of ten points: "
            + "; ".join(f"{label}: {n}" for label, n, _ in buckets)
            + "."
        ),
    )
    by_kind = charts.findings_by_kind(
        [(k.title, k.by_severity) for k in summary.findings_by_kind],
        severities=severities,
        label=(
            f"Open findings by detector ({summary.open_findings} in all): "
            + "; ".join(f"{k.title}: {k.total}" for k in summary.findings_by_kind)
            + "."
            if summary.findings_by_kind
            else "No open findings."
        ),
    )
    since = now - service.TREND_WINDOW
    trend_points = [(t.period_start, t.mean) for t in summary.trend]
    if trend_points:
        low = min(trend_points, key=lambda p: p[1])
        trend_label = (
            f"Fleet mean experience score per hour, last 24 hours ({zone.key} time): latest "
            f"{trend_points[-1][1]:.0f}, lowest {low[1]:.0f} at "
            f"{low[0].astimezone(zone):%H:%M}, range 0 to 100."
        )
    else:
        trend_label = "Fleet mean experience score per hour, last 24 hours: no scores yet."
    trend = charts.fleet_trend(trend_points, since=since, until=now, zone=zone, label=trend_label)
    return render(
        request,
        "health/fleet.html",
        nav="health",
        s=summary,
        severities=severities,
        distribution=distribution,
        by_kind=by_kind,
        trend=trend,
        refresh_s=REFRESH_S,
        **HELPERS,
    )


@router.get("/health/findings", dependencies=[Depends(Access.staff(page=True))])
def findings_page(request: Request) -> Response:
    f = service.FindingFilter.from_params(request.query_params)
    canonical = f.params()
    if dict(request.query_params) != canonical:
        # A GET form sends every field, empty ones too: answer with the short, shareable URL.
        query = urlencode(canonical)
        return RedirectResponse(
            "/health/findings" + (f"?{query}" if query else ""), status_code=303
        )
    with request.app.state.db.session() as session:
        result = service.list_findings(session, f)
        facets = service.finding_facets(session)

    def url(**changes: object) -> str:
        query = urlencode(f.params(**changes))
        return "/health/findings" + (f"?{query}" if query else "")

    return render(
        request,
        "health/findings.html",
        nav="findings",
        f=f,
        result=result,
        facets=facets,
        region_names=dict(facets.regions),
        url=url,
        **HELPERS,
    )


@router.get("/health/outages", dependencies=[Depends(Access.staff(page=True))])
def outages_page(request: Request) -> Response:
    params = request.query_params
    status = (params.get("status") or "").strip() or None
    try:
        page = int((params.get("page") or "1").strip() or "1")
    except ValueError as exc:
        raise ValidationFailed("invalid page", []) from exc
    with request.app.state.db.session() as session:
        result = service.list_outages(session, status=status, page=page)

    def url(**changes: object) -> str:
        values = {"status": status, "page": page if page != 1 else None, **changes}
        query = urlencode({k: v for k, v in values.items() if v not in (None, "", 1)})
        return "/health/outages" + (f"?{query}" if query else "")

    return render(
        request,
        "health/outages.html",
        nav="outages",
        status=status,
        result=result,
        url=url,
        **HELPERS,
    )


@router.get("/health/outages/{outage_id:int}", dependencies=[Depends(Access.staff(page=True))])
def outage_page(request: Request, outage_id: int) -> Response:
    with request.app.state.db.session() as session:
        detail = service.get_outage(session, outage_id)
    return render(
        request, "health/outage.html", nav="outages", d=detail, o=detail.outage, **HELPERS
    )


@router.post(
    "/subscribers/{subscriber_id:int}/actions",
    dependencies=[Depends(Access.staff(*REMOTE_ACTION_ROLES, page=True))],
)
async def queue_remote_action(
    request: Request, subscriber_id: int, kind: Annotated[str, Form(max_length=20)]
) -> Response:
    """Queue a reboot or a speed test for the subscriber's gateway (rate limits apply), then
    back to the subscriber page with the outcome."""
    principal: Principal = request.state.principal
    back = f"/subscribers/{subscriber_id}#experience"
    if kind not in PAGE_ACTIONS:
        raise ValidationFailed("unknown action", [])

    def queue() -> int:
        with request.app.state.db.transaction() as session:
            home_id, device_id = service.subscriber_gateway(session, subscriber_id)
            action = remote.queue_action(
                session,
                home_id=home_id,
                device_id=device_id,
                kind=kind,
                params={},
                requested_by=f"staff:{principal.id}",
                finding_id=None,
                now=request.app.state.clock.now(),
            )
            return action.id

    try:
        await run_in_threadpool(queue)
    except Conflict as exc:
        flash(request, "warn", f"Not queued: {exc.message}.")
        return RedirectResponse(back, status_code=303)
    flash(
        request,
        "ok",
        f"{PAGE_ACTIONS[kind]}: queued. The gateway receives it at its next contact.",
    )
    return RedirectResponse(back, status_code=303)
