"""Every router of the app, in one list, so nothing is mounted by accident (and the access
test can walk every route)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI


def routers() -> list[APIRouter]:
    from homeport.adapters.chat import api as chat_api
    from homeport.adapters.csv_import import api as import_api
    from homeport.adapters.cti import api as cti_api
    from homeport.adapters.cwmp import api as cwmp_api
    from homeport.adapters.http_ingest import api as http_ingest_api
    from homeport.adapters.sms import api as sms_api
    from homeport.experiments import api as experiments_api
    from homeport.health import api as health_api
    from homeport.journey import api as journey_api
    from homeport.kpis import api as kpis_api
    from homeport.maturity import api as maturity_api
    from homeport.network import api as network_api
    from homeport.selfservice import api as kb_api
    from homeport.subscribers import api as subscribers_api
    from homeport.support import api as support_api
    from homeport.support import dispatch_api
    from homeport.web.views import (
        auth,
        console,
        console_actions,
        field,
        health,
        journey,
        kb,
        kpis,
        maturity,
        portal,
        retention,
        subscribers,
        system,
    )
    from homeport.web.views import experiments as experiments_views

    return [
        system.router,
        auth.router,
        subscribers.router,
        health.router,
        console.router,
        console_actions.router,
        field.router,
        subscribers_api.router,
        network_api.router,
        health_api.router,
        dispatch_api.router,
        support_api.router,
        import_api.router,
        cwmp_api.router,
        http_ingest_api.router,
        portal.router,
        experiments_views.router,
        experiments_api.router,
        kb.router,
        kb_api.router,
        chat_api.router,
        cti_api.router,
        sms_api.router,
        journey.router,
        journey_api.router,
        kpis_api.router,
        kpis.router,
        maturity.router,
        maturity_api.router,
        retention.router,
    ]


def include_all(app: FastAPI) -> None:
    for router in routers():
        app.include_router(router)
