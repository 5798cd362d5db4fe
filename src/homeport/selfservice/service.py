"""Reads of the self-service portal: what one signed-in subscriber may see of their own account,
in words a non-technical person understands.

Every function takes the signed-in subscriber's id and filters by it; a case, action or device
of somebody else is :class:`NotFound` (404), never "forbidden" (which would confirm it exists).
Finding and detector codes become plain sentences here (:func:`explain_finding`); thresholds
are the health settings' (REFERENCE.md section 4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.core.errors import NotFound
from homeport.core.health_settings import HealthSettings
from homeport.health import service as health_service
from homeport.health.models import DeviceAction, Finding, Outage
from homeport.network.models import Home
from homeport.network.quality import SignalQuality, classify_rssi
from homeport.selfservice.models import EngagementEvent
from homeport.subscribers.models import Plan, Subscriber
from homeport.support import guided
from homeport.support import service as support_service
from homeport.support.models import LIVE_STATUSES, Case, CaseTag, Interaction
from homeport.telemetry import service as telemetry_service
from homeport.telemetry.models import TelemetryReport

MAX_ID = 2**31 - 1
#: A gateway silent longer than this is shown as "not reporting" (three 5-minute intervals).
SILENT_AFTER = guided.DEFAULT_SILENT_AFTER
#: Portal-facing names of case statuses.
CASE_STATUS_WORDS = {
    "new": "Received",
    "open": "We're working on it",
    "pending_subscriber": "Waiting for your answer",
    "pending_field": "Technician visit planned",
    "solved": "Solved",
    "closed": "Closed",
}
BAND_WORDS = {
    "excellent": "Your home's Internet experience is excellent.",
    "average": "Your home's Internet experience is fair: something is holding it back.",
    "poor": "Your home's Internet experience is poor right now.",
}
#: What each sub-score means to a subscriber (the weakest one is named on the home page).
WEAKEST_WORDS = {
    "wan_service": "the speed and responsiveness of your Internet line",
    "wan_continuity": "your connection dropping now and then",
    "wifi_coverage": "a weak Wi-Fi signal in parts of your home",
    "wifi_efficiency": "a crowded Wi-Fi channel",
    "device_health": "your gateway restarting or overloaded",
}
DEVICE_KIND_WORDS = {
    "phone": "Phone",
    "laptop": "Laptop",
    "tablet": "Tablet",
    "tv": "TV",
    "console": "Games console",
    "camera": "Camera",
    "iot": "Smart device",
    "speaker": "Speaker",
    "desktop": "Computer",
    "other": "Device",
}
#: Finding kinds the guided flows cover, by flow (a flow's ``categories`` list them).
ACTION_WORDS = {
    "reboot": "Restart of your gateway",
    "speed_test": "Speed test",
    "band_steer": "Move a device to 5 GHz",
    "set_channel": "Wi-Fi channel change",
    "firmware": "Gateway software update",
}
ACTION_STATUS_WORDS = {
    "queued": "Waiting for your gateway",
    "sent": "Sent to your gateway",
    "done": "Done",
    "failed": "Did not work",
    "unsupported": "Your gateway cannot do this",
    "cancelled": "Cancelled",
}


@dataclass(frozen=True)
class Explained:
    """A finding told plainly: a headline, why it matters, and what helps."""

    finding_id: int
    kind: str
    severity: str
    subject: str
    headline: str
    why: str
    helps: str
    opened_at: datetime | None
    #: The guided flow that handles this finding, if any.
    flow: str | None = None


def _device_name(subject: str, names: Mapping[str, str]) -> str:
    return names.get(subject.lower(), "A device") if subject else "A device"


def explain_finding(
    kind: str,
    subject: str,
    evidence: Mapping[str, Any],
    names: Mapping[str, str],
    s: HealthSettings | None = None,
) -> tuple[str, str, str]:
    """(headline, why, what helps) for one finding, in plain words. ``names`` maps client MACs
    (lower case) to the subscriber's own device names."""
    s = s or HealthSettings()
    dev = _device_name(subject, names)
    band = str(evidence.get("band") or subject or "")
    table: dict[str, tuple[str, str, str]] = {
        "wan_down": (
            "Your Internet connection is down",
            "Your gateway reports no link to the Internet.",
            "Restarting the gateway often brings it back. If not, we will look at the line.",
        ),
        "device_offline": (
            "We can't reach your gateway",
            "Your gateway has stopped talking to us: it may be off, unplugged or without a line.",
            "Check it has power, then switch it off and on at the wall.",
        ),
        "speed_below_plan": (
            "Your line is slower than your plan",
            "For a while now your line has given less than "
            f"{int(s.speed_min_ratio * 100)} % of the speed you pay for.",
            "A restart of the gateway often helps; if not, tell us and we will look at the line.",
        ),
        "high_latency": (
            "Your connection is slow to respond",
            "Data takes too long to travel: video calls and games feel laggy.",
            "This is usually on the line; we are watching it. Tell us if it goes on.",
        ),
        "high_jitter": (
            "Your connection is uneven",
            "The delay on your line keeps changing: calls may break up.",
            "This is usually on the line; tell us if it goes on.",
        ),
        "packet_loss": (
            "Your line is losing data",
            "Some data gets lost on the way, so pages stall and calls break up.",
            "This is usually a line fault: tell us and we will look at it.",
        ),
        "bufferbloat": (
            "Your connection slows down when it is busy",
            "When someone downloads or uploads a lot, everything else waits.",
            "Pausing big downloads helps; tell us if it happens often.",
        ),
        "optical_out_of_range": (
            "The fibre signal to your home is weak",
            "Too little light reaches your gateway through the fibre.",
            "Only a technician can fix this: contact us to arrange a visit.",
        ),
        "optical_degrading": (
            "The fibre signal to your home is getting weaker",
            "The light reaching your gateway keeps dropping: a fault is developing.",
            "Contact us so that a technician can fix it before it cuts you off.",
        ),
        "reboot_loop": (
            "Your gateway keeps restarting",
            "Every restart cuts your Internet for a minute or two.",
            "Check its power supply is firmly plugged in; if it goes on, contact us.",
        ),
        "weak_client_signal": (
            f"{dev} has a weak Wi-Fi signal",
            f"It receives only {evidence.get('rssi_dbm', '?')} dBm"
            f" on {band or 'Wi-Fi'}: it is too far from the gateway or behind thick walls.",
            "Move it closer to the gateway or a Wi-Fi satellite.",
        ),
        "coverage_gap": (
            "Your Wi-Fi doesn't reach every device well",
            "Many of your devices get a weak signal: one gateway cannot cover the whole home.",
            "A Wi-Fi satellite fixes this: contact us to add one.",
        ),
        "congested_channel": (
            f"Your {band} Wi-Fi is crowded",
            "Your Wi-Fi shares its channel with neighbours' networks or other radio noise, so "
            "your devices have to wait their turn.",
            "Moving your Wi-Fi to a quieter channel usually fixes it: use Fix it myself.",
        ),
        "high_retransmissions": (
            f"{dev} struggles to get its data through",
            f"It has to resend {evidence.get('retrans_pct', '?')} % of its data"
            f" on {band or 'Wi-Fi'}, so it feels slow.",
            "Moving it to the 5 GHz Wi-Fi, or closer to the gateway, helps.",
        ),
        "poor_mesh_backhaul": (
            "A Wi-Fi satellite is too far from the gateway",
            "The satellite's own link back to the gateway is weak, so everything on it is slow.",
            "Move the satellite closer to the gateway, about halfway to the far rooms.",
        ),
        "legacy_client": (
            f"{dev} is an older Wi-Fi device",
            "It can only use the slower 2.4 GHz Wi-Fi and slows the other devices on it.",
            "Nothing is broken; a newer device or adapter would be faster.",
        ),
    }
    return table.get(
        kind,
        (
            health_service.finding_title(kind),
            "We noticed something unusual on your connection.",
            "Contact us if it bothers you.",
        ),
    )


