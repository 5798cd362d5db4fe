"""Guided troubleshooting: flows kept as data (``support/flows/*.yaml``) that read the live facts
of a case's home and propose what the agent does next.

A **flow** is a list of steps. A **step** has rules, tried in order; the first whose ``when``
condition holds over the home's facts (the last rule is ``otherwise``) gives the step's
**result** (a short code), an **explanation** for the agent (``say``, with ``{fact}``
placeholders) and one **proposal**:

- ``next: <step>``: run that step (usually after the agent asked the subscriber something);
- ``action: <kind>``: a remote action (reboot, set_channel, band_steer, speed_test), optionally
  with ``next`` to run once it has had its effect; :func:`queue_proposed_action` queues it
  through the remote-action queue (``health.remote``, with its rate limits);
- ``dispatch: <kind>``: send a technician (install, repair, upgrade: ``support.dispatch``);
- ``solved: true``: the problem is solved or was never in the network;
- none of these: advice only; the flow ends there.

Facts (:data:`FACTS`) come from the existing read services: the gateway's latest report and
the last hour of reports (``telemetry.service``), the current experience score, open findings
and recent remote actions (``health.service``), the open area outage (``support.service``).
Thresholds are the health settings' (REFERENCE.md section 4; ``docs/support.md``).

Flows are validated when loaded (:func:`load_flow`): unknown keys, unknown facts, conditions that
do not type-check, dangling ``next`` references, unreachable steps, unknown action or dispatch
kinds and a step without ``otherwise`` are errors naming the file, step and rule.

:func:`run_step` evaluates one step for a case and records it as a ``GuidedStep`` row (flow,
step, result, the facts it saw and the proposal) with an audit entry.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.audit.actions import Actor, record
from homeport.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from homeport.core.health_settings import HealthSettings
from homeport.health import remote
from homeport.health import score as scoring
from homeport.health import service as health_service
from homeport.health.detectors import KINDS
from homeport.health.models import ACTION_KINDS, DeviceAction
from homeport.health.remediation import PREFERRED_CHANNELS
from homeport.network.models import BANDS, TECHNOLOGIES, Home
from homeport.subscribers.models import Plan, Subscriber
from homeport.support import service as support_service
from homeport.support.conditions import Condition, ConditionError, FactType, compile_condition
from homeport.support.models import WORK_ORDER_KINDS, Case, GuidedStep
from homeport.telemetry import service as telemetry_service
from homeport.telemetry.models import TelemetryReport

FLOWS_DIR = Path(__file__).parent / "flows"
#: A gateway silent longer than this is "not reporting" (3 × the default 5-minute interval,
#: the health settings' ``offline_after_intervals``).
DEFAULT_SILENT_AFTER = timedelta(minutes=15)
#: Remote actions and WAN drops count as "recent" within this window (the remote queue's
#: reboot interval).
RECENT = remote.REBOOT_INTERVAL
PROPOSALS = ("next", "action", "dispatch", "solved", "advise")
_ID = re.compile(r"^[a-z][a-z0-9_]{0,59}$")


@dataclass(frozen=True)
class Fact:
    name: str
    type: str
    description: str
    choices: tuple[str, ...] = ()

    @property
    def fact_type(self) -> FactType:
        return FactType(self.type, self.choices)


_FACT_LIST = (
    Fact("has_gateway", "bool", "the home has a gateway on record"),
    Fact("reporting", "bool", "the gateway reported within the silence window (15 min)"),
    Fact("report_age_min", "number", "minutes since the gateway's latest report"),
    Fact("wan_status", "text", "WAN state in the latest report", ("up", "down", "unknown")),
    Fact("wan_up", "bool", "the latest report has the WAN up"),
    Fact("in_outage", "bool", "the home is in an open area outage"),
    Fact("technology", "text", "access technology of the line", TECHNOLOGIES),
    Fact("plan_down_mbps", "number", "the plan's download speed"),
    Fact("down_mbps", "number", "best download throughput reported in the last hour"),
    Fact("up_mbps", "number", "best upload throughput reported in the last hour"),
    Fact("speed_pct", "number", "down_mbps as a percentage of the plan"),
    Fact("latency_ms", "number", "latency in the latest report"),
    Fact("jitter_ms", "number", "jitter in the latest report"),
    Fact("loss_pct", "number", "packet loss in the latest report"),
    Fact("optical_rx_dbm", "number", "ONT receive power in the latest report (FTTP)"),
    Fact("optical_in_range", "bool", "optical receive power within the class B+ window [T9]"),
    Fact("uptime_min", "number", "gateway uptime in minutes"),
    Fact("disconnects_1h", "number", "WAN drops reported in the last hour"),
    Fact("recent_actions", "list", "remote actions asked in the last hour", ACTION_KINDS),
    Fact("score", "number", "current experience score (0-100)"),
    Fact("score_band", "text", "band of the current score", ("excellent", "average", "poor")),
    Fact("weakest", "text", "the weakest sub-score", scoring.SUBSCORES),
    Fact("weakest_score", "number", "value of the weakest sub-score"),
    Fact("open_findings", "list", "kinds of the home's open findings", KINDS),
    Fact("open_findings_count", "number", "how many findings are open"),
    Fact("clients", "number", "Wi-Fi clients in the latest report"),
    Fact("clients_weak", "number", "clients below the weak-signal threshold (-75 dBm) [T1]"),
    Fact("good_signal_share", "number", "share of clients at or above -67 dBm [T1], 0 to 1"),
    Fact("busiest_radio_pct", "number", "highest channel utilisation or interference (%)"),
    Fact("congested", "bool", "a radio above 75 % busy [T5] or 50 % interference [T6]"),
    Fact("congested_band", "text", "the most congested band", BANDS),
    Fact("retrans_pct", "number", "highest client retransmissions (%) [T12]"),
    Fact("mesh_nodes", "number", "mesh satellites in the latest report"),
    Fact("mesh_backhaul_weak", "bool", "a wireless backhaul below -75 dBm or 100 Mbps [P6]"),
    Fact("steer_candidates", "number", "2.4 GHz clients able to use 5 GHz with a good signal"),
)
FACTS: dict[str, Fact] = {f.name: f for f in _FACT_LIST}
FACT_TYPES: dict[str, FactType] = {f.name: f.fact_type for f in _FACT_LIST}


class FlowError(ValueError):
    """A flow file that cannot be used; the message names the file, step and rule."""


# --- Flows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    kind: str  # one of PROPOSALS
    next: str | None = None
    action: str | None = None
    dispatch: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for name in ("next", "action", "dispatch"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


@dataclass(frozen=True)
class Rule:
    when: Condition | None  # None: otherwise
    result: str
    say: str
    proposal: Proposal
    #: The same finding told to the subscriber in the self-service portal (``{fact}``
    #: placeholders as in ``say``); empty: the portal shows ``say``.
    subscriber_say: str = ""


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    rules: tuple[Rule, ...]
    #: The step's title for the subscriber (the portal); empty: ``title``.
    subscriber_title: str = ""


@dataclass(frozen=True)
class Flow:
    name: str
    title: str
    description: str
    categories: tuple[str, ...]
    start: str
    steps: dict[str, Step]

    @property
    def facts(self) -> frozenset[str]:
        """Every fact the flow's conditions and texts read."""
        out: set[str] = set()
        for step in self.steps.values():
            for rule in step.rules:
                if rule.when is not None:
                    out |= rule.when.names
                out |= set(placeholders(rule.say)) | set(placeholders(rule.subscriber_say))
        return frozenset(out)


