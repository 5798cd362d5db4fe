"""Gateway detectors: reboot loop and device offline (thresholds: REFERENCE.md 4b)."""

from __future__ import annotations

from datetime import datetime

from homeport.core.health_settings import HealthSettings
from homeport.health.detectors.base import Condition, HomeContext, Result
from homeport.telemetry.schemas import Report


def reboot_loop(report: Report, ctx: HomeContext, s: HealthSettings) -> Result:
    """An uptime shorter than one report interval means the gateway restarted since its last
    report (``Device.DeviceInfo.UpTime``). One restart is clear again on the next report; the
    finding opens only when restarts repeat on ``open_after`` consecutive reports: a loop."""
    if report.uptime_s is None:
        return None
    if report.uptime_s >= ctx.report_interval_s:
        return []
    return [
        Condition(
            "reboot_loop",
            "critical",
            f"Gateway restarted {report.uptime_s} s before this report",
            evidence={"uptime_s": report.uptime_s},
        )
    ]


def device_offline(
    last_report_at: datetime, now: datetime, ctx: HomeContext, s: HealthSettings
) -> Condition | None:
    """No report for ``offline_after_intervals`` report intervals: a periodic check (there is
    no report to run the other detectors on)."""
    silent_s = (now - last_report_at).total_seconds()
    if silent_s < s.offline_after_intervals * ctx.report_interval_s:
        return None
    return Condition(
        "device_offline",
        "critical",
        f"No report from the gateway for {silent_s / 60:.0f} minutes",
        evidence={"last_report_at": last_report_at.isoformat(), "silent_s": silent_s},
    )
