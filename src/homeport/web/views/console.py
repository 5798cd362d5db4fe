"""The agent console: the queue (``/console``) and the case page (``/console/cases/{id}``) with
the subscriber 360, replies, notes, status, assignment, tags, merge and remote actions.

Live updates are polled: the queue page asks ``/console/poll`` (the same filters) every few
seconds for its counters and a stamp of the first page; when the stamp changes the page fetches
itself again and swaps the list. Polling reads the database, so it works the same with any
number of web processes behind a load balancer (no in-process event stream to share).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams

from homeport.audit.actions import Actor
from homeport.core.errors import FieldError, NotFound, ValidationFailed
from homeport.health import service as health_service
from homeport.identity.api import Access
from homeport.identity.models import StaffUser
from homeport.identity.schemas import Principal
from homeport.journey import surveys as journey_surveys
from homeport.subscribers.models import Subscriber
from homeport.support import actions, guided, service
from homeport.support import console as reads
from homeport.support.api import CASE_ROLES
from homeport.support.models import (
    CASE_STATUSES,
    CHANNELS,
    LIVE_STATUSES,
    OUTCOMES,
    PRIORITIES,
    Case,
)
from homeport.telemetry.schemas import CHANNELS as WIFI_CHANNELS
from homeport.web.templating import flash, render
from homeport.web.views import health as health_views
from homeport.web.views import journey as journey_views
from homeport.web.views import retention as retention_views
from homeport.web.views import subscribers as subscriber_views

router = APIRouter(include_in_schema=False)

PAGE = Access.staff(*CASE_ROLES, page=True)
POLL = Access.staff(*CASE_ROLES)
#: Roles that may send a remote action from a case (the subscriber page's, among case roles).
REMOTE_ROLES = tuple(r for r in CASE_ROLES if r in health_views.REMOTE_ACTION_ROLES)
ACT = Access.staff(*REMOTE_ROLES, page=True)
#: How often the queue page polls (seconds).
POLL_S = 5
MAX_ID = 2**31 - 1
REMOTE_ACTIONS = {
    "reboot": "Restart the gateway",
    "speed_test": "Run a speed test",
    "set_channel": "Change Wi-Fi channel",
    "band_steer": "Steer a device to 5 GHz",
}
REPLY_CHANNELS = {"email": "E-mail", "sms": "SMS", "phone": "Log a phone call"}
STATUS_NAMES = {
    "new": "New",
    "open": "Open",
    "pending_subscriber": "Pending on subscriber",
    "pending_field": "Pending on field",
    "solved": "Solved",
    "closed": "Closed",
}
PRIORITY_TONES = {"urgent": "bad", "high": "warn", "normal": "", "low": ""}
SLA_TONES = {"breached": "bad", "warning": "warn", "ok": "ok", "met": "ok"}
#: Shown in the e-mail frame: the sanitised HTML may name remote images; none are fetched.
FRAME_CSP = (
    '<meta http-equiv="Content-Security-Policy" '
    "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
)
SHORTCUTS_QUEUE = [
    ("j / k", "next / previous case"),
    ("o or Enter", "open the selected case"),
    ("t", "take the selected case"),
    ("n", "take the next case of my queues"),
    ("/", "search"),
    ("?", "show or hide this help"),
]
SHORTCUTS_CASE = [
    ("r", "write a reply"),
    ("i", "write an internal note"),
    ("s", "solve (choose the outcome)"),
    ("g", "guided troubleshooting: choose a flow"),
    ("a", "take the case"),
    ("u", "back to the queue"),
    ("?", "show or hide this help"),
]


def _words(value: str | None) -> str:
    return subscriber_views.words(value)


HELPERS: dict[str, Any] = {
    "status_name": lambda s: STATUS_NAMES.get(s, _words(s)),
    "priority_tone": lambda p: PRIORITY_TONES.get(p, ""),
    "sla_tone": lambda t: SLA_TONES.get(t, ""),
    "status_names": STATUS_NAMES,
    "priorities": PRIORITIES,
    "channels": CHANNELS,
    "outcomes": OUTCOMES,
    "live_statuses": LIVE_STATUSES,
    "case_statuses": CASE_STATUSES,
    "remote_actions": REMOTE_ACTIONS,
    "reply_channels": REPLY_CHANNELS,
    "wifi_bands": list(WIFI_CHANNELS),
    "survey_tone": journey_surveys.tone,
    "survey_kinds": journey_views.KIND_WORDS,
    "survey_moments": journey_views.MOMENT_WORDS,
    "survey_scales": journey_surveys.SCALES,
}


def actor_of(principal: Principal) -> Actor:
    return Actor("staff", principal.id, principal.email)


def _me(session: Session, principal: Principal) -> StaffUser:
    user = session.get(StaffUser, principal.id)
    if user is None:
        raise NotFound("no such staff user")
    return user


# --- The queue -------------------------------------------------------------------------------


def _int(params: QueryParams, name: str) -> int | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise ValidationFailed("invalid filter", [FieldError(name, "a positive whole number")])
    return int(raw)


@dataclass(frozen=True)
class QueueQuery:
    """The queue page's filters as they appear in its URL (empty means "any")."""

    status: str = ""  # "" = live, "all", or one status
    queue_id: int | None = None
    priority: str = ""
    channel: str = ""
    category: str = ""
    assigned: str = ""  # "", "me", "none"
    breached: bool = False
    scope: str = ""  # "" = my team's cases, "all"
    q: str = ""
    before_id: int | None = None
    problems: list[FieldError] = field(default_factory=list)

    @classmethod
    def from_params(cls, params: QueryParams) -> QueueQuery:
        def text(name: str, allowed: tuple[str, ...] | None = None, size: int = 40) -> str:
            value = (params.get(name) or "").strip()[:size]
            if value and allowed is not None and value not in allowed:
                raise ValidationFailed(
                    "invalid filter", [FieldError(name, f"one of {', '.join(allowed)}")]
                )
            return value

        return cls(
            status=text("status", ("all", *CASE_STATUSES)),
            queue_id=_int(params, "queue_id"),
            priority=text("priority", PRIORITIES),
            channel=text("channel", CHANNELS),
            category=text("category"),
            assigned=text("assigned", ("me", "none")),
            breached=(params.get("breached") or "") in ("1", "on", "true"),
            scope=text("scope", ("all",)),
            q=text("q", size=200),
            before_id=_int(params, "before_id"),
        )

    def params(self, **changes: Any) -> dict[str, str]:
        values: dict[str, Any] = {
            "status": self.status,
            "queue_id": self.queue_id,
            "priority": self.priority,
            "channel": self.channel,
            "category": self.category,
            "assigned": self.assigned,
            "breached": "1" if self.breached else "",
            "scope": self.scope,
            "q": self.q,
            "before_id": self.before_id,
        }
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in (None, "", False)}

    def url(self, **changes: Any) -> str:
        query = urlencode(self.params(**changes))
        return "/console" + (f"?{query}" if query else "")

    def case_filter(self, me: StaffUser) -> service.CaseFilter:
        if self.status == "all":
            statuses: tuple[str, ...] = ()
        elif self.status:
            statuses = (self.status,)
        else:
            statuses = LIVE_STATUSES
        team_id = None
        if self.assigned != "me" and self.scope != "all" and self.queue_id is None:
            team_id = me.team_id
        return service.CaseFilter(
            status=statuses,
            queue_id=self.queue_id,
            team_id=team_id,
            assignee_id=me.id if self.assigned == "me" else None,
            unassigned=self.assigned == "none",
            channel=self.channel or None,
            category=self.category or None,
            priority=self.priority or None,
            breached=True if self.breached else None,
            q=self.q,
        )


