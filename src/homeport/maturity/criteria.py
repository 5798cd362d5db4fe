"""The criteria of each maturity stage (DESIGN.md section 7), judged on measured :class:`Facts`.

Pure functions: :func:`judge` turns the figures of :mod:`homeport.maturity.evidence` and the
thresholds of :class:`MaturitySettings` into one :class:`Criterion` per row of the stage table,
each with its value, threshold and evidence in plain words. A figure that cannot be measured
(nothing to divide) is ``None`` and never meets its criterion.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from homeport.core.maturity_settings import MaturitySettings
from homeport.maturity.evidence import KPI_FAMILIES, Facts, share

STAGES: dict[int, tuple[str, str]] = {
    1: ("Reactive break/fix", "Subscribers report problems; basic troubleshooting, then a truck."),
    2: (
        "Remote troubleshooting",
        "Live home-network data is used on the first call; remote fixes replace trucks.",
    ),
    3: (
        "Starting proactive",
        "Detectors open proactive cases; some self-service, a few KPIs, several channels.",
    ),
    4: (
        "Reactive + proactive",
        "Self-service is standard, KPIs are tracked programmatically, issues are fixed before "
        "the subscriber knows.",
    ),
    5: (
        "Service excellence",
        "Comprehensive KPIs, owners for every journey stage, proactive monitoring of the "
        "experience, omnichannel.",
    ),
}

Unit = Literal["share", "count", "percent"]


@dataclass(frozen=True)
class Criterion:
    """One criterion of one stage: what was measured (``value``), against what
    (``threshold``: a minimum, or a maximum when ``at_most``), and the evidence in words."""

    id: str
    stage: int
    title: str
    met: bool
    value: float | None
    threshold: float | None
    evidence: str
    unit: Unit = "count"
    at_most: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def pct(value: float | None) -> str:
    if value is None:
        return "not measurable"
    return f"{value * 100:.0f} %"


def _num(value: float | None, unit: Unit) -> str:
    if value is None:
        return "not measurable"
    if unit == "share":
        return pct(value)
    if unit == "percent":
        return f"{value:.1f} %"
    return f"{value:g}"


def _at_least(
    cid: str,
    stage: int,
    title: str,
    value: float | None,
    threshold: float,
    evidence: str,
    unit: Unit,
) -> Criterion:
    met = value is not None and value >= threshold
    return Criterion(cid, stage, title, met, value, threshold, evidence, unit)


def judge(facts: Facts, s: MaturitySettings) -> list[Criterion]:
    """Every criterion of every stage, stage 1 first."""
    f = facts
    out: list[Criterion] = []
    live = ", ".join(f.live_channels) or "none"
    per_channel = ", ".join(f"{c} {n}" for c, n in f.live_channel_contacts.items())

    # --- Stage 1 ---------------------------------------------------------------------------
    out.append(
        _at_least(
            "cases_recorded",
            1,
            "Cases are recorded",
            f.cases_opened,
            s.min_cases,
            f"{f.cases_opened} cases opened in the window.",
            "count",
        )
    )
    categorised = share(f.cases_solved_categorised, f.cases_solved)
    out.append(
        _at_least(
            "cases_categorised",
            1,
            "Cases have a category and an outcome",
            categorised,
            s.categorised_share,
            f"{f.cases_solved_categorised} of {f.cases_solved} cases solved in the window have "
            f"a specific category (not {', '.join(repr(c) for c in s.generic_categories if c)}) "
            "and an outcome.",
            "share",
        )
    )

    # --- Stage 2 ---------------------------------------------------------------------------
    out.append(
        _at_least(
            "remote_diagnostics",
            2,
            "Remote diagnostics on technical cases",
            share(f.reactive_technical_diagnosed, f.reactive_technical_opened),
            s.remote_diagnostics_share,
            f"{f.reactive_technical_diagnosed} of {f.reactive_technical_opened} reactive "
            "technical cases had guided troubleshooting, a remote action by staff or the "
            "chatbot's diagnosis while open.",
            "share",
        )
    )
    out.append(
        _at_least(
            "remote_fix",
            2,
            "Technical cases solved by a remote fix",
            share(f.reactive_technical_remote_fix, f.reactive_technical_solved),
            s.remote_fix_share,
            f"{f.reactive_technical_remote_fix} of {f.reactive_technical_solved} reactive "
            "technical cases solved in the window were solved by a remote fix.",
            "share",
        )
    )
    fcr = share(f.fcr_resolved, f.fcr_cases)
    out.append(
        _at_least(
            "fcr_measured",
            2,
            "First-contact resolution is measured",
            f.fcr_cases,
            s.fcr_min_cases,
            f"{f.fcr_cases} solved reactive cases have the subscriber's contacts on record; "
            f"first-contact resolution {pct(fcr)}.",
            "count",
        )
    )

    # --- Stage 3 ---------------------------------------------------------------------------
    technical = f.proactive_cases + f.reactive_technical_opened
    out.append(
        _at_least(
            "proactive_cases",
            3,
            "Proactive cases among technical cases",
            share(f.proactive_cases, technical),
            s.proactive_cases_share,
            f"{f.proactive_cases} proactive cases of {technical} technical cases opened in the "
            "window.",
            "share",
        )
    )
    out.append(
        _at_least(
            "self_service_users",
            3,
            "Subscribers use self-service",
            share(f.self_service_users, f.active_subscribers),
            s.self_service_users_share,
            f"{f.self_service_users} of {f.active_subscribers} active subscribers used the "
            "portal, app or chatbot in the window.",
            "share",
        )
    )
    besides = [c for c in f.live_channels if c != "phone"]
    out.append(
        _at_least(
            "channels_besides_phone",
            3,
            "Live channels besides phone",
            len(besides),
            s.channels_besides_phone,
            f"Live: {live} (at least {s.live_channel_min_contacts} contacts in the last "
            f"{s.live_channel_days} days; contacts: {per_channel}).",
            "count",
        )
    )
    out.append(
        _at_least(
            "kpis_tracked",
            3,
            "KPIs tracked",
            len(f.kpis_tracked),
            s.kpis_tracked,
            "KPIs with a target or a snapshot in the window: "
            f"{', '.join(f.kpis_tracked) or 'none'}.",
            "count",
        )
    )

    # --- Stage 4 ---------------------------------------------------------------------------
    issues = f.proactive_issues + f.reactive_technical_opened
    proactive_share = share(f.proactive_issues, issues)
    share_evidence = (
        f"{f.proactive_issues} of {issues} technical issues reached the BSP before the "
        f"subscriber did ({f.proactive_cases} proactive cases, {f.auto_fixed_findings} findings "
        f"fixed automatically; {f.reactive_technical_opened} reported by subscribers)."
    )
    out.append(
        _at_least(
            "proactive_share",
            4,
            "Proactive share",
            proactive_share,
            s.proactive_share,
            share_evidence,
            "share",
        )
    )
    out.append(
        _at_least(
            "auto_remediation",
            4,
            "Auto-remediation is active",
            f.auto_remediation_actions,
            s.auto_remediation_min_actions,
            f"{f.auto_remediation_actions} remote actions queued by remediation policies in the "
            f"window; {f.auto_fixed_findings} findings fixed that way without a case.",
            "count",
        )
    )
    out.append(
        _at_least(
            "self_service_containment",
            4,
            "Self-service containment",
            f.containment_rate,
            s.self_service_containment,
            f"{f.containment_conversations} chatbot conversations ended in the window; "
            f"{pct(f.containment_rate)} solved with no person and no repeat contact in 7 days.",
            "share",
        )
    )
    chat_live = [c for c in f.live_channels if c in s.chat_channels]
    out.append(
        Criterion(
            "live_channels_with_chat",
            4,
            "Live channels including chat or bot",
            len(f.live_channels) >= s.live_channels and bool(chat_live),
            len(f.live_channels),
            s.live_channels,
            f"Live: {live}; "
            + (
                f"{' and '.join(chat_live)} among them."
                if chat_live
                else f"neither {' nor '.join(s.chat_channels)} is live."
            ),
            "count",
        )
    )
    out.append(
        _at_least(
            "kpi_targets",
            4,
            "KPI targets set",
            len(f.kpis_with_targets),
            s.kpi_targets,
            f"KPIs with an overall target: {', '.join(f.kpis_with_targets) or 'none'}.",
            "count",
        )
    )
    out.append(
        _at_least(
            "kpi_reports",
            4,
            "KPI reports scheduled",
            f.kpi_reports,
            s.kpi_reports,
            f"{f.kpi_reports} active scheduled KPI report subscriptions.",
            "count",
        )
    )
    out.append(
        _at_least(
            "technician_recommendations",
            4,
            "Technicians record recommendations",
            share(f.visits_with_recommendation, f.visits_completed),
            s.technician_recommendations_share,
            f"{f.visits_with_recommendation} of {f.visits_completed} visits completed in the "
            f"window have a recommendation in the technician's notes "
            f"(words: {', '.join(s.recommendation_words)}).",
            "share",
        )
    )

    # --- Stage 5 ---------------------------------------------------------------------------
    out.append(
        _at_least(
            "proactive_share_excellent",
            5,
            "Proactive share (excellence)",
            proactive_share,
            s.proactive_share_excellent,
            share_evidence,
            "share",
        )
    )
    out.append(
        _at_least(
            "proactive_no_contact",
            5,
            "Proactive issues resolved with no subscriber contact",
            share(f.proactive_resolved_no_contact, f.proactive_issues),
            s.proactive_no_contact_share,
            f"{f.proactive_resolved_no_contact} of {f.proactive_issues} proactive issues were "
            "resolved before the subscriber got in touch about them.",
            "share",
        )
    )
    missing = [fam for fam in KPI_FAMILIES if fam not in f.kpi_families_with_targets]
    out.append(
        _at_least(
            "kpi_families",
            5,
            "Every KPI family tracked with targets",
            len(f.kpi_families_with_targets),
            len(KPI_FAMILIES),
            f"Families with a targeted KPI: {', '.join(f.kpi_families_with_targets) or 'none'}"
            + (f"; missing: {', '.join(missing)}." if missing else "."),
            "count",
        )
    )
    out.append(
        _at_least(
            "nps_moments",
            5,
            "NPS collected at journey moments",
            len(f.nps_moments),
            s.nps_moments,
            f"NPS answered in the window at: {', '.join(f.nps_moments) or 'no moment'}.",
            "count",
        )
    )
    unowned = [st for st in f.journey_stages if st not in f.owned_stages]
    out.append(
        _at_least(
            "journey_owners",
            5,
            "Every journey stage has an owner",
            len(f.owned_stages),
            len(f.journey_stages),
            f"{len(f.owned_stages)} of {len(f.journey_stages)} journey stages have an owner"
            + (f"; without one: {', '.join(unowned)}." if unowned else "."),
            "count",
        )
    )
    out.append(
        _at_least(
            "live_channels",
            5,
            "Live channels (omnichannel)",
            len(f.live_channels),
            s.live_channels_excellent,
            f"Live: {live}.",
            "count",
        )
    )
    rate, target = f.truck_roll_rate, f.truck_roll_target
    out.append(
        Criterion(
            "truck_roll_rate",
            5,
            "Truck-roll rate at or below target",
            rate is not None and target is not None and rate <= target,
            rate,
            target,
            f"{f.truck_rolls} of {f.technical_opened} technical cases opened in the window had a "
            "repair visit"
            + (
                "; no truck_roll_rate target is set."
                if target is None
                else f"; target {target:g} %."
            ),
            "percent",
            at_most=True,
        )
    )
    out.append(
        _at_least(
            "digital_adoption",
            5,
            "Digital adoption",
            share(f.digital_users, f.active_subscribers),
            s.digital_adoption,
            f"{f.digital_users} of {f.active_subscribers} active subscribers used the portal, "
            f"app or chatbot in the last {s.digital_adoption_days} days.",
            "share",
        )
    )
    return out


def stage_of(criteria: list[Criterion]) -> int:
    """The highest stage whose criteria, and every lower stage's, all hold (0: not even
    stage 1's)."""
    reached = 0
    for stage in sorted(STAGES):
        if all(c.met for c in criteria if c.stage == stage):
            reached = stage
        else:
            break
    return reached


def gap_text(c: Criterion) -> str:
    """What is missing for one unmet criterion, in plain words."""
    needed = (
        "not measurable"
        if c.threshold is None
        else (
            f"at most {_num(c.threshold, c.unit)}"
            if c.at_most
            else f"at least {_num(c.threshold, c.unit)}"
        )
    )
    if c.id == "truck_roll_rate" and c.threshold is None:
        return f"{c.title}: set a truck_roll_rate target (now {_num(c.value, c.unit)})."
    return f"{c.title}: {_num(c.value, c.unit)} now, stage {c.stage} needs {needed}."
