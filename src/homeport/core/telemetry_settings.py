"""Telemetry settings (``[telemetry]`` in homeport.toml, ``HOMEPORT_TELEMETRY__*`` in the
environment)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TelemetrySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The interval at which gateways report (DESIGN.md section 5).
    report_interval_s: int = Field(default=300, gt=0)
    #: Raw reports are kept this long; hourly and daily rollups much longer.
    raw_retention_days: int = Field(default=14, gt=0)
    hourly_retention_days: int = Field(default=180, gt=0)
    daily_retention_days: int = Field(default=1095, gt=0)
    #: A device clock this far ahead of ours is tolerated; further is rejected.
    max_future_s: int = Field(default=300, ge=0)
    #: Largest batch accepted in one HTTP request.
    max_batch: int = Field(default=5000, gt=0)
