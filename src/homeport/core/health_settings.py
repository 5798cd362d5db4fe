"""Health settings (``[health]`` in homeport.toml, ``HOMEPORT_HEALTH__*`` in the environment):
finding hysteresis, outage correlation, escalation, auto-remediation and detector thresholds.

Each threshold carries its source tag from ``REFERENCE.md`` section 4 (the sources are listed in
its section 6); ``docs/detectors.md`` explains every detector. "Homeport default" marks a value
chosen here, with no published threshold behind it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Which finding kinds a policy may remediate automatically, and with which remote action.
#: (A reboot for ``speed_below_plan`` is possible but opt-in: most slow lines are slow because
#: of the line, and a reboot interrupts the household for nothing.)
DEFAULT_REMEDIATION = {
    "congested_channel": "set_channel",
    "high_retransmissions": "band_steer",
}
#: Kinds that must persist longer than ``open_after`` reports before a finding opens: a speed
#: below plan for one hour of reports (Homeport default; FCC MBA judges consistent speed over
#: time, the "80/80" measure [T16]).
DEFAULT_OPEN_AFTER_BY_KIND = {"speed_below_plan": 12}


class HealthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # --- Finding lifecycle and correlation (DESIGN.md 5a) ---
    #: Consecutive reports with the condition before a finding opens (DESIGN.md 5a).
    open_after: int = Field(default=2, ge=1)
    #: Per-kind exceptions to ``open_after``.
    open_after_by_kind: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_OPEN_AFTER_BY_KIND)
    )
    #: Consecutive clear reports before a finding resolves (DESIGN.md 5a).
    resolve_after: int = Field(default=3, ge=1)
    #: Outage correlation (DESIGN.md 5a): window, minimum homes, share of a port / access node.
    outage_window_s: int = Field(default=600, gt=0)
    outage_min_homes: int = Field(default=5, ge=1)
    outage_port_share: float = Field(default=0.5, gt=0, le=1)
    outage_node_share: float = Field(default=0.3, gt=0, le=1)
    outage_recovered_share: float = Field(default=0.9, gt=0, le=1)
    #: A gateway silent for this many report intervals is "offline" (Homeport default; [T17]
    #: opens an outage ticket after 10 minutes down with 60 s polling, i.e. 10 missed polls).
    offline_after_intervals: int = Field(default=3, ge=1)

    # --- Escalation to proactive cases and auto-remediation (DESIGN.md 5a) ---
    #: A warning finding still open after this long becomes a proactive case (Homeport default).
    case_after_s: int = Field(default=24 * 3600, gt=0)
    #: How long a remote fix has to work before the finding counts as surviving it
    #: (Homeport default: delivery in the CPE's next session, then ``resolve_after`` reports).
    remediation_verify_s: int = Field(default=3600, gt=0)
    auto_remediation: bool = True
    remediation_policies: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_REMEDIATION))

    # --- WAN / access thresholds (REFERENCE.md 4b) ---
    #: Measured downstream below this share of the plan [T16] (FCC MBA: below 80 % of advertised).
    speed_min_ratio: float = Field(default=0.8, gt=0, le=1)
    #: Latency: below 120 ms [T13]; above 450 ms bad [T14].
    latency_warn_ms: float = Field(default=120, gt=0)
    latency_crit_ms: float = Field(default=450, gt=0)
    #: Jitter: below 20 ms [T13]; 101–200 ms warning band, so above 100 critical [T14].
    jitter_warn_ms: float = Field(default=20, gt=0)
    jitter_crit_ms: float = Field(default=100, gt=0)
    #: Packet loss: above 1 % yellow, above 5 % red [T14]; ticket if loss > 1 % [T17].
    loss_warn_pct: float = Field(default=1.0, gt=0)
    loss_crit_pct: float = Field(default=5.0, gt=0)
    #: Bufferbloat (latency rise under load): grade C or worse from 60 ms, F from 400 ms [T12].
    bufferbloat_warn_ms: float = Field(default=60, gt=0)
    bufferbloat_crit_ms: float = Field(default=400, gt=0)
    #: GPON ONT receive window, class B+: −27 dBm sensitivity to −8 dBm overload [T9].
    optical_min_dbm: float = -27.0
    optical_max_dbm: float = -8.0
    #: Within this many dB of the sensitivity limit counts as degrading (Homeport default).
    optical_margin_db: float = Field(default=2.0, ge=0)
    #: A drop of this many dB below the home's own recent best counts as degrading (Homeport
    #: default; a dirty connector or bent fibre typically costs several dB).
    optical_drop_db: float = Field(default=3.0, gt=0)

    # --- Home Wi-Fi thresholds (REFERENCE.md 4a) ---
    #: Below −75 dBm is weak [T1] (−80: VoIP glitches [T3]).
    weak_rssi_dbm: float = Field(default=-75, le=0)
    #: −67 dBm is the usual enterprise minimum [T1]; the coverage sub-score counts clients above.
    good_rssi_dbm: float = Field(default=-67, le=0)
    #: Coverage gap: at least this share of at least ``coverage_min_clients`` clients below
    #: ``good_rssi_dbm`` (Homeport default).
    coverage_gap_share: float = Field(default=0.5, gt=0, le=1)
    coverage_min_clients: int = Field(default=2, ge=1)
    #: Channel utilisation: data traffic wants below 75 % [T5].
    utilization_warn_pct: float = Field(default=75, gt=0, le=100)
    #: Airtime taken by other networks: load-balancing starts at 50 % [T6].
    interference_warn_pct: float = Field(default=50, gt=0, le=100)
    #: Retransmissions: above 12 % is grade F [T12].
    retrans_warn_pct: float = Field(default=12, gt=0, le=100)
    #: Wireless mesh backhaul: weak below −75 dBm [T1]; below 100 Mbps (Homeport default;
    #: Plume grades hops from signal and speed [P6] without publishing numbers).
    backhaul_weak_rssi_dbm: float = Field(default=-75, le=0)
    backhaul_min_mbps: float = Field(default=100, ge=0)
    #: A legacy 2.4 GHz-only client at or below 802.11g rates (54 Mbps) on a 2.4 GHz radio at or
    #: above the load-balancing threshold of 50 % [T6] drags the radio down.
    legacy_max_phy_mbps: float = Field(default=54, gt=0)
    legacy_radio_busy_pct: float = Field(default=50, ge=0, le=100)

    # --- Device health (REFERENCE.md 4b "Gateway health" [SM1]; Homeport defaults) ---
    cpu_warn_pct: float = Field(default=90, gt=0, le=100)
    mem_warn_pct: float = Field(default=90, gt=0, le=100)
    temperature_warn_c: float = Field(default=85, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> HealthSettings:
        pairs = [
            ("latency", self.latency_warn_ms, self.latency_crit_ms),
            ("jitter", self.jitter_warn_ms, self.jitter_crit_ms),
            ("loss", self.loss_warn_pct, self.loss_crit_pct),
            ("bufferbloat", self.bufferbloat_warn_ms, self.bufferbloat_crit_ms),
            ("optical", self.optical_min_dbm, self.optical_max_dbm),
        ]
        for name, low, high in pairs:
            if low >= high:
                raise ValueError(f"{name}: the lower threshold must be below the higher one")
        return self
