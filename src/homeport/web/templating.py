"""Jinja2 templates (autoescaped) with Homeport's globals and filters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from homeport import __version__
from homeport.identity.api import csrf_token

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _localtime(request: Request, value: datetime | None, fmt: str = "%d %b %Y %H:%M") -> str:
    """Show a stored UTC time in the BSP's time zone."""
    if value is None:
        return "—"
    zone: ZoneInfo = request.app.state.settings.zone
    return value.astimezone(zone).strftime(fmt)


FLASH = "flash"


def flash(request: Request, tone: str, text: str) -> None:
    """A one-time message for the next page this session renders (after a redirect)."""
    request.session[FLASH] = {"tone": tone, "text": text}


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    settings = request.app.state.settings
    context.setdefault("principal", getattr(request.state, "principal", None))
    if FLASH in request.session:
        context.setdefault("flash", request.session.pop(FLASH))
    return templates.TemplateResponse(
        request,
        name,
        {
            "bsp_name": settings.bsp_name,
            "timezone": settings.timezone,
            "version": __version__,
            "csrf_token": csrf_token(request),
            "localtime": lambda value, fmt="%d %b %Y %H:%M": _localtime(request, value, fmt),
            **context,
        },
        status_code=status_code,
    )
