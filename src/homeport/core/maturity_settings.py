"""Maturity settings (``[maturity]`` in homeport.toml, ``HOMEPORT_MATURITY__*`` in the
environment): the thresholds of the stage criteria of DESIGN.md section 7.

The seeds describe the five stages in words; every number here is a Homeport default, not a
published standard (``docs/maturity.md`` explains each criterion and how it is measured).
Shares are fractions (0.25 = 25 %)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Case categories that count as technical (a subscriber's connection, Wi-Fi or equipment);
#: proactive cases always do. The detectors' finding kinds are added to these.
DEFAULT_TECHNICAL_CATEGORIES = ("no_internet", "slow_speed", "wifi", "equipment")
#: Categories too vague to say what the case was about ("recorded with category" fails).
DEFAULT_GENERIC_CATEGORIES = ("general", "other", "")


class MaturitySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The assessment looks at the last this many days (DESIGN.md section 7: 90).
    window_days: int = Field(default=90, ge=1, le=3650)

    # --- Stage 1: cases are recorded with category and outcome ---
    #: Cases opened in the window for there to be anything to assess.
    min_cases: int = Field(default=10, ge=1)
    #: Share of the cases solved in the window with a specific category and an outcome.
    categorised_share: float = Field(default=0.9, gt=0, le=1)
    technical_categories: list[str] = Field(
        default_factory=lambda: list(DEFAULT_TECHNICAL_CATEGORIES)
    )
    generic_categories: list[str] = Field(default_factory=lambda: list(DEFAULT_GENERIC_CATEGORIES))

    # --- Stage 2: remote troubleshooting ---
    #: Share of reactive technical cases with remote diagnostics (guided troubleshooting, a
    #: staff remote action or the chatbot's diagnosis) while the case was open.
    remote_diagnostics_share: float = Field(default=0.5, gt=0, le=1)
    #: Share of the reactive technical cases solved in the window with outcome ``remote_fix``.
    remote_fix_share: float = Field(default=0.25, gt=0, le=1)
    #: Solved reactive cases with a recorded subscriber contact: enough to measure FCR.
    fcr_min_cases: int = Field(default=10, ge=1)

    # --- Stage 3: starting proactive ---
    proactive_cases_share: float = Field(default=0.10, gt=0, le=1)
    #: Share of active subscribers who used self-service (portal, app, bot) in the window.
    self_service_users_share: float = Field(default=0.10, gt=0, le=1)
    channels_besides_phone: int = Field(default=2, ge=1)
    kpis_tracked: int = Field(default=5, ge=1)
    #: A channel is live with at least this many inbound subscriber contacts (for the chatbot:
    #: conversations) in the last ``live_channel_days``.
    live_channel_min_contacts: int = Field(default=5, ge=1)
    live_channel_days: int = Field(default=30, ge=1, le=3650)

    # --- Stage 4: reactive + proactive ---
    proactive_share: float = Field(default=0.40, gt=0, le=1)
    #: Automatic fixes (remote actions queued by a remediation policy) in the window.
    auto_remediation_min_actions: int = Field(default=1, ge=1)
    self_service_containment: float = Field(default=0.25, gt=0, le=1)
    live_channels: int = Field(default=3, ge=1)
    #: Chat channels of which one must be live at stage 4 ("including chat or bot").
    chat_channels: list[str] = Field(default_factory=lambda: ["chat", "chatbot"])
    #: KPIs with an overall target.
    kpi_targets: int = Field(default=5, ge=1)
    #: Active scheduled KPI report subscriptions.
    kpi_reports: int = Field(default=1, ge=1)
    #: Share of the visits completed in the window whose notes carry a recommendation.
    technician_recommendations_share: float = Field(default=0.25, gt=0, le=1)
    #: Words that mark a recommendation in a visit's notes (work orders have no field for it).
    recommendation_words: list[str] = Field(default_factory=lambda: ["recommend"])

    # --- Stage 5: service excellence ---
    proactive_share_excellent: float = Field(default=0.60, gt=0, le=1)
    proactive_no_contact_share: float = Field(default=0.50, gt=0, le=1)
    nps_moments: int = Field(default=3, ge=1)
    live_channels_excellent: int = Field(default=4, ge=1)
    digital_adoption: float = Field(default=0.50, gt=0, le=1)
    #: Digital adoption counts subscribers active in self-service in this many days (DESIGN.md
    #: section 6: 90).
    digital_adoption_days: int = Field(default=90, ge=1, le=3650)

    @model_validator(mode="after")
    def _ordered(self) -> MaturitySettings:
        if self.proactive_share_excellent < self.proactive_share:
            raise ValueError("proactive_share_excellent must be at least proactive_share")
        if not self.recommendation_words or not all(w.strip() for w in self.recommendation_words):
            raise ValueError("recommendation_words needs at least one non-empty word")
        return self