def placeholders(text: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]


def _keys(where: str, data: Any, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise FlowError(f"{where}: expected a mapping")
    missing = required - set(data)
    if missing:
        raise FlowError(f"{where}: missing {', '.join(sorted(missing))}")
    unknown = set(data) - required - optional
    if unknown:
        raise FlowError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    return data


def _text(where: str, value: Any, *, max_len: int = 2000) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise FlowError(f"{where}: must be text of 1 to {max_len} characters")
    return value.strip()


def _ident(where: str, value: Any) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise FlowError(f"{where}: {value!r} is not a name (a-z, 0-9, _; at most 60)")
    return value


def _say(where: str, value: Any) -> str:
    text = _text(where, value)
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise FlowError(f"{where}: {exc} (write {{{{ and }}}} for braces)") from exc
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in FACTS:
            raise FlowError(f"{where}: unknown fact {{{name}}} in the text")
        if spec or conversion:
            raise FlowError(f"{where}: {{{name}}} takes no format")
    return text


def _rule(where: str, data: Any, *, last: bool) -> tuple[Rule, str | None]:
    data = _keys(
        where,
        data,
        {"result", "say"},
        {"when", "otherwise", "next", "action", "dispatch", "solved", "subscriber_say"},
    )
    is_otherwise = data.get("otherwise") is True
    if ("when" in data) == is_otherwise or ("otherwise" in data and not is_otherwise):
        raise FlowError(f"{where}: give either 'when: <condition>' or 'otherwise: true'")
    if is_otherwise != last:
        raise FlowError(
            f"{where}: "
            + ("only the last rule" if is_otherwise else "the last rule must be")
            + " 'otherwise: true'"
        )
    when = None
    if not is_otherwise:
        try:
            when = compile_condition(data["when"], FACT_TYPES)
        except ConditionError as exc:
            raise FlowError(f"{where}: condition {data['when']!r}: {exc}") from exc
    nxt = _ident(f"{where} next", data["next"]) if "next" in data else None
    action = data.get("action")
    dispatch = data.get("dispatch")
    solved = data.get("solved")
    if action is not None and action not in ACTION_KINDS:
        raise FlowError(f"{where}: action {action!r} is not one of {', '.join(ACTION_KINDS)}")
    if dispatch is not None and dispatch not in WORK_ORDER_KINDS:
        raise FlowError(
            f"{where}: dispatch {dispatch!r} is not one of {', '.join(WORK_ORDER_KINDS)}"
        )
    if solved is not None and solved is not True:
        raise FlowError(f"{where}: solved must be true when given")
    ends = [k for k in ("action", "dispatch", "solved") if data.get(k) is not None]
    if len(ends) > 1:
        raise FlowError(f"{where}: give one of action, dispatch, solved (found {ends})")
    if nxt is not None and ends and ends[0] != "action":
        raise FlowError(f"{where}: {ends[0]} ends the flow; it takes no 'next'")
    if action is not None:
        proposal = Proposal("action", next=nxt, action=action)
    elif dispatch is not None:
        proposal = Proposal("dispatch", dispatch=dispatch)
    elif solved:
        proposal = Proposal("solved")
    elif nxt is not None:
        proposal = Proposal("next", next=nxt)
    else:
        proposal = Proposal("advise")
    rule = Rule(
        when,
        _ident(f"{where} result", data["result"]),
        _say(f"{where} say", data["say"]),
        proposal,
        _say(f"{where} subscriber_say", data["subscriber_say"]) if "subscriber_say" in data else "",
    )
    return rule, nxt


def parse_flow(data: Any, source: str = "<flow>") -> Flow:
    """A validated :class:`Flow` from parsed YAML; :class:`FlowError` otherwise."""
    data = _keys(source, data, {"flow", "title", "steps"}, {"description", "categories", "start"})
    name = _ident(f"{source}: flow", data["flow"])
    categories = data.get("categories") or []
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise FlowError(f"{source}: categories must be a list of case categories")
    raw_steps = data["steps"]
    if not isinstance(raw_steps, list) or not raw_steps:
        raise FlowError(f"{source}: steps must be a non-empty list")
    steps: dict[str, Step] = {}
    edges: dict[str, list[tuple[str, str]]] = {}
    for n, raw in enumerate(raw_steps, 1):
        where = f"{source}: step {n}"
        raw = _keys(where, raw, {"id", "title", "rules"}, {"subscriber_title"})
        step_id = _ident(f"{where} id", raw["id"])
        where = f"{source}: step {step_id!r}"
        if step_id in steps:
            raise FlowError(f"{where}: a second step with this id")
        rules_raw = raw["rules"]
        if not isinstance(rules_raw, list) or not rules_raw:
            raise FlowError(f"{where}: rules must be a non-empty list")
        rules: list[Rule] = []
        edges[step_id] = []
        for r, rule_raw in enumerate(rules_raw, 1):
            rule, nxt = _rule(f"{where} rule {r}", rule_raw, last=r == len(rules_raw))
            rules.append(rule)
            if nxt is not None:
                edges[step_id].append((nxt, f"{where} rule {r}"))
        steps[step_id] = Step(
            step_id,
            _text(f"{where} title", raw["title"], max_len=200),
            tuple(rules),
            _text(f"{where} subscriber_title", raw["subscriber_title"], max_len=200)
            if "subscriber_title" in raw
            else "",
        )
    start = _ident(f"{source}: start", data.get("start", next(iter(steps))))
    if start not in steps:
        raise FlowError(f"{source}: start step {start!r} does not exist")
    for targets in edges.values():
        for target, where in targets:
            if target not in steps:
                raise FlowError(f"{where}: next step {target!r} does not exist")
    reached, todo = {start}, [start]
    while todo:
        for target, _ in edges[todo.pop()]:
            if target not in reached:
                reached.add(target)
                todo.append(target)
    unreachable = [s for s in steps if s not in reached]
    if unreachable:
        raise FlowError(f"{source}: step(s) {', '.join(unreachable)} cannot be reached")
    return Flow(
        name=name,
        title=_text(f"{source}: title", data["title"], max_len=200),
        description=str(data.get("description") or "").strip(),
        categories=tuple(categories),
        start=start,
        steps=steps,
    )


def load_flow(path: Path) -> Flow:
    """Read and validate one flow file (the flow's name must be the file's stem)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise FlowError(f"{path.name}: not valid YAML: {exc}") from exc
    flow = parse_flow(data, path.name)
    if flow.name != path.stem:
        raise FlowError(f"{path.name}: flow {flow.name!r} must be named like its file")
    return flow


def load_flows(directory: Path = FLOWS_DIR) -> dict[str, Flow]:
    """Every ``*.yaml`` flow in ``directory``, by name."""
    return {f.name: f for f in (load_flow(p) for p in sorted(directory.glob("*.yaml")))}


@cache
def shipped_flows() -> dict[str, Flow]:
    """The flows shipped with Homeport (loaded and validated once per process)."""
    return load_flows(FLOWS_DIR)


def get_flow(name: str) -> Flow:
    flow = shipped_flows().get(name)
    if flow is None:
        raise NotFound(f"no guided flow {name!r}")
    return flow


def flows_for_category(category: str) -> list[Flow]:
    """The flows that declare ``category`` among theirs (the agent may run any flow)."""
    return [f for f in shipped_flows().values() if category in f.categories]


# --- Facts ------------------------------------------------------------------------------------


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def _max(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def gather_facts(
    session: Session,
    subscriber_id: int,
    *,
    now: datetime,
    health: HealthSettings | None = None,
    silent_after: timedelta = DEFAULT_SILENT_AFTER,
) -> dict[str, Any]:
    """Every fact of :data:`FACTS` about the subscriber's home now (``None``: not known)."""
    s = health or HealthSettings()
    facts: dict[str, Any] = dict.fromkeys(FACTS)
    facts.update(has_gateway=False, reporting=False, in_outage=False, recent_actions=[])
    facts.update(open_findings=[], open_findings_count=0, congested=False)
    home_id = health_service.subscriber_home(session, subscriber_id)
    facts["in_outage"] = support_service.outage_for_subscriber(session, subscriber_id) is not None
    if home_id is None:
        return facts
    home = session.get_one(Home, home_id)
    facts["technology"] = home.technology
    plan_down = session.scalar(
        select(Plan.down_mbps)
        .join(Subscriber, Subscriber.plan_id == Plan.id)
        .where(Subscriber.id == subscriber_id)
    )
    facts["plan_down_mbps"] = float(plan_down) if plan_down else None

    experience = health_service.home_experience(session, home_id, now=now, days=1, actions=20)
    current = experience.current
    if current is not None:
        weakest = min(current.subscores, key=lambda sub: sub.value)
        facts.update(
            score=current.score,
            score_band=current.band,
            weakest=weakest.key,
            weakest_score=weakest.value,
        )
    kinds = sorted({f.kind for f in experience.open_findings})
    facts.update(open_findings=kinds, open_findings_count=len(experience.open_findings))
    facts["recent_actions"] = sorted(
        {
            a.kind
            for a in experience.actions
            if a.created_at > now - RECENT and a.status not in ("cancelled", "unsupported")
        }
    )

    gateway = home.gateway
    if gateway is None:
        return facts
    facts["has_gateway"] = True
    latest = telemetry_service.latest_report(session, gateway.device_id)
    if latest is None:
        return facts
    hour = telemetry_service.reports_for_home(
        session, home_id, since=now - RECENT, until=now + timedelta(seconds=1)
    )
    _report_facts(facts, latest, hour, now=now, s=s, silent_after=silent_after)
    return facts


def _report_facts(
    facts: dict[str, Any],
    latest: TelemetryReport,
    hour: Iterable[TelemetryReport],
    *,
    now: datetime,
    s: HealthSettings,
    silent_after: timedelta,
) -> None:
    recent = list(hour) or [latest]
    age = now - latest.ts
    facts["report_age_min"] = round(max(age.total_seconds(), 0) / 60, 1)
    facts["reporting"] = age <= silent_after
    facts["wan_status"] = latest.wan_status
    facts["wan_up"] = latest.wan_status == "up"
    up_reports = [r for r in recent if r.wan_status == "up"]
    down = _max(r.down_mbps for r in up_reports)
    facts["down_mbps"] = _round(down)
    facts["up_mbps"] = _round(_max(r.up_mbps for r in up_reports))
    plan = facts["plan_down_mbps"]
    if down is not None and plan:
        facts["speed_pct"] = round(100 * down / plan, 1)
    facts["latency_ms"] = _round(latest.latency_ms)
    facts["jitter_ms"] = _round(latest.jitter_ms)
    facts["loss_pct"] = _round(latest.loss_pct, 2)
    if latest.optical_rx_dbm is not None:
        rx = float(latest.optical_rx_dbm)
        facts["optical_rx_dbm"] = round(rx, 2)
        facts["optical_in_range"] = s.optical_min_dbm <= rx <= s.optical_max_dbm
    if latest.uptime_s is not None:
        facts["uptime_min"] = round(latest.uptime_s / 60, 1)
    facts["disconnects_1h"] = sum(r.disconnects or 0 for r in recent)

    detail = latest.detail or {}
    clients = [c for c in detail.get("clients", []) if isinstance(c, dict)]
    facts["clients"] = len(clients)
    if clients:
        rssi = [float(c.get("rssi_dbm", -120)) for c in clients]
        facts["clients_weak"] = sum(1 for r in rssi if r < s.weak_rssi_dbm)
        facts["good_signal_share"] = round(
            sum(1 for r in rssi if r >= s.good_rssi_dbm) / len(rssi), 3
        )
        retrans = [float(c["retrans_pct"]) for c in clients if c.get("retrans_pct") is not None]
        facts["retrans_pct"] = round(max(retrans), 1) if retrans else None
        facts["steer_candidates"] = len(steer_candidates(clients, s))
    else:
        facts["clients_weak"] = 0
        facts["steer_candidates"] = 0
    busiest: float | None = None
    worst_congested: tuple[float, str] | None = None
    for radio in detail.get("radios", []):
        util = float(radio.get("utilization_pct") or 0)
        interference = float(radio.get("interference_pct") or 0)
        busy = max(util, interference)
        busiest = busy if busiest is None else max(busiest, busy)
        congested = util > s.utilization_warn_pct or interference > s.interference_warn_pct
        if congested and (worst_congested is None or busy > worst_congested[0]):
            worst_congested = (busy, str(radio.get("band")))
    facts["busiest_radio_pct"] = busiest
    facts["congested"] = worst_congested is not None
    facts["congested_band"] = worst_congested[1] if worst_congested else None
    mesh = [m for m in detail.get("mesh", []) if isinstance(m, dict)]
    facts["mesh_nodes"] = len(mesh)
    facts["mesh_backhaul_weak"] = any(
        m.get("backhaul", "wireless") == "wireless"
        and (
            (
                m.get("backhaul_rssi_dbm") is not None
                and m["backhaul_rssi_dbm"] < s.backhaul_weak_rssi_dbm
            )
            or (m.get("backhaul_mbps") is not None and m["backhaul_mbps"] < s.backhaul_min_mbps)
        )
        for m in mesh
    )


def steer_candidates(clients: Iterable[Mapping[str, Any]], s: HealthSettings) -> list[str]:
    """MACs of 2.4 GHz clients that can use 5 GHz and have a good signal (band steering checks
    the client's RSSI before moving it [T7]), worst retransmissions first."""
    found = [
        c
        for c in clients
        if c.get("band") == "2.4GHz"
        and not c.get("legacy_2g_only")
        and float(c.get("rssi_dbm", -120)) >= s.good_rssi_dbm
    ]
    found.sort(key=lambda c: -float(c.get("retrans_pct") or 0))
    return [str(c["mac"]) for c in found]


# --- Evaluating and recording steps -----------------------------------------------------------


def _shown(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def render_say(text: str, facts: Mapping[str, Any]) -> str:
    """The rule's text with its ``{fact}`` placeholders filled in (names checked at load)."""
    return "".join(
        literal + (_shown(facts.get(name)) if name is not None else "")
        for literal, name, _, _ in string.Formatter().parse(text)
    )


@dataclass(frozen=True)
class Outcome:
    flow: str
    step: str
    result: str
    text: str
    proposal: Proposal
    #: Every fact of the home, as the step saw it.
    seen: dict[str, Any] = field(default_factory=dict)
    #: The result in the subscriber's words (the rule's ``subscriber_say``, else ``text``).
    subscriber_text: str = ""


def evaluate_step(flow: Flow, step_id: str, facts: Mapping[str, Any]) -> Outcome:
    """The first rule of the step that holds over ``facts`` (pure; nothing is written)."""
    step = flow.steps.get(step_id)
    if step is None:
        raise NotFound(f"flow {flow.name!r} has no step {step_id!r}")
    for rule in step.rules:
        if rule.when is None or rule.when(facts):
            seen = {name: facts.get(name) for name in FACTS}
            text = render_say(rule.say, facts)
            told = render_say(rule.subscriber_say, facts) if rule.subscriber_say else text
            return Outcome(flow.name, step.id, rule.result, text, rule.proposal, seen, told)
    raise AssertionError("a validated step always ends with 'otherwise'")  # pragma: no cover


def next_step(session: Session, case_id: int, flow: Flow) -> str | None:
    """The step to run next on this case: the flow's start, or what the last recorded step of
    this flow proposed (None when the flow has ended)."""
    last = session.scalar(
        select(GuidedStep)
        .where(GuidedStep.case_id == case_id, GuidedStep.flow == flow.name)
        .order_by(GuidedStep.at.desc(), GuidedStep.id.desc())
        .limit(1)
    )
    if last is None:
        return flow.start
    proposal = (last.observation or {}).get("proposal") or {}
    nxt = proposal.get("next")
    return nxt if isinstance(nxt, str) and nxt in flow.steps else None


def history(session: Session, case_id: int) -> list[GuidedStep]:
    """The guided steps run on a case, oldest first."""
    return list(
        session.scalars(
            select(GuidedStep)
            .where(GuidedStep.case_id == case_id)
            .order_by(GuidedStep.at, GuidedStep.id)
        )
    )


@dataclass(frozen=True)
class StepRun:
    guided_step_id: int
    outcome: Outcome


def _case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    if case.subscriber_id is None:
        raise Conflict(f"case {case_id} has no known subscriber: link it to one first")
    return case


def run_step(
    session: Session,
    *,
    case_id: int,
    flow_name: str,
    actor: Actor,
    now: datetime,
    step: str | None = None,
    health: HealthSettings | None = None,
    silent_after: timedelta = DEFAULT_SILENT_AFTER,
    flows: Mapping[str, Flow] | None = None,
) -> StepRun:
    """Evaluate ``step`` (default: the case's next step in the flow) over the home's live facts
    and record it: a ``GuidedStep`` row with the result and the facts seen, and an audit entry.

    :class:`NotFound` for an unknown case, flow or step; :class:`Conflict` when the case has no
    subscriber, or the flow already ended on this case and no step is named."""
    flow = (flows or shipped_flows()).get(flow_name)
    if flow is None:
        raise NotFound(f"no guided flow {flow_name!r}")
    case = _case(session, case_id)
    if step is None:
        step = next_step(session, case_id, flow)
        if step is None:
            raise Conflict(f"flow {flow.name!r} has ended on case {case_id}; name a step to rerun")
    elif step not in flow.steps:
        raise ValidationFailed(
            "unknown step", [FieldError("step", f"one of {', '.join(flow.steps)}")]
        )
    assert case.subscriber_id is not None
    facts = gather_facts(
        session, case.subscriber_id, now=now, health=health, silent_after=silent_after
    )
    outcome = evaluate_step(flow, step, facts)
    staff_id = actor.id if actor.kind == "staff" else None
    row = GuidedStep(
        case_id=case_id,
        flow=flow.name,
        step=outcome.step,
        result=outcome.result,
        observation={
            "facts": outcome.seen,
            "text": outcome.text,
            "proposal": outcome.proposal.as_json(),
        },
        staff_user_id=staff_id,
        at=now,
    )
    session.add(row)
    session.flush()
    record(
        session,
        at=now,
        actor=actor,
        action="guided_step.ran",
        entity_type="case",
        entity_id=case_id,
        guided_step_id=row.id,
        flow=flow.name,
        step=outcome.step,
        result=outcome.result,
        proposal=outcome.proposal.as_json(),
    )
    return StepRun(row.id, outcome)


def action_params(
    kind: str, facts: Mapping[str, Any], clients: list[dict[str, Any]], s: HealthSettings
) -> dict[str, Any]:
    """Parameters for a proposed remote action, from what the step saw: the congested band's
    next preferred channel, or the 2.4 GHz client to steer to 5 GHz."""
    if kind == "set_channel":
        band = facts.get("congested_band")
        if band not in PREFERRED_CHANNELS:
            raise Conflict("no congested band to move: run the step again")
        current = facts.get("congested_channel_no")
        choices = [c for c in PREFERRED_CHANNELS[band] if c != current]
        after = [c for c in choices if isinstance(current, int) and c > current]
        return {"band": band, "channel": (after or choices)[0]}
    if kind == "band_steer":
        macs = steer_candidates(clients, s)
        if not macs:
            raise Conflict("no 2.4 GHz client with a good enough signal to steer")
        return {"mac": macs[0], "band": "5GHz"}
    if kind in ("reboot", "speed_test"):
        return {}
    raise Conflict(f"a {kind} cannot be proposed from a guided step")


def queue_proposed_action(
    session: Session,
    *,
    guided_step_id: int,
    actor: Actor,
    now: datetime,
    health: HealthSettings | None = None,
) -> DeviceAction:
    """Queue the remote action a recorded step proposed, for the case's home gateway (the
    remote queue's rate limits apply and raise :class:`Conflict`)."""
    row = session.get(GuidedStep, guided_step_id)
    if row is None:
        raise NotFound(f"no guided step {guided_step_id}")
    proposal = (row.observation or {}).get("proposal") or {}
    kind = proposal.get("action")
    if proposal.get("kind") != "action" or not isinstance(kind, str):
        raise Conflict(f"guided step {guided_step_id} proposed no remote action")
    if actor.kind != "staff" or actor.id is None:
        raise Conflict("only a staff member can queue a proposed action")
    case = _case(session, row.case_id)
    assert case.subscriber_id is not None
    home_id, device_id = health_service.subscriber_gateway(session, case.subscriber_id)
    latest = telemetry_service.latest_report(session, device_id)
    detail = (latest.detail or {}) if latest is not None else {}
    facts = dict((row.observation or {}).get("facts") or {})
    band = facts.get("congested_band")
    for radio in detail.get("radios", []):
        if radio.get("band") == band:
            facts["congested_channel_no"] = radio.get("channel")
    clients = [c for c in detail.get("clients", []) if isinstance(c, dict)]
    action = remote.queue_action(
        session,
        home_id=home_id,
        device_id=device_id,
        kind=kind,
        params=action_params(kind, facts, clients, health or HealthSettings()),
        requested_by=f"staff:{actor.id}",
        finding_id=None,
        now=now,
    )
    record(
        session,
        at=now,
        actor=actor,
        action="guided_step.action_queued",
        entity_type="case",
        entity_id=case.id,
        guided_step_id=row.id,
        device_action_id=action.id,
        kind=kind,
    )
    return action
