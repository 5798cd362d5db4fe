"""The KPI dashboards: the leadership overview (``/kpis``: the headline KPIs against their
targets with twelve periods of trend, and the targets form for supervisors and admins) and the
support, proactive, digital and satisfaction pages (``/kpis/<name>``) with their filters and
the table of a KPI per team, agent, channel, region or plan.

Thin: reads through :mod:`homeport.kpis.dashboards` (which reads
:mod:`homeport.kpis.service`), writes targets through :func:`homeport.kpis.actions.set_target`.
Any staff role reads; supervisors and admins set targets.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from homeport.audit.actions import Actor
from homeport.core.errors import FieldError, ValidationFailed
from homeport.identity.api import Access
from homeport.identity.schemas import Principal
from homeport.journey import surveys
from homeport.kpis import actions, dashboards
from homeport.kpis.dashboards import DASHBOARDS, DIMENSION_WORDS, Dashboard, Filters
from homeport.kpis.definitions import KPIS, Kpi
from homeport.kpis.service import Point, Row
from homeport.web import charts
from homeport.web.redirects import local_target
from homeport.web.templating import flash, render

router = APIRouter(include_in_schema=False)

READ = Access.staff(page=True)
#: Who may set or clear a target.
TARGET_ROLES = ("admin", "supervisor")
EDIT = Access.staff(*TARGET_ROLES, page=True)
#: Roles that may open the journey page (homeport.web.views.journey).
JOURNEY_ROLES = ("admin", "supervisor", "agent")
#: The dashboard of each KPI family (the overview's tiles link there).
FAMILY_PAGES = {
    "support": "support",
    "proactive": "proactive",
    "digital": "digital",
    "satisfaction": "satisfaction",
}
#: The dashboards' names in the page switcher.
PAGE_WORDS = {
    "overview": "Overview",
    "support": "Support",
    "proactive": "Proactive",
    "digital": "Digital",
    "satisfaction": "Satisfaction",
}
PERIOD_WORDS = {"day": "Day", "week": "Week", "month": "Month"}
KIND_WORDS = {"nps": "NPS", "csat": "CSAT", "ces": "CES"}


# --- Numbers in words -------------------------------------------------------------------------


def fmt(k: Kpi, value: float | None) -> str:
    """A KPI's value with its unit: "66.7 %", "3.5 h", "+40", "5.0", "1,429"."""
    if value is None:
        return "—"
    if k.unit == "%":
        return f"{value:.1f} %"
    if k.unit == "h":
        return f"{value:.1f} h" if value < 100 else f"{value:,.0f} h"
    if k.unit in ("min", "d"):
        return f"{value:.1f} {k.unit}"
    if k.unit == "count":
        return f"{value:,.0f}"
    if k.unit == "per 1,000":
        return f"{value:,.1f}"
    if k.name == "nps":
        return f"{value:+.0f}"
    if k.name == "ces":
        return f"{value:.1f}"
    return f"{value:.0f}"


def fmt_delta(k: Kpi, delta: float | None) -> str:
    """value − previous with a sign; percentages move by points ("+2.5 pts")."""
    if delta is None:
        return "—"
    if k.unit == "%":
        return f"{delta:+.1f} pts"
    if k.unit in ("h", "min", "d"):
        return f"{delta:+.1f} {k.unit}"
    if k.unit == "count":
        return f"{delta:+,.0f}"
    if k.name in ("ces",) or k.unit == "per 1,000":
        return f"{delta:+.1f}"
    return f"{delta:+.0f}"


def unit_words(k: Kpi) -> str:
    return {"%": "%", "h": "hours", "min": "minutes", "d": "days", "count": "cases"}.get(
        k.unit, k.unit if k.unit != "score" else "score"
    )


TONES = {"green": "ok", "red": "bad", "none": ""}
STATUS_WORDS = {"green": "On target", "red": "Off target", "none": "No target"}


def arrow(row: Row) -> dict[str, str]:
    """The delta's arrow (up, down or level) and its tone: green when the KPI moved the right
    way, red when the wrong way, grey without a comparison."""
    delta = row.delta
    symbol = "–" if not delta else ("▲" if delta > 0 else "▼")
    tone = {True: "ok", False: "bad", None: ""}[row.improved]
    meaning = {True: "better", False: "worse", None: "no change" if delta == 0 else "no comparison"}
    return {"symbol": symbol, "tone": tone, "meaning": meaning[row.improved]}


# --- Charts -----------------------------------------------------------------------------------