def _stamp(rows: Sequence[tuple[int, datetime, str, int | None]]) -> str:
    """Changes when any case of the page changes (or one joins or leaves it)."""
    text = ";".join(f"{i}:{at.isoformat()}:{status}:{who}" for i, at, status, who in rows)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@router.get("/console", dependencies=[Depends(PAGE)])
def queue_page(request: Request) -> Response:
    query = QueueQuery.from_params(request.query_params)
    if dict(request.query_params) != query.params():
        # A GET form sends every field, empty ones too: answer with the short URL.
        return RedirectResponse(query.url(), status_code=303)
    principal: Principal = request.state.principal
    now = request.app.state.clock.now()
    with request.app.state.db.session() as session:
        me = _me(session, principal)
        f = query.case_filter(me)
        cases = service.list_cases(session, f, limit=reads.PAGE_SIZE + 1, before_id=query.before_id)
        more = len(cases) > reads.PAGE_SIZE
        cases = cases[: reads.PAGE_SIZE]
        all_queues = reads.queues_of_team(session, None)
        my_queues = [q for q in all_queues if me.team_id is None or q.team_id == me.team_id]
        rows = reads.queue_rows(session, cases, now, {q.id: q.name for q in all_queues})
        # A search is not counted nor polled: its statement is the dearest of the page.
        counts = None if query.q else reads.live_counts(session, f)
        return render(
            request,
            "console/queue.html",
            nav="console",
            query=query,
            rows=rows,
            counts=counts,
            more=more,
            next_before=cases[-1].id if more and cases else None,
            me=me,
            my_queues=my_queues,
            queues=all_queues,
            stamp=_stamp([(c.id, c.updated_at, c.status, c.assignee_id) for c in cases]),
            poll_s=POLL_S,
            poll_url="/console/poll" + (f"?{request.url.query}" if request.url.query else ""),
            shortcuts=SHORTCUTS_QUEUE,
            words=_words,
            **HELPERS,
        )


