"""Health settings (``[health]`` in homeport.toml, ``HOMEPORT_HEALTH__*`` in the environment):
finding hysteresis, outage correlation and detector thresholds. Each threshold's source is in
``docs/detectors.md`` (from REFERENCE.md section 4)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class HealthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Consecutive reports with the condition before a finding opens (DESIGN.md 5a).
    open_after: int = Field(default=2, ge=1)
    #: Consecutive clear reports before a finding resolves (DESIGN.md 5a).
    resolve_after: int = Field(default=3, ge=1)
    #: Outage correlation (DESIGN.md 5a): window, minimum homes, share of a port / access node.
    outage_window_s: int = Field(default=600, gt=0)
    outage_min_homes: int = Field(default=5, ge=1)
    outage_port_share: float = Field(default=0.5, gt=0, le=1)
    outage_node_share: float = Field(default=0.3, gt=0, le=1)
    outage_recovered_share: float = Field(default=0.9, gt=0, le=1)
