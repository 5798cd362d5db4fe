"""Journey settings (``[journey]`` in homeport.toml, ``HOMEPORT_JOURNEY__*`` in the environment):
when surveys go out and the rules against over-surveying (docs/journey.md, "Surveys")."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class JourneySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: At most one survey invitation per subscriber in this many days (every moment counts).
    survey_min_gap_days: int = Field(default=30, ge=0)
    #: Relationship NPS is asked of each active subscriber this often.
    relationship_every_days: int = Field(default=90, gt=0)
    #: A subscriber is first asked for relationship NPS after this long with the service.
    relationship_min_tenure_days: int = Field(default=30, ge=0)
    #: A survey link (and a portal survey) can be answered for this long.
    survey_valid_days: int = Field(default=14, gt=0)
    #: The post-installation survey goes out this long after the installation.
    post_install_delay_h: int = Field(default=24, ge=0)
    #: The post-case survey goes out this long after the case was solved (if still solved).
    case_solved_delay_h: int = Field(default=2, ge=0)
    #: A moment's survey is sent within this long after the moment, or not at all.
    moment_window_days: int = Field(default=7, gt=0)
    #: Most invitations one run of the ``surveys`` task sends.
    survey_batch: int = Field(default=200, gt=0)
    #: The first-week check is recorded this long after the installation.
    first_week_days: int = Field(default=7, gt=0)
    #: A subscriber is *established* this long after installation without churning.
    established_days: int = Field(default=30, gt=0)
