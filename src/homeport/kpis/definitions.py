"""One definition per KPI (DESIGN.md section 6): name, family, unit, direction, formula, the
source of the formula (``../shared/REFERENCE.md`` section 3 keys such as [K4], or the definition
Homeport chose where none is published), the edge cases, the cuts it accepts and its default
target. ``homeport kpis docs`` writes ``docs/kpis.md`` from this module; the computations are in
:mod:`homeport.kpis.service`, one function per name.

Conventions that hold for every KPI unless its edge cases say otherwise:

- A period is ``[since, until)`` in UTC; day, week and month buckets start at midnight, Monday
  and the 1st in the BSP's time zone (``settings.timezone``).
- "Subscribers" at a time *t* are those activated at or before *t* and not churned by *t*
  (``activated_at`` / ``churned_at`` of the subscriber): the base of every "per subscriber" KPI.
- A case merged into another (``merged_into_id`` set, outcome ``duplicate``) is never counted:
  its contacts moved to the surviving case, which is counted once.
- A reopened case loses its ``solved_at`` and outcome (support domain); it counts when it is
  solved again, in the period of that last resolution.
- Technical cases are proactive cases and reactive cases in a technical category
  (:data:`TECHNICAL_CATEGORIES` and every detector kind); billing, moving, cancellation and
  general questions are not technical.
- Nothing to measure (no case, no answer, no subscriber in the period or cut): the value is
  None, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FAMILIES = ("support", "proactive", "digital", "satisfaction", "journey", "churn")
#: The dimensions a KPI can be cut by (``homeport.kpis.service.Cut``).
DIMENSIONS = ("channel", "team_id", "agent_id", "region_id", "plan_id", "journey_stage", "origin")
#: Reactive case categories about the service itself (plus every detector kind).
TECHNICAL_CATEGORIES = ("no_internet", "slow_speed", "wifi", "equipment")
#: Counting KPIs over a period are scaled to this many days, so that a day, a week and a month
#: compare with one target.
MONTH_DAYS = 30.0
#: Where a subscriber counts as digitally adopted / monthly active (days before ``until``).
ADOPTION_DAYS = 90
ENGAGEMENT_DAYS = 30
#: Experience-score bands (DESIGN.md 5a, as Adtran bands its score).
GOOD_SCORE = 81.0

_CASE = frozenset(DIMENSIONS)
_CASE_NO_ORIGIN = _CASE - {"origin"}
_SUBSCRIBER = frozenset({"region_id", "plan_id", "journey_stage"})
_ANY = "Homeport's choice"


@dataclass(frozen=True)
class Kpi:
    """A KPI's definition. ``doc`` states the edge cases; ``cuts`` the dimensions it accepts;
    ``default_target`` is what ``homeport kpis targets --defaults`` sets (None: no default)."""

    name: str
    title: str
    family: str
    unit: str
    higher_is_better: bool
    formula: str
    source: str
    doc: str
    cuts: frozenset[str] = field(default=_CASE)
    default_target: float | None = None
    target_source: str = ""
    #: Part of the headline (leadership overview and the emailed report).
    headline: bool = False

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"{self.name}: unknown family {self.family!r}")
        unknown = set(self.cuts) - set(DIMENSIONS)
        if unknown:
            raise ValueError(f"{self.name}: unknown cuts {sorted(unknown)}")

    @property
    def direction(self) -> str:
        return "higher" if self.higher_is_better else "lower"


_DEFINITIONS = (
    # ---- support -------------------------------------------------------------------------
    Kpi(
        name="first_contact_resolution",
        title="First-contact resolution",
        family="support",
        unit="%",
        higher_is_better=True,
        formula="reactive cases solved in the period on the subscriber's first contact, with no "
        "repeat reactive case on the same category within 7 days of solving ÷ reactive cases "
        "solved in the period × 100",
        source="[K1][K3] (issues resolved on first contact ÷ contacts); 'first contact' and the "
        "7-day repeat rule are homeport.support.service.first_contact_resolved",
        doc="Counts each solved reactive case once, as support.service.first_contact_resolved "
        "does: more than one contact (an inbound email, SMS, call or app message; one chat "
        "conversation is one contact) makes it not resolved. Proactive and merged (duplicate) "
        "cases are excluded. A reopened case is counted when solved again; a subscriber writing "
        "again reopens it and that extra contact fails it. A case solved less than 7 days "
        "before the report may still lose its FCR. No reactive case solved: None.",
        default_target=70.0,
        target_source="[K14][K15] weak-authority benchmark FCR 70–85 %: the bottom of the range",
        headline=True,
    ),
    Kpi(
        name="repeat_contact_rate",
        title="Repeat contacts (7 days)",
        family="support",
        unit="%",
        higher_is_better=False,
        formula="reactive cases opened in the period whose subscriber opened another reactive "
        "case on the same category in the 7 days before ÷ reactive cases opened in the period "
        "× 100",
        source="[K7] repeat contacts within 7 days ÷ contacts; a contact is a case here",
        doc="A case is a repeat when the same subscriber opened a reactive case with the same "
        "category within the 7 days before it (the earlier one may lie before the period). "
        "Cases of unknown senders (no subscriber) are never repeats. Merged duplicates are "
        "excluded on both sides. No reactive case opened: None.",
        default_target=10.0,
        target_source="[K7] healthy below 10 %",
    ),
    Kpi(
        name="truck_roll_rate",
        title="Truck-roll rate",
        family="support",
        unit="%",
        higher_is_better=False,
        formula="technical cases opened in the period with a repair visit (a repair work order "
        "not cancelled) ÷ technical cases opened in the period × 100 (truck rolls per 100 "
        "technical cases)",
        source=f"{_ANY}: no published definition (REFERENCE.md section 3 suggests truck rolls ÷ "
        "tech contacts)",
        doc="A case with two repair visits counts once (repeat visits are repeat_dispatch_rate). "
        "Install and upgrade visits are not truck rolls for a problem. A visit booked after the "
        "period for a case opened in it still counts once booked, so recent periods may rise. "
        "Merged duplicates excluded. No technical case: None.",
        default_target=15.0,
        target_source=f"{_ANY}: [AT1] reports a quarter of Wi-Fi complaints end in a truck "
        "roll; 15 % asks for better",
        headline=True,
    ),
    Kpi(
        name="truck_rolls_per_1000_subscribers",
        title="Truck rolls per 1,000 subscribers (30 days)",
        family="support",
        unit="per 1,000",
        higher_is_better=False,
        formula="repair work orders booked in the period and not cancelled ÷ subscribers at the "
        "end of the period × 1,000, scaled to 30 days",
        source=f"{_ANY}: no published definition; DESIGN.md 6 asks for truck rolls per 1,000 "
        "subscribers",
        doc="Scaled to 30 days (× 30 ÷ days in the period) so that every period compares with "
        "one target. Work orders of subscribers outside the base are still counted. No "
        "subscriber: None.",
        cuts=_SUBSCRIBER,
    ),
    Kpi(
        name="repeat_dispatch_rate",
        title="Repeat dispatches (30 days)",
        family="support",
        unit="%",
        higher_is_better=False,
        formula="work orders booked in the period that repeat a visit to the same home within "
        "30 days (repeat_of_id set) ÷ work orders booked in the period × 100",
        source=f"{_ANY}: REFERENCE.md section 3 suggests second dispatch to the same premise "
        "within N days ÷ dispatches; the support domain flags repeats within 30 days",
        doc="Cancelled work orders are excluded on both sides. No work order: None.",
        cuts=_SUBSCRIBER,
    ),
    Kpi(
        name="no_fault_found_rate",
        title="No-fault-found visits",
        family="support",
        unit="%",
        higher_is_better=False,
        formula="work orders completed in the period with outcome no_fault_found ÷ work orders "
        "completed in the period × 100",
        source=f"{_ANY}: DESIGN.md 6 (no-fault-found dispatches)",
        doc="Only completed visits count (cancelled and still scheduled ones are not). No "
        "completed visit: None.",
        cuts=_SUBSCRIBER,
    ),
    Kpi(
        name="first_response_time",
        title="Time to first response (median)",
        family="support",
        unit="h",
        higher_is_better=False,
        formula="median of (first response − opened), wall-clock hours, over reactive cases "
        "first answered in the period",
        source=f"{_ANY}: DESIGN.md 6 (time to first response); the median so that a few "
        "forgotten cases do not hide the typical wait",
        doc="Wall-clock hours, not business hours (the SLA KPIs count business hours). A case "
        "not yet answered is not counted (see backlog and sla_compliance). Merged duplicates "
        "excluded. No case answered: None.",
        default_target=4.0,
        target_source=f"{_ANY}: the default first-response SLA of a normal case (4 h)",
    ),
    Kpi(
        name="time_to_resolve",
        title="Time to resolve (median)",
        family="support",
        unit="h",
        higher_is_better=False,
        formula="median of (solved − opened), wall-clock hours, over cases solved in the period",
        source="[K10] MTTR (time to resolve ÷ incidents resolved), as a median (DESIGN.md 6)",
        doc="Wall-clock hours including nights and time pending on the subscriber. A reopened "
        "case counts from its opening to its last resolution. Merged duplicates excluded. No "
        "case solved: None.",
        default_target=24.0,
        target_source=f"{_ANY}: the default resolution SLA of a normal case (24 h)",
        headline=True,
    ),
    Kpi(
        name="time_to_resolve_p90",
        title="Time to resolve (90th percentile)",
        family="support",
        unit="h",
        higher_is_better=False,
        formula="90th percentile (nearest rank) of (solved − opened), wall-clock hours, over "
        "cases solved in the period",
        source="[K10] MTTR, as a 90th percentile (DESIGN.md 6)",
        doc="Nearest-rank percentile: the smallest time that at least 90 % of the cases took no "
        "longer than. Same population as time_to_resolve. No case solved: None.",
    ),
    Kpi(
        name="sla_compliance",
        title="SLA attainment",
        family="support",
        unit="%",
        higher_is_better=True,
        formula="cases solved in the period by their resolution due time ÷ (cases with a "
        "resolution SLA solved in the period + cases still unsolved whose due time fell in the "
        "period) × 100",
        source="[K11] resolved within SLA ÷ a denominator; Homeport takes the recommended one "
        "(resolved + open and breached), so a backlog left to breach lowers it",
        doc="Due times are business-hours deadlines that move while a case waits on the "
        "subscriber (support SLA clocks). Cases without an SLA policy are not counted. A "
        "reopened case is judged at its last resolution. Merged duplicates excluded. Nothing "
        "due or solved: None.",
        default_target=80.0,
        target_source=f"{_ANY}: 80 %, as the [K14] 80/20 service-level convention",
        headline=True,
    ),
    Kpi(
        name="average_handle_time",
        title="Average handle time",
        family="support",
        unit="min",
        higher_is_better=False,
        formula="sum of handle time ÷ interactions with a handle time that started in the "
        "period (minutes)",
        source="[K1][K2] (talk + hold + after-call work) ÷ interactions handled",
        doc="Only interactions whose channel records a handle time (calls, chats) count. Cut by "
        "channel, the interaction's channel; by agent, its author; by other dimensions, its "
        "case's. No interaction with a handle time: None.",
    ),
    Kpi(
        name="cases_per_1000_subscribers",
        title="Contacts per 1,000 subscribers (30 days)",
        family="support",
        unit="per 1,000",
        higher_is_better=False,
        formula="reactive cases opened in the period ÷ subscribers at the end of the period × "
        "1,000, scaled to 30 days",
        source="[K13] contacts ÷ customer base × 100; × 1,000 and per 30 days is Homeport's "
        "scaling",
        doc="A contact is a reactive case (cases of unknown senders included). Merged "
        "duplicates excluded. Scaled to 30 days. No subscriber: None.",
        cuts=_CASE_NO_ORIGIN,
    ),
    Kpi(
        name="backlog",
        title="Open cases",
        family="support",
        unit="count",
        higher_is_better=False,
        formula="cases opened before the end of the period and not solved by then",
        source=f"{_ANY}: the count of live cases at the end of the period",
        doc="A point-in-time count, not a rate: the value is the count at `until` (0 when none, "
        "never None). Cases reopened after `until` are counted as open only from their "
        "reopening, as the case keeps no earlier resolution. Merged duplicates excluded.",
    ),
    # ---- proactive -----------------------------------------------------------------------
    Kpi(
        name="proactive_share",
        title="Proactive share",
        family="proactive",
        unit="%",
        higher_is_better=True,
        formula="proactive cases opened in the period ÷ technical cases opened in the period × 100",
        source=f"{_ANY}: DESIGN.md 6 and 7 (proactive cases ÷ technical cases)",
        doc="Technical cases are proactive cases plus reactive cases in a technical category. "
        "Merged duplicates excluded. Cut by origin or channel it is meaningless (every proactive "
        "case is on the system channel) and refused. No technical case: None.",
        cuts=_CASE_NO_ORIGIN - {"channel"},
        default_target=40.0,
        target_source="DESIGN.md 7 (stage 4: proactive share ≥ 40 %)",
        headline=True,
    ),
    Kpi(
        name="proactive_resolution_without_contact",
        title="Proactive issues resolved without contact",
        family="proactive",
        unit="%",
        higher_is_better=True,
        formula="findings (warning or critical) opened in the period and resolved by its end "
        "with no reactive case from the subscriber and no inbound subscriber message on the "
        "finding's case between opening and resolution ÷ findings (warning or critical) opened "
        "in the period × 100",
        source="REFERENCE.md section 3 suggestion (issues closed before any subscriber contact "
        "÷ issues detected); not a published standard",
        doc="An issue is a confirmed finding (opened after the tolerance window), information-"
        "only findings excluded. A finding still open at the end of the period counts against "
        "the KPI. A reactive case on any category counts as contact. No finding: None.",
        cuts=_SUBSCRIBER,
        default_target=50.0,
        target_source="DESIGN.md 7 (stage 5: ≥ 50 % of proactive issues resolved with no "
        "subscriber contact)",
    ),
    Kpi(
        name="auto_remediation_success",
        title="Auto-remediation success",
        family="proactive",
        unit="%",
        higher_is_better=True,
        formula="findings opened in the period whose automatic fix worked ÷ findings opened in "
        "the period whose automatic fix finished (worked or failed) × 100",
        source=f"{_ANY}: fixed ÷ (fixed + failed) of the health domain's remediation checks",
        doc="A fix still being checked, refused by policy or never tried is not counted. No "
        "finished fix: None.",
        cuts=_SUBSCRIBER,
    ),
    Kpi(
        name="experience_score_mean",
        title="Experience score (mean)",
        family="proactive",
        unit="score",
        higher_is_better=True,
        formula="mean over homes of each home's mean experience score (0–100) over the hours "
        "scored in the period",
        source=f"{_ANY}: DESIGN.md 5a experience score, each home weighted once",
        doc="A home that reported for one hour weighs as much as one that reported all period. "
        "No home scored: None.",
        cuts=_SUBSCRIBER,
    ),
    Kpi(
        name="experience_score_good_share",
        title="Homes with an excellent experience",
        family="proactive",
        unit="%",
        higher_is_better=True,
        formula="homes whose mean experience score over the period is ≥ 81 (Excellent band) ÷ "
        "homes scored in the period × 100",
        source="DESIGN.md 5a bands (Excellent ≥ 81, as Adtran bands its score [D1][D3])",
        doc="The distribution's top band; the rest are Average 51–80 and Poor ≤ 50. No home "
        "scored: None.",
        cuts=_SUBSCRIBER,
    ),
    Kpi(
        name="availability",
        title="Availability (WAN up)",
        family="proactive",
        unit="%",
        higher_is_better=True,
        formula="(1 − telemetry reports with the WAN down ÷ telemetry reports) × 100 over the "
        "homes' hourly rollups in the period (daily rollups where the hourly ones are gone)",
        source=f"{_ANY}: share of reported home-time with the WAN up; reports arrive at a fixed "
        "interval, so reports stand for time",
        doc="A gateway that stops reporting (power cut, no line) sends no report and so counts "
        "neither up nor down; device_offline findings cover it. No report: None.",
        cuts=_SUBSCRIBER,
        default_target=99.5,
        target_source=f"{_ANY}: 99.5 % (under 4 hours down a month)",
    ),
    # ---- digital -------------------------------------------------------------------------
    Kpi(
        name="self_service_containment",
        title="Self-service containment",
        family="digital",
        unit="%",
        higher_is_better=True,
        formula="chatbot conversations ended in the period that no person took over and with "
        "no repeat contact within 7 days ÷ (those contained + those handed over) × 100",
        source="[K8b] inquiries resolved by self-service without a human; computed by "
        "homeport.selfservice.bot.containment",
        doc="Abandoned conversations are left out (nobody was helped or not). A conversation "
        "contained less than 7 days before the report may still become a repeat. Cannot be cut "
        "(the bot's containment is fleet-wide). No conversation: None.",
        cuts=frozenset(),
        default_target=25.0,
        target_source="DESIGN.md 7 (stage 4: containment ≥ 25 %), within the [K14][K15] "
        "benchmark 15–40 %",
        headline=True,
    ),
    Kpi(
        name="digital_adoption",
        title="Digital adoption (90 days)",
        family="digital",
        unit="%",
        higher_is_better=True,
        formula="subscribers at the end of the period who used self-service (portal, app or "
        "bot) in the 90 days before it ÷ subscribers at the end of the period × 100",
        source="REFERENCE.md section 3 suggestion (active app/portal users ÷ subscribers), with "
        "DESIGN.md 6's 90-day window",
        doc="The window is 90 days before `until` whatever the period's length. A use is any "
        "engagement event (a page, a fix, a bot message). No subscriber: None.",
        cuts=_SUBSCRIBER,
        default_target=50.0,
        target_source="DESIGN.md 7 (stage 5: digital adoption ≥ 50 %)",
        headline=True,
    ),
    Kpi(
        name="app_engagement",
        title="Monthly active self-service users",
        family="digital",
        unit="%",
        higher_is_better=True,
        formula="subscribers at the end of the period who used self-service in the 30 days "
        "before it ÷ subscribers at the end of the period × 100",
        source="[K12] MAU over a rolling 28–31 days; ÷ subscribers (not DAU/MAU) as DESIGN.md 6 "
        "asks for the monthly active share",
        doc="The window is 30 days before `until` whatever the period's length. No subscriber: "
        "None.",
        cuts=_SUBSCRIBER,
    ),
    # ---- satisfaction --------------------------------------------------------------------
    Kpi(
        name="nps",
        title="Net Promoter Score",
        family="satisfaction",
        unit="score",
        higher_is_better=True,
        formula="% of answers 9–10 − % of answers 0–6 over NPS surveys answered in the period "
        "(−100 to 100)",
        source="[K4] % promoters (9–10) − % detractors (0–6); passives 7–8",
        doc="Unanswered surveys do not count. Cut by channel, team, agent or origin, only "
        "surveys about a case count (the case's attributes). No answer: None.",
        default_target=20.0,
        target_source="[K14][K15] weak-authority benchmark NPS 20–50: the bottom of the range",
        headline=True,
    ),
    Kpi(
        name="csat",
        title="CSAT",
        family="satisfaction",
        unit="%",
        higher_is_better=True,
        formula="CSAT answers of 4–5 ÷ CSAT answers in the period × 100 (1–5 scale)",
        source="[K6] responses of 4–5 ÷ all responses × 100",
        doc="Unanswered surveys do not count. Cuts as for nps. No answer: None.",
        default_target=80.0,
        target_source="[K14][K15] weak-authority benchmark CSAT 80–90 %: the bottom of the range",
        headline=True,
    ),
    Kpi(
        name="ces",
        title="Customer effort score",
        family="satisfaction",
        unit="score",
        higher_is_better=True,
        formula="mean CES answer in the period (agreement that the BSP made it easy, 1–7)",
        source="[K5] Gartner CES 2.0, reported as the average",
        doc="Higher means easier (agreement with 'made it easy'). Unanswered surveys do not "
        "count. Cuts as for nps. No answer: None.",
    ),
    # ---- journey -------------------------------------------------------------------------
    Kpi(
        name="install_lead_time",
        title="Sign-up to installation (median)",
        family="journey",
        unit="d",
        higher_is_better=False,
        formula="median days from a subscriber's sign-up journey event to their installed "
        "journey event, over installations in the period",
        source=f"{_ANY}: the journey's first moments (sign-up → installed)",
        doc="Only subscribers with both events count (a subscriber imported with history has no "
        "sign-up event). The earliest sign-up and the first installation of each subscriber "
        "are used. No installation: None.",
        cuts=_SUBSCRIBER,
        default_target=14.0,
        target_source=f"{_ANY}: two weeks",
    ),
    # ---- churn ---------------------------------------------------------------------------
    Kpi(
        name="churn_rate",
        title="Churn rate (30 days)",
        family="churn",
        unit="%",
        higher_is_better=False,
        formula="subscribers at the start of the period who churned during it ÷ subscribers at "
        "the start of the period × 100, scaled to 30 days",
        source="[K9] customers lost in the period ÷ customers at the start × 100; scaled to 30 "
        "days by Homeport",
        doc="Reads the subscribers' activated_at and churned_at (set when the status becomes "
        "churned), so a past period is measured as it was. Subscribers who joined and left "
        "within the period are not in the base and not counted. Cut by journey stage it uses "
        "today's stage. No subscriber at the start: None.",
        cuts=_SUBSCRIBER,
        default_target=1.5,
        target_source=f"{_ANY}: 1.5 % a month",
        headline=True,
    ),
)

KPIS: dict[str, Kpi] = {k.name: k for k in _DEFINITIONS}
if len(KPIS) != len(_DEFINITIONS):  # pragma: no cover - a definition written twice
    raise RuntimeError("two KPI definitions share a name")
#: The headline KPIs of the leadership overview and the emailed report, in order.
HEADLINE = tuple(k.name for k in _DEFINITIONS if k.headline)
