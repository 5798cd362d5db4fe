"""Worker settings (``[worker]`` in homeport.toml, ``HOMEPORT_WORKER__*`` in the environment):
how often ``homeport worker`` runs each periodic task. Intervals are seconds of the process's
clock; 0 turns a task off (to run it from another process or from cron with ``--once``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WorkerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Gateways silent for ``health.offline_after_intervals`` report intervals get a
    #: ``device_offline`` finding (and silent ports an outage): check every minute, so that a
    #: silent gateway is found at most a minute after it crosses the threshold.
    offline_check_s: int = Field(default=60, ge=0)
    #: Hourly rollups of the recent hours (``telemetry_hourly``).
    rollup_hourly_s: int = Field(default=300, ge=0)
    #: Daily rollups of the current (and, after midnight, the previous) day (``telemetry_daily``).
    rollup_daily_s: int = Field(default=3600, ge=0)
    #: Rollups recompute the periods since the latest stored one, and at least this far back,
    #: so that reports arriving this late are still counted.
    rollup_lookback_s: int = Field(default=2 * 3600, gt=0)
    #: Retention: raw reports and rollups past their windows (``[telemetry]`` settings).
    purge_s: int = Field(default=3600, ge=0)
    #: Auto-remediation checks and escalation of open findings that no report touches (a home
    #: gone silent, a fix whose verification time ran out, a finding open for ``case_after_s``).
    findings_s: int = Field(default=300, ge=0)
    #: Remote actions still queued after this long (the device never called in) are cancelled,
    #: so that they no longer block a new action of the same kind.
    action_expiry_s: int = Field(default=24 * 3600, gt=0)
    #: Remote actions sent this long ago without a result from the device are failed (the
    #: device never received them, or never answered; a firmware download may take a while).
    action_result_timeout_s: int = Field(default=24 * 3600, gt=0)
    #: Remote-action expiry runs this often.
    actions_s: int = Field(default=900, ge=0)
    #: SLA clocks: warnings near a due time, breaches and escalation of live cases.
    sla_s: int = Field(default=60, ge=0)
    #: Waiting cases are handed to agents whose capacity has freed up this often.
    routing_s: int = Field(default=60, ge=0)
    #: Chatbot conversations idle for 30 minutes are ended (contained or abandoned) this often.
    bot_idle_s: int = Field(default=300, ge=0)
    #: Queued outbound email is sent this often (when ``smtp_host`` is set).
    email_s: int = Field(default=10, ge=0)
    #: Queued outbound SMS is sent this often (when ``sms_provider_url`` is set).
    sms_s: int = Field(default=10, ge=0)
    #: Unanswered live chats turn async this often (0: off, as the web processes check
    #: themselves; ``homeport worker --once --task chat_fallback`` still runs it).
    chat_fallback_s: int = Field(default=0, ge=0)
    #: KPI snapshots (every KPI overall and per channel and team, for the last and the current
    #: day, week and month) are stored this often, so that history outlives data retention.
    kpi_snapshot_s: int = Field(default=24 * 3600, ge=0)
    #: Scheduled KPI reports are checked this often; each subscription gets one email per week
    #: (Monday 07:00 in the BSP's zone) or month (the 1st), whenever the worker first runs after.
    kpi_reports_s: int = Field(default=900, ge=0)
    #: Journey: first-week checks recorded and due surveys sent (``[journey]``) this often.
    survey_s: int = Field(default=600, ge=0)
    #: Lifestyle segments and bundle recommendations of every home are recomputed this often.
    segments_s: int = Field(default=24 * 3600, ge=0)
    #: Churn risk (``homeport.retention``): every subscriber scored with the latest model, open
    #: retention outcomes settled, and new high risks sent to the Retention queue, this often.
    churn_score_s: int = Field(default=24 * 3600, ge=0)
    #: The score at or above which a subscriber is high risk and gets a Retention case.
    churn_high_risk: float = Field(default=0.5, gt=0, le=1)
    #: At most this many new Retention cases per run (the highest scores first).
    churn_cases_per_run: int = Field(default=100, ge=0)