@router.get("/console/poll", dependencies=[Depends(POLL)])
def queue_poll(request: Request) -> Response:
    """The queue page's live figures: counters per live status and a stamp of its list."""
    query = QueueQuery.from_params(request.query_params)
    principal: Principal = request.state.principal
    with request.app.state.db.session() as session:
        me = _me(session, principal)
        f = query.case_filter(me)
        stamp = _stamp(reads.page_stamp(session, f, before_id=query.before_id))
        counts = None if query.q else reads.live_counts(session, f)
    return JSONResponse({"counts": counts, "stamp": stamp}, headers={"Cache-Control": "no-store"})


@router.post("/console/take-next", dependencies=[Depends(PAGE)])
async def take_next(request: Request) -> Response:
    """Give me the most urgent, oldest unassigned case of my team's queues."""
    principal: Principal = request.state.principal

    def take() -> int | None:
        with request.app.state.db.transaction() as session:
            me = _me(session, principal)
            queue_ids = [q.id for q in reads.queues_of_team(session, me.team_id)]
            case = reads.take_next(
                session,
                staff_id=me.id,
                queue_ids=queue_ids,
                now=request.app.state.clock.now(),
                actor=actor_of(principal),
            )
            return case.id if case else None

    case_id = await run_in_threadpool(take)
    if case_id is None:
        flash(request, "", "No unassigned case waits in your queues.")
        return RedirectResponse("/console", status_code=303)
    flash(request, "ok", f"Case #{case_id} is yours.")
    return RedirectResponse(f"/console/cases/{case_id}", status_code=303)


# --- The case page ---------------------------------------------------------------------------


def _frame(body_html: str) -> str:
    """The sanitised e-mail HTML as a sandboxed frame's document (escaped by the template)."""
    return FRAME_CSP + body_html


def _check_id(case_id: int) -> None:
    if not 1 <= case_id <= MAX_ID:
        raise NotFound(f"no case {case_id}")


#: A home's score chart is drawn again at most this often (seconds): an agent's page comes
#: back after every reply, note or action, and pygal is the dearest part of the 360.
CHART_TTL_S = 300
CHART_CACHE_SIZE = 512
_charts: OrderedDict[tuple[Any, ...], Markup] = OrderedDict()
_charts_lock = threading.Lock()


def _history_chart(request: Request, experience: health_service.Experience) -> Markup:
    """The subscriber page's score-history chart, kept per process for :data:`CHART_TTL_S`
    while the home has no newer score (the window it shows ends when it was drawn)."""
    key = (
        experience.home_id,
        int(experience.now.timestamp()) // CHART_TTL_S,
        experience.since.timestamp() - experience.now.timestamp(),
        len(experience.points),
        experience.points[-1] if experience.points else None,
    )
    with _charts_lock:
        found = _charts.get(key)
        if found is not None:
            _charts.move_to_end(key)
            return found
    chart = health_views.history_chart(request, experience)
    with _charts_lock:
        _charts[key] = chart
        while len(_charts) > CHART_CACHE_SIZE:
            _charts.popitem(last=False)
    return chart


