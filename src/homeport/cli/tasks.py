"""The scheduler's task list for the entry points: the domains' periodic tasks
(:func:`homeport.worker.default_tasks`) plus the adapters' work, which the worker may not
import itself (DESIGN.md section 3). ``homeport worker`` and ``homeport demo`` use this list;
an adapter with periodic work adds its task here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from homeport.adapters.chat import conversation
from homeport.adapters.sms.outbound import ProviderConfig, SmsSender
from homeport.adapters.smtp.sender import RelayConfig, SmtpSender
from homeport.core.settings import Settings
from homeport.worker import Task, default_tasks


def adapter_tasks(settings: Settings) -> list[Task]:
    """``email``: send queued outbound email through ``smtp_host`` (only when it is set);
    ``sms``: send queued SMS through ``sms_provider_url`` (only when it is set);
    ``chat_fallback``: turn unanswered live chats async (the web processes do it themselves;
    off unless ``worker.chat_fallback_s`` is set)."""
    tasks = []
    if settings.smtp_host:
        sender = SmtpSender(RelayConfig.from_settings(settings))
        tasks.append(Task("email", settings.worker.email_s, sender.run))
    if settings.sms_provider_url:
        sms = SmsSender(ProviderConfig.from_settings(settings))
        tasks.append(Task("sms", settings.worker.sms_s, sms.run))

    def chat_fallback(session: Session, now: datetime, _last: datetime | None) -> str:
        changed = conversation.sweep(session, now=now, wait_s=settings.chat_answer_timeout_s)
        return f"{len(changed)} chats turned async"

    tasks.append(Task("chat_fallback", settings.worker.chat_fallback_s, chat_fallback))
    return tasks


def scheduler_tasks(settings: Settings) -> list[Task]:
    return default_tasks(settings) + adapter_tasks(settings)
