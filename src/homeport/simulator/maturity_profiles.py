"""What a BSP at each maturity stage does, for :mod:`homeport.simulator.maturity`: the profile
of each stage (channels, proactive work, self-service, KPI program, journey) and the words its
subscribers, agents and technicians use."""

from __future__ import annotations

from dataclasses import dataclass

from homeport.kpis.definitions import FAMILIES


@dataclass(frozen=True)
class Profile:
    """How a BSP at one stage operates (the shares are of the issues or subscribers named)."""

    stage: int
    #: Technical problems per active subscriber per day (reactive and proactive together).
    issues_per_subscriber_day: float
    #: Of the technical problems: found by detectors and opened as proactive cases ...
    proactive_case_share: float
    #: ... or fixed automatically by a remediation policy, with no case.
    auto_fix_share: float
    #: Of the reactive technical cases: remote diagnostics by the agent.
    diagnostics_share: float
    #: How reactive technical cases end (the rest: advice, "no fault found").
    remote_fix_share: float
    truck_roll_share: float
    #: Of proactive problems: the subscriber gets in touch about it anyway.
    proactive_contacted_share: float
    #: Contacts per channel (support channel -> weight).
    channels: dict[str, float]
    #: Non-technical contacts (billing, moving) per technical reactive case.
    other_contacts_ratio: float
    #: Active subscribers who use self-service during the days, and on which channels.
    self_service_share: float
    engagement_channels: tuple[str, ...]
    #: Chatbot conversations per 100 active subscribers per day, and how many are contained.
    bot_per_100_day: float = 0.0
    bot_contained_share: float = 0.0
    #: KPI program: weekly snapshots, overall targets for these families, a report.
    kpi_snapshots: bool = False
    kpi_target_families: tuple[str, ...] = ()
    kpi_report: bool = False
    #: Visits whose technician notes carry a recommendation.
    recommendation_share: float = 0.0
    #: Journey: NPS answered at these moments, CSAT after solved cases, stage owners.
    nps_moments: tuple[str, ...] = ()
    csat: bool = False
    stage_owners: bool = False
    #: Truck-roll rate target (%, the KPI truck_roll_rate), with the targets.
    truck_roll_target: float = 15.0


PROFILES: dict[int, Profile] = {
    1: Profile(
        stage=1,
        issues_per_subscriber_day=0.02,
        proactive_case_share=0.0,
        auto_fix_share=0.0,
        diagnostics_share=0.05,
        remote_fix_share=0.05,
        truck_roll_share=0.55,
        proactive_contacted_share=0.0,
        channels={"phone": 1.0},
        other_contacts_ratio=0.3,
        self_service_share=0.0,
        engagement_channels=(),
    ),
    2: Profile(
        stage=2,
        issues_per_subscriber_day=0.02,
        proactive_case_share=0.0,
        auto_fix_share=0.0,
        diagnostics_share=0.75,
        remote_fix_share=0.45,
        truck_roll_share=0.25,
        proactive_contacted_share=0.0,
        channels={"phone": 0.7, "email": 0.3},
        other_contacts_ratio=0.3,
        self_service_share=0.03,
        engagement_channels=("portal",),
    ),
    3: Profile(
        stage=3,
        issues_per_subscriber_day=0.02,
        proactive_case_share=0.25,
        auto_fix_share=0.0,
        diagnostics_share=0.8,
        remote_fix_share=0.45,
        truck_roll_share=0.2,
        proactive_contacted_share=0.4,
        channels={"phone": 0.5, "email": 0.25, "live_chat": 0.25},
        other_contacts_ratio=0.3,
        self_service_share=0.2,
        engagement_channels=("portal",),
        kpi_snapshots=True,
    ),
    4: Profile(
        stage=4,
        issues_per_subscriber_day=0.02,
        proactive_case_share=0.25,
        auto_fix_share=0.25,
        diagnostics_share=0.85,
        remote_fix_share=0.5,
        truck_roll_share=0.15,
        proactive_contacted_share=0.3,
        channels={"phone": 0.4, "email": 0.3, "live_chat": 0.3},
        other_contacts_ratio=0.3,
        self_service_share=0.35,
        engagement_channels=("portal", "bot"),
        bot_per_100_day=0.6,
        bot_contained_share=0.5,
        kpi_snapshots=True,
        kpi_target_families=("support", "proactive", "digital"),
        kpi_report=True,
        recommendation_share=0.5,
        csat=True,
    ),
    5: Profile(
        stage=5,
        issues_per_subscriber_day=0.02,
        proactive_case_share=0.3,
        auto_fix_share=0.45,
        diagnostics_share=0.9,
        remote_fix_share=0.55,
        truck_roll_share=0.1,
        proactive_contacted_share=0.15,
        channels={"phone": 0.25, "email": 0.2, "live_chat": 0.2, "app": 0.2, "sms": 0.15},
        other_contacts_ratio=1.0,
        self_service_share=0.7,
        engagement_channels=("portal", "app", "bot"),
        bot_per_100_day=0.8,
        bot_contained_share=0.6,
        kpi_snapshots=True,
        kpi_target_families=FAMILIES,
        kpi_report=True,
        recommendation_share=0.7,
        nps_moments=("post_install", "case_solved", "relationship"),
        csat=True,
        stage_owners=True,
    ),
}

#: Reactive technical problems: (category, subject, what the subscriber says).
TECHNICAL = (
    ("no_internet", "No internet", "Our internet has stopped working, the light is red."),
    ("slow_speed", "Slow internet", "The speed is nowhere near what I pay for in the evening."),
    ("wifi", "Wi-Fi doesn't reach upstairs", "The Wi-Fi is useless in the bedrooms."),
    ("equipment", "Router keeps restarting", "The router restarts itself every few minutes."),
)
OTHER = (
    ("billing", "Question about my bill", "I was charged twice this month, can you check?"),
    ("moving", "Moving home", "We are moving next month, how do I take the service with me?"),
)
#: Findings the detectors would raise for a proactive case: (kind, severity, summary).
PROACTIVE_KINDS = (
    ("speed_below_plan", "warning", "Download well below the plan's speed"),
    ("optical_power", "warning", "Optical receive power degrading"),
    ("reboot_loop", "critical", "Gateway rebooting repeatedly"),
    ("coverage_gap", "warning", "Wi-Fi clients with weak signal"),
)
VISIT_NOTES = "Replaced the faulty patch lead at the wall socket; line tested."
UPGRADE_NOTES = "Fitted the new gateway for the plan upgrade; all devices reconnected."
RECOMMENDATIONS = (
    "Recommendation: a mesh satellite on the landing for the upstairs bedrooms.",
    "Recommended upgrading to the 500 Mbps plan: four people streaming and working from home.",
    "Recommend moving the gateway out of the cupboard to the hall shelf.",
)
BOT_CONTAINED = (
    "how do i set up parental controls",
    "how do I find my router admin page",
)
BOT_HANDED_OVER = "I was charged twice on my bill this month"
ENGAGEMENT_KINDS = ("home", "my_network", "speed_test", "help_article", "restart")