def flow_for_kind(kind: str) -> str | None:
    """The guided flow for a finding kind (the first flow that lists it among its
    categories; the Wi-Fi flow first)."""
    flows = guided.shipped_flows()
    order = sorted(flows.values(), key=lambda f: (f.name != "wifi_coverage", f.name))
    for flow in order:
        if kind in flow.categories:
            return flow.name
    return None


def _names(home: Home | None) -> dict[str, str]:
    if home is None:
        return {}
    return {c.mac.lower(): c.name or DEVICE_KIND_WORDS.get(c.kind, "Device") for c in home.clients}


def explain_all(
    findings: Iterable[Finding], names: Mapping[str, str], s: HealthSettings | None = None
) -> list[Explained]:
    out = []
    for f in findings:
        headline, why, helps = explain_finding(f.kind, f.subject, f.evidence or {}, names, s)
        out.append(
            Explained(
                f.id,
                f.kind,
                f.severity,
                f.subject,
                headline,
                why,
                helps,
                f.opened_at,
                flow_for_kind(f.kind),
            )
        )
    return out


# --- The subscriber and their home ------------------------------------------------------------


def subscriber(session: Session, subscriber_id: int) -> Subscriber:
    sub = session.get(Subscriber, subscriber_id)
    if sub is None:
        raise NotFound("no such subscriber")
    return sub


