"""The scheduler's task list for the entry points: the domains' periodic tasks
(:func:`homeport.worker.default_tasks`) plus the adapters' work, which the worker may not
import itself (DESIGN.md section 3). ``homeport worker`` and ``homeport demo`` use this list;
an adapter with periodic work adds its task here."""

from __future__ import annotations

from homeport.adapters.smtp.sender import RelayConfig, SmtpSender
from homeport.core.settings import Settings
from homeport.worker import Task, default_tasks


def adapter_tasks(settings: Settings) -> list[Task]:
    """``email``: send queued outbound email through ``smtp_host`` (only when it is set)."""
    tasks = []
    if settings.smtp_host:
        sender = SmtpSender(RelayConfig.from_settings(settings))
        tasks.append(Task("email", settings.worker.email_s, sender.run))
    return tasks


def scheduler_tasks(settings: Settings) -> list[Task]:
    return default_tasks(settings) + adapter_tasks(settings)