def trend_chart(
    k: Kpi, points: list[Point], target: float | None, period: str, zone: str, *, partial: bool
) -> Markup:
    values = [
        (dashboards.bucket_label(period, p.period_start, zone, short=True), p.measure.value)
        for p in points
    ]
    measured = [v for _, v in values if v is not None]
    on_target = sum(
        1
        for v in measured
        if target is not None and (v >= target if k.higher_is_better else v <= target)
    )
    first = dashboards.bucket_label(period, points[0].period_start, zone)
    last = dashboards.bucket_label(period, points[-1].period_start, zone)
    parts = [
        f"{k.title} per {period}, {len(points)} {period}s from {first} to {last} "
        f"({zone} time{', the last one so far' if partial else ''})"
    ]
    if measured:
        parts.append(f"latest {fmt(k, values[-1][1])}")
        parts.append(f"lowest {fmt(k, min(measured))}, highest {fmt(k, max(measured))}")
    else:
        parts.append("nothing measured")
    if target is not None:
        parts.append(
            f"target {fmt(k, target)} ({k.direction} is better): {on_target} of "
            f"{len(measured)} measured {period}s on target"
        )
    return charts.kpi_trend(
        values,
        target=target,
        higher_is_better=k.higher_is_better,
        label="; ".join(parts) + ".",
        formatter=lambda v: fmt(k, v),
        integer=k.unit == "count",
    )


# --- Pages ------------------------------------------------------------------------------------


def _url(dashboard: Dashboard, params: dict[str, str]) -> str:
    return dashboard.path + (f"?{urlencode(params)}" if params else "")


def _tiles(request: Request, v: dashboards.View, zone: str, can_edit: bool) -> list[dict[str, Any]]:
    tiles = []
    period = v.filters.period
    for name, row in v.overview.rows.items():
        k = row.kpi
        points = v.trends[name]
        page = FAMILY_PAGES.get(k.family)
        tiles.append(
            {
                "kpi": k,
                "row": row,
                "value": fmt(k, row.current.value),
                "target": fmt(k, row.target),
                "previous": fmt(k, row.previous.value),
                "delta": fmt_delta(k, row.delta),
                "arrow": arrow(row),
                "tone": TONES[row.status],
                "status_words": STATUS_WORDS[row.status],
                "chart": trend_chart(
                    k, points, row.target, period, zone, partial=not v.filters.complete
                ),
                "points": [
                    (dashboards.bucket_label(period, p.period_start, zone), fmt(k, p.measure.value))
                    for p in points
                ],
                "link": (
                    _url(DASHBOARDS[page], v.filters.params(DASHBOARDS[page], by=None))
                    if page and page != v.dashboard.slug
                    else None
                ),
                "series_url": f"/api/v1/kpis/{name}/series?"
                + urlencode({**v.filters.export_params(), "count": dashboards.TREND_COUNT}),
                "own_target": v.own_targets.get(name),
                "editable": can_edit,
            }
        )
    return tiles


def _carry(filters: Filters, target: Dashboard) -> dict[str, str]:
    """The filters another dashboard can take (period, and the cuts it offers)."""
    offered = {"period", "complete", *target.cuts()}
    return {k: v for k, v in filters.params(target, by=None).items() if k in offered}


def _form_values(request: Request) -> dict[str, str]:
    return {k: v.strip() for k, v in request.query_params.items()}