def home_of(session: Session, subscriber_id: int) -> Home | None:
    return session.scalar(select(Home).where(Home.subscriber_id == subscriber_id))


def first_name(sub: Subscriber) -> str:
    return sub.name.split()[0] if sub.name else ""


@dataclass(frozen=True)
class Wan:
    """The home's connection as the latest report tells it."""

    state: str  # up | down | silent | unknown
    words: str
    reported_at: datetime | None = None
    down_mbps: float | None = None
    up_mbps: float | None = None
    plan_down_mbps: int | None = None


def wan_of(latest: TelemetryReport | None, now: datetime, plan: Plan | None) -> Wan:
    plan_down = plan.down_mbps if plan else None
    if latest is None:
        return Wan(
            "unknown", "We have not heard from your gateway yet.", None, None, None, plan_down
        )
    if now - latest.ts > SILENT_AFTER:
        minutes = int((now - latest.ts).total_seconds() // 60)
        return Wan(
            "silent",
            f"We haven't heard from your gateway for {minutes} minutes: it may be off.",
            latest.ts,
            None,
            None,
            plan_down,
        )
    if latest.wan_status != "up":
        return Wan("down", "Your Internet connection is down.", latest.ts, None, None, plan_down)
    return Wan(
        "up",
        "You're connected to the Internet.",
        latest.ts,
        latest.down_mbps,
        latest.up_mbps,
        plan_down,
    )


@dataclass(frozen=True)
class OutageNotice:
    opened_at: datetime
    eta_at: datetime | None
    homes_affected: int


@dataclass(frozen=True)
class CaseRow:
    id: int
    subject: str
    status: str
    status_words: str
    channel: str
    opened_at: datetime
    updated_at: datetime
    live: bool


def _case_row(c: Case) -> CaseRow:
    return CaseRow(
        c.id,
        c.subject,
        c.status,
        CASE_STATUS_WORDS.get(c.status, c.status),
        c.channel,
        c.opened_at,
        c.updated_at,
        c.status in LIVE_STATUSES,
    )


@dataclass(frozen=True)
class HomeView:
    first_name: str
    plan_name: str
    score: health_service.ScoreView | None
    score_words: str
    weakest_words: str
    wan: Wan
    outage: OutageNotice | None
    findings: list[Explained]
    cases: list[CaseRow]


def home_view(
    session: Session, subscriber_id: int, *, now: datetime, s: HealthSettings | None = None
) -> HomeView:
    sub = subscriber(session, subscriber_id)
    plan = session.get(Plan, sub.plan_id) if sub.plan_id else None
    home = home_of(session, subscriber_id)
    score = None
    findings: list[Finding] = []
    latest = None
    if home is not None:
        exp = health_service.home_experience(session, home.id, now=now, days=1, actions=0)
        score = exp.current
        findings = exp.open_findings
        if home.gateway is not None:
            latest = telemetry_service.latest_report(session, home.gateway.device_id)
    outage_row = support_service.outage_for_subscriber(session, subscriber_id)
    outage = (
        OutageNotice(outage_row.opened_at, outage_row.eta_at, outage_row.homes_affected)
        if outage_row is not None
        else None
    )
    weakest = ""
    if score is not None and score.band != "excellent":
        weakest = WEAKEST_WORDS.get(score.weakest, "")
    return HomeView(
        first_name=first_name(sub),
        plan_name=plan.name if plan else "",
        score=score,
        score_words=BAND_WORDS[score.band] if score else "We don't have a score for your home yet.",
        weakest_words=weakest,
        wan=wan_of(latest, now, plan),
        outage=outage,
        findings=explain_all(findings, _names(home), s),
        cases=[_case_row(c) for c in live_cases(session, subscriber_id)],
    )


# --- My network -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceView:
    mac: str
    name: str
    kind: str
    band: str | None
    rssi_dbm: float | None
    quality: SignalQuality
    connected: bool
    #: Plain sentences: why this device struggles (its open findings).
    problems: list[str] = field(default_factory=list)
    #: Can move to 5 GHz with a good signal (band steering [T7]).
    can_move: bool = False


@dataclass(frozen=True)
class SatelliteView:
    node_id: str
    location: str
    backhaul: str
    rssi_dbm: float | None
    quality: SignalQuality
    words: str


@dataclass(frozen=True)
class NetworkView:
    has_home: bool
    gateway_model: str
    gateway_words: str
    wan: Wan
    satellites: list[SatelliteView]
    devices: list[DeviceView]
    radios: list[dict[str, Any]]
    findings: list[Explained]

    @property
    def struggling(self) -> list[DeviceView]:
        return [d for d in self.devices if d.problems or d.quality.is_problem]


def network_view(
    session: Session, subscriber_id: int, *, now: datetime, s: HealthSettings | None = None
) -> NetworkView:
    s = s or HealthSettings()
    sub = subscriber(session, subscriber_id)
    plan = session.get(Plan, sub.plan_id) if sub.plan_id else None
    home = home_of(session, subscriber_id)
    if home is None or home.gateway is None:
        return NetworkView(
            False, "", "No gateway on record.", wan_of(None, now, plan), [], [], [], []
        )
    gw = home.gateway
    latest = telemetry_service.latest_report(session, gw.device_id)
    wan = wan_of(latest, now, plan)
    findings = health_service.open_findings(session, home.id)
    names = _names(home)
    explained = explain_all(findings, names, s)
    by_subject: dict[str, list[str]] = {}
    for e in explained:
        if e.subject:
            by_subject.setdefault(e.subject.lower(), []).append(f"{e.headline}. {e.why}")
    detail = (latest.detail or {}) if latest is not None and wan.state != "silent" else {}
    seen = {
        str(c.get("mac", "")).lower(): c for c in detail.get("clients", []) if isinstance(c, dict)
    }
    movable = {m.lower() for m in guided.steer_candidates(list(seen.values()), s)}
    devices: list[DeviceView] = []
    known: set[str] = set()
    for c in home.clients:
        mac = c.mac.lower()
        known.add(mac)
        live = seen.get(mac)
        rssi = float(live["rssi_dbm"]) if live and live.get("rssi_dbm") is not None else None
        devices.append(
            DeviceView(
                mac,
                c.name or DEVICE_KIND_WORDS.get(c.kind, "Device"),
                c.kind,
                str(live.get("band")) if live else c.last_band,
                rssi,
                classify_rssi(rssi),
                live is not None,
                by_subject.get(mac, []),
                mac in movable,
            )
        )
    for mac, live in seen.items():
        if mac in known or not mac:
            continue
        rssi = float(live["rssi_dbm"]) if live.get("rssi_dbm") is not None else None
        kind = str(live.get("kind") or "other")
        devices.append(
            DeviceView(
                mac,
                DEVICE_KIND_WORDS.get(kind, "Device"),
                kind,
                str(live.get("band") or ""),
                rssi,
                classify_rssi(rssi),
                True,
                by_subject.get(mac, []),
                mac in movable,
            )
        )
    devices.sort(key=lambda d: (not d.connected, not (d.problems or d.quality.is_problem), d.name))
    mesh_live = {str(m.get("node_id")): m for m in detail.get("mesh", []) if isinstance(m, dict)}
    satellites = []
    for node in home.mesh_nodes:
        m = mesh_live.get(node.node_id, {})
        rssi = m.get("backhaul_rssi_dbm", node.backhaul_rssi_dbm)
        quality = classify_rssi(rssi) if node.backhaul == "wireless" else classify_rssi(-40)
        if node.backhaul != "wireless":
            words = "Connected to the gateway by cable."
        elif quality.is_problem:
            words = "Too far from the gateway: move it a little closer."
        else:
            words = f"{quality.label} link to the gateway."
        satellites.append(
            SatelliteView(node.node_id, node.location, node.backhaul, rssi, quality, words)
        )
    state = {
        "up": "Working normally.",
        "down": "On, but without Internet.",
        "silent": "Not reporting: it may be off or unplugged.",
        "unknown": "No report yet.",
    }[wan.state]
    radios = []
    for r in detail.get("radios", []):
        if not isinstance(r, dict):
            continue
        util = float(r.get("utilization_pct") or 0)
        interference = float(r.get("interference_pct") or 0)
        radios.append(
            {
                "band": r.get("band"),
                "channel": r.get("channel"),
                "busy_pct": max(util, interference),
                # Above 75 % busy [T5] or 50 % interference [T6] (REFERENCE.md 4a).
                "crowded": util > s.utilization_warn_pct or interference > s.interference_warn_pct,
            }
        )
    model = " ".join(p for p in (gw.vendor, gw.model) if p) or "Your gateway"
    return NetworkView(True, model, state, wan, satellites, devices, radios, explained)


def steerable_device(
    session: Session, subscriber_id: int, mac: str, s: HealthSettings | None = None
) -> str:
    """The MAC of the subscriber's own device that can move to 5 GHz now; :class:`NotFound` for
    any other MAC (another home's device, an unknown one, or one that cannot move)."""
    home = home_of(session, subscriber_id)
    if home is None or home.gateway is None:
        raise NotFound("no such device")
    latest = telemetry_service.latest_report(session, home.gateway.device_id)
    clients = [
        c
        for c in ((latest.detail or {}) if latest else {}).get("clients", [])
        if isinstance(c, dict)
    ]
    own = {c.mac.lower() for c in home.clients} | {str(c.get("mac", "")).lower() for c in clients}
    wanted = mac.strip().lower()
    if wanted not in own:
        raise NotFound("no such device")
    if wanted not in {m.lower() for m in guided.steer_candidates(clients, s or HealthSettings())}:
        raise NotFound("that device cannot move to 5 GHz right now")
    return wanted


# --- Fix it myself ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionView:
    id: int
    kind: str
    words: str
    status: str
    status_words: str
    created_at: datetime
    completed_at: datetime | None
    result_words: str
    mine: bool


def action_view(a: DeviceAction, subscriber_id: int) -> ActionView:
    result = a.result or {}
    text = ""
    if a.kind == "speed_test" and a.status == "done":
        down, up = result.get("down_mbps"), result.get("up_mbps")
        if down is not None:
            text = f"{float(down):.0f} Mbps down" + (f", {float(up):.0f} Mbps up" if up else "")
    elif a.status in ("failed", "unsupported"):
        text = "Please try again later or contact us."
    return ActionView(
        a.id,
        a.kind,
        ACTION_WORDS.get(a.kind, a.kind),
        a.status,
        ACTION_STATUS_WORDS.get(a.status, a.status),
        a.created_at,
        a.completed_at,
        text,
        a.requested_by == f"subscriber:{subscriber_id}",
    )


def recent_actions(session: Session, subscriber_id: int, *, limit: int = 10) -> list[ActionView]:
    home = home_of(session, subscriber_id)
    if home is None:
        return []
    rows = session.scalars(
        select(DeviceAction)
        .where(DeviceAction.home_id == home.id)
        .order_by(DeviceAction.created_at.desc(), DeviceAction.id.desc())
        .limit(limit)
    )
    return [action_view(a, subscriber_id) for a in rows]


def own_action(session: Session, subscriber_id: int, action_id: int) -> ActionView:
    """One remote action on the subscriber's own home; :class:`NotFound` otherwise."""
    if not 1 <= action_id <= MAX_ID:
        raise NotFound("no such action")
    row = session.scalar(
        select(DeviceAction)
        .join(Home, Home.id == DeviceAction.home_id)
        .where(DeviceAction.id == action_id, Home.subscriber_id == subscriber_id)
    )
    if row is None:
        raise NotFound("no such action")
    return action_view(row, subscriber_id)


@dataclass(frozen=True)
class GuideStep:
    """One guided step as the subscriber ran it (from the engagement events)."""

    at: datetime
    step: str
    title: str
    result: str
    text: str
    proposal: dict[str, Any]
    action_id: int | None = None


def guide_trail(
    session: Session, subscriber_id: int, flow: guided.Flow, *, now: datetime
) -> list[GuideStep]:
    """The subscriber's current run of the flow (from its latest start, within a day), oldest
    first."""
    rows = list(
        session.scalars(
            select(EngagementEvent)
            .where(
                EngagementEvent.subscriber_id == subscriber_id,
                EngagementEvent.kind.in_(("guided_step", "guided_action")),
                EngagementEvent.at > now - timedelta(days=1),
            )
            .order_by(EngagementEvent.at, EngagementEvent.id)
        )
    )
    rows = [r for r in rows if (r.detail or {}).get("flow") == flow.name]
    starts = [
        i
        for i, r in enumerate(rows)
        if r.kind == "guided_step"
        and r.detail.get("step") == flow.start
        and r.detail.get("new_run")
    ]
    if starts:
        rows = rows[starts[-1] :]
    trail: list[GuideStep] = []
    for r in rows:
        d = r.detail or {}
        if r.kind == "guided_action":
            if trail and trail[-1].step == d.get("step"):
                last = trail[-1]
                trail[-1] = GuideStep(
                    last.at,
                    last.step,
                    last.title,
                    last.result,
                    last.text,
                    last.proposal,
                    int(d["action_id"]) if d.get("action_id") else None,
                )
            continue
        step = flow.steps.get(str(d.get("step")))
        if step is None:
            continue
        trail.append(
            GuideStep(
                r.at,
                step.id,
                step.subscriber_title or step.title,
                str(d.get("result", "")),
                str(d.get("text", "")),
                dict(d.get("proposal") or {}),
            )
        )
    return trail


# --- Cases ------------------------------------------------------------------------------------


def live_cases(session: Session, subscriber_id: int) -> list[Case]:
    return list(
        session.scalars(
            select(Case)
            .where(
                Case.subscriber_id == subscriber_id,
                Case.status.in_(LIVE_STATUSES),
                Case.merged_into_id.is_(None),
            )
            .order_by(Case.updated_at.desc(), Case.id.desc())
        )
    )


def case_list(session: Session, subscriber_id: int, *, limit: int = 50) -> list[CaseRow]:
    rows = session.scalars(
        select(Case)
        .where(Case.subscriber_id == subscriber_id, Case.merged_into_id.is_(None))
        .order_by(Case.opened_at.desc(), Case.id.desc())
        .limit(limit)
    )
    return [_case_row(c) for c in rows]


def own_case(session: Session, subscriber_id: int, case_id: int) -> Case:
    """The subscriber's own case (following a merge to the case it became); :class:`NotFound`
    for anybody else's."""
    if not 1 <= case_id <= MAX_ID:
        raise NotFound("no such case")
    case = session.get(Case, case_id)
    seen: set[int] = set()
    while case is not None and case.merged_into_id is not None and case.id not in seen:
        seen.add(case.id)
        case = session.get(Case, case.merged_into_id)
    if case is None or case.subscriber_id != subscriber_id:
        raise NotFound("no such case")
    return case


@dataclass(frozen=True)
class Message:
    at: datetime
    mine: bool
    who: str
    channel: str
    body: str


CHANNEL_WORDS = {
    "email": "Email",
    "phone": "Phone call",
    "live_chat": "Chat",
    "async_chat": "Chat",
    "chatbot": "Assistant",
    "app": "App",
    "sms": "SMS",
}


def case_messages(session: Session, case: Case, *, bsp_name: str) -> list[Message]:
    """What the subscriber may read of a case: the messages to and from them. Internal notes
    and system entries are never included."""
    rows = session.scalars(
        select(Interaction)
        .where(
            Interaction.case_id == case.id,
            Interaction.direction.in_(("inbound", "outbound")),
            Interaction.channel != "system",
        )
        .order_by(Interaction.started_at, Interaction.id)
    )
    out = []
    for i in rows:
        mine = i.direction == "inbound"
        who = "You" if mine else ("Assistant" if i.author_kind == "bot" else bsp_name)
        body = "Phone call" if i.channel == "phone" and not i.body.strip() else i.body
        out.append(Message(i.started_at, mine, who, CHANNEL_WORDS.get(i.channel, i.channel), body))
    return out


def case_tags(session: Session, case_id: int) -> list[str]:
    return sorted(session.scalars(select(CaseTag.tag).where(CaseTag.case_id == case_id)))


def outage_of(session: Session, outage_id: int | None) -> Outage | None:
    return session.get(Outage, outage_id) if outage_id else None
