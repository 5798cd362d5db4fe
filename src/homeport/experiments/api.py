"""JSON API of experiments (reads): the list, and one experiment's result with its confidence
intervals and plain verdicts. Admins, supervisors and agents; API tokens need ``read``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from homeport.experiments import service
from homeport.identity.api import Access

router = APIRouter(prefix="/api/v1", tags=["experiments"])

#: Who reads experiments and campaigns (pages and API).
READ_ROLES = ("admin", "supervisor", "agent")
#: Who creates, starts, stops and launches them.
WRITE_ROLES = ("admin", "supervisor")
READ = Access.staff(*READ_ROLES)


@router.get("/experiments", dependencies=[Depends(READ)])
def experiments(request: Request) -> list[dict[str, Any]]:
    """Every experiment: key, name, status, metric, variants and when it started/stopped."""
    with request.app.state.db.session() as session:
        return [
            {
                "key": e.key,
                "name": e.name,
                "status": e.status,
                "metric": e.metric,
                "variants": e.variants,
                "started_at": e.started_at.isoformat() if e.started_at else None,
                "stopped_at": e.stopped_at.isoformat() if e.stopped_at else None,
            }
            for e in service.list_experiments(session)
        ]


@router.get("/experiments/{key}/result", dependencies=[Depends(READ)])
def result(request: Request, key: str) -> dict[str, Any]:
    """Per variant: subscribers assigned and observed, the metric's mean; each treatment
    against the control: difference, confidence interval, p-value, relative lift and the plain
    verdict (``better``, ``worse``, ``no_evidence``, ``insufficient_data``). Formulas:
    docs/experiments.md."""
    with request.app.state.db.session() as session:
        return service.result(session, key).as_dict()