def _page(request: Request, dashboard: Dashboard) -> Response:
    state = request.app.state
    zone: str = state.settings.timezone
    now = state.clock.now()
    principal: Principal = request.state.principal
    problems: list[FieldError] = []
    filters: Filters | None = None
    try:
        filters = Filters.parse(request.query_params, dashboard)
    except ValidationFailed as exc:
        problems = exc.errors
    if filters is not None:
        canonical = filters.params(dashboard)
        if dict(request.query_params) != canonical:
            # A GET form sends every field, empty ones too: answer with the short URL.
            return RedirectResponse(_url(dashboard, canonical), status_code=303)
    with state.db.session() as session:
        opts = dashboards.options(session, since=now - timedelta(days=90))
        if filters is not None:
            try:
                dashboards.check_known(filters, opts)
            except ValidationFailed as exc:
                problems, filters = exc.errors, None
        v = None
        if filters is not None:
            v = dashboards.view(session, dashboard, filters, now, zone=zone, opts=opts)
    context: dict[str, Any] = {
        "nav": "kpis",
        "dashboard": dashboard,
        "dashboards": list(DASHBOARDS.values()),
        "opts": opts,
        "cut_fields": [(d, DIMENSION_WORDS[d]) for d in dashboard.cuts()],
        "form": _form_values(request),
        "periods": PERIOD_WORDS,
        "page_words": PAGE_WORDS,
        "show_journey": principal.role in JOURNEY_ROLES,
        "kind_words": KIND_WORDS,
        "moment_words": surveys.MOMENT_LABELS,
    }
    if v is None or filters is None:
        return render(
            request,
            "kpis/dashboard.html",
            status_code=422,
            problems=problems,
            v=None,
            **context,
        )
    w = v.overview.window
    can_edit = dashboard.slug == "overview" and principal.role in TARGET_ROLES
    export = urlencode(filters.export_params())
    here = _url(dashboard, filters.params(dashboard))
    table = None
    if v.breakdown is not None:
        b = v.breakdown
        table = {
            "dimension": b.dimension,
            "words": DIMENSION_WORDS[b.dimension],
            "kpis": [KPIS[n] for n in b.names],
            "rows": [
                {
                    "label": r.label,
                    "url": _url(dashboard, filters.params(dashboard, **{b.dimension: r.value})),
                    "cells": [
                        None
                        if r.cells.get(n) is None
                        else {
                            "text": fmt(KPIS[n], r.cells[n].value),  # type: ignore[union-attr]
                            "tone": TONES[r.cells[n].status],  # type: ignore[union-attr]
                            "status": STATUS_WORDS[r.cells[n].status],  # type: ignore[union-attr]
                        }
                        for n in b.names
                    ],
                }
                for r in b.rows
            ],
            "hidden": b.hidden,
            "tabs": [
                (d, DIMENSION_WORDS[d], _url(dashboard, filters.params(dashboard, by=d)))
                for d in dashboard.breakdowns
            ],
        }
    return render(
        request,
        "kpis/dashboard.html",
        problems=[],
        v=v,
        f=filters,
        tiles=_tiles(request, v, zone, can_edit),
        can_edit=can_edit,
        window=dashboards.range_label(w.since, w.until, zone),
        previous=dashboards.range_label(w.previous_since, w.previous_until, zone),
        cut_words=opts.describe(filters.cut),
        refused=[KPIS[n] for n in v.refused],
        table=table,
        here=here,
        csv_url=f"/api/v1/kpis.csv?{export}",
        json_url=f"/api/v1/kpis?{export}",
        period_url=lambda p: _url(dashboard, filters.params(dashboard, period=p)),
        complete_url=lambda c: _url(dashboard, filters.params(dashboard, complete=c)),
        page_url=lambda d: _url(d, _carry(filters, d)),
        **context,
    )


def _register(dashboard: Dashboard) -> None:
    def page(request: Request) -> Response:
        return _page(request, dashboard)

    page.__name__ = f"kpis_{dashboard.slug}"
    page.__doc__ = f"{dashboard.title}: {dashboard.intro}"
    router.add_api_route(
        dashboard.path, page, methods=["GET"], dependencies=[Depends(READ)], name=page.__name__
    )


for _dashboard in DASHBOARDS.values():
    _register(_dashboard)


# --- Targets ----------------------------------------------------------------------------------


@router.post("/kpis/targets", dependencies=[Depends(EDIT)])
async def set_target(
    request: Request,
    kpi: Annotated[str, Form(max_length=60)],
    value: Annotated[str, Form(max_length=40)] = "",
    cut: Annotated[str, Form(max_length=100)] = "",
    back: Annotated[str, Form(max_length=1000)] = "/kpis",
    op: Annotated[str, Form(max_length=10)] = "set",
) -> Response:
    """Set (``op=set`` with a value) or clear (``op=clear``) one KPI's target, overall or for
    the page's cut; audited as ``kpi.target_set`` / ``kpi.target_removed``."""
    principal: Principal = request.state.principal
    where = local_target(back, "/kpis")
    k = KPIS.get(kpi)
    title = k.title if k else kpi
    target: float | None = None
    try:
        if op not in ("set", "clear"):
            raise ValidationFailed("invalid target", [FieldError("op", "set or clear")])
        if op == "set":
            text = value.strip().replace(",", "")
            try:
                target = float(text)
            except ValueError:
                raise ValidationFailed(
                    "invalid target", [FieldError("value", "a number (or Clear to remove it)")]
                ) from None
            if not math.isfinite(target):
                raise ValidationFailed("invalid target", [FieldError("value", "a finite number")])

        def write() -> None:
            with request.app.state.db.transaction() as session:
                actions.set_target(
                    session,
                    Actor("staff", principal.id, principal.email),
                    kpi,
                    target,
                    cut,
                    now=request.app.state.clock.now(),
                )

        await run_in_threadpool(write)
    except ValidationFailed as exc:
        reasons = "; ".join(f"{e.field}: {e.message}" for e in exc.errors) or exc.message
        flash(request, "bad", f"{title}: target not changed ({reasons}).")
        return RedirectResponse(where, status_code=303)
    if target is None:
        flash(request, "ok", f"{title}: target cleared.")
    else:
        flash(request, "ok", f"{title}: target set to {fmt(KPIS[kpi], target)}.")
    return RedirectResponse(where, status_code=303)
