"""Probes and metrics for operators and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from homeport import migrations
from homeport.core.errors import ServiceUnavailable
from homeport.identity.api import Access

router = APIRouter(tags=["system"])


@router.get("/", include_in_schema=False, dependencies=[Depends(Access.staff(page=True))])
def home() -> Response:
    return RedirectResponse("/subscribers", status_code=303)


@router.get("/healthz", dependencies=[Depends(Access.public())])
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", dependencies=[Depends(Access.public())])
async def readyz(request: Request) -> Response:
    """Readiness: the database answers and its schema is at the code's migration head."""
    db = request.app.state.db
    try:
        await run_in_threadpool(db.ping)
        current = await run_in_threadpool(migrations.current_revision, db.url)
    except ServiceUnavailable as exc:
        return JSONResponse({"status": "unavailable", "database": exc.message}, status_code=503)
    head = migrations.head_revision()
    if current != head:
        return JSONResponse(
            {
                "status": "unavailable",
                "database": f"schema at {current}, code expects {head}: run 'homeport db upgrade'",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "database": "ok", "schema": current})


@router.get("/metrics", dependencies=[Depends(Access.public())], include_in_schema=False)
def metrics() -> Response:
    """Prometheus metrics. Expose only on the operations network (see docs/operations)."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