@router.get("/console/cases/{case_id:int}", dependencies=[Depends(PAGE)])
def case_page(request: Request, case_id: int) -> Response:
    _check_id(case_id)
    principal: Principal = request.state.principal
    now = request.app.state.clock.now()
    with request.app.state.db.session() as session:
        page = reads.case_page(session, case_id, now)
        case = page.case
        panel = (
            reads.subscriber_panel(session, case.subscriber_id, now=now)
            if case.subscriber_id is not None
            else None
        )
        subscriber: Subscriber | None = panel.view.subscriber if panel else None
        macros = [
            (
                m,
                actions.render_macro(
                    m.body,
                    subscriber=subscriber,
                    case=case,
                    agent_name=principal.name or principal.email,
                ),
            )
            for m in page.macros
        ]
        experience = panel.experience if panel else None
        return render(
            request,
            "console/case.html",
            nav="console",
            page=page,
            case=case,
            panel=panel,
            sub=subscriber,
            view=panel.view if panel else None,
            experience=experience,
            history_svg=_history_chart(request, experience) if experience else None,
            daily=health_views.daily_table(request, experience) if experience else [],
            gateway=panel.view.gateway if panel else None,
            macros=macros,
            me=principal,
            can_act=principal.role in REMOTE_ROLES,
            frame=_frame,
            shortcuts=SHORTCUTS_CASE,
            guided=_guided_panel(session, case),
            surveys=(
                journey_surveys.recent_for_subscriber(session, subscriber.id) if subscriber else []
            ),
            now=now,
            **(retention_views.context(request, subscriber.id, "agent") if subscriber else {}),
            **subscriber_views.HELPERS,
            **health_views.HELPERS,
            **HELPERS,
        )


@dataclass(frozen=True)
class GuidedRun:
    """One step run on the case, as the guided panel shows it."""

    id: int
    flow: str
    flow_title: str
    step_title: str
    result: str
    text: str
    #: The facts the flow reads, as the step saw them (the rest of the home's facts are kept
    #: on the row but not shown).
    facts: list[tuple[str, Any]]
    proposal: dict[str, Any]
    at: Any
    #: What the agent can do next from this step: run ``next`` (a step title), queue ``action``.
    next_title: str | None


@dataclass(frozen=True)
class GuidedPanel:
    flows: list[guided.Flow]
    suggested: list[str]
    runs: list[GuidedRun]

    @property
    def latest(self) -> GuidedRun | None:
        return self.runs[-1] if self.runs else None


def _guided_panel(session: Session, case: Case) -> GuidedPanel | None:
    """The flows for the case's category first, and the steps already run on it."""
    if case.subscriber_id is None:
        return None
    flows = guided.shipped_flows()
    suggested = [f.name for f in guided.flows_for_category(case.category)]
    runs = []
    for row in guided.history(session, case.id):
        flow = flows.get(row.flow)
        obs = row.observation or {}
        proposal = obs.get("proposal") or {}
        seen = obs.get("facts") or {}
        names = sorted(flow.facts) if flow else []
        nxt = proposal.get("next")
        step = flow.steps.get(row.step) if flow else None
        next_step = flow.steps.get(nxt) if flow and isinstance(nxt, str) else None
        runs.append(
            GuidedRun(
                id=row.id,
                flow=row.flow,
                flow_title=flow.title if flow else row.flow,
                step_title=step.title if step else row.step,
                result=row.result,
                text=str(obs.get("text", "")),
                facts=[(n, seen.get(n)) for n in names if seen.get(n) is not None],
                proposal=proposal,
                at=row.at,
                next_title=next_step.title if next_step else None,
            )
        )
    ordered = sorted(flows.values(), key=lambda f: (f.name not in suggested, f.title))
    return GuidedPanel(flows=ordered, suggested=suggested, runs=runs)


@router.get("/console/attachments/{attachment_id:int}", dependencies=[Depends(PAGE)])
def download_attachment(request: Request, attachment_id: int) -> Response:
    """An attachment, always as a download (never rendered by the browser in our origin)."""
    if not 1 <= attachment_id <= MAX_ID:
        raise NotFound(f"no attachment {attachment_id}")
    with request.app.state.db.session() as session:
        found = reads.attachment(session, attachment_id)
        if found is None:
            raise NotFound(f"no attachment {attachment_id}")
        name = found.filename or "attachment"
        ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
        disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
        return Response(
            content=found.data,
            media_type="application/octet-stream",
            headers={
                "Content-Disposition": disposition,
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
                "Cache-Control": "private, no-store",
            },
        )
