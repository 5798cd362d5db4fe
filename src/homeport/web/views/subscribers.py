"""Staff pages: the subscriber list (search, filters, pages) and the subscriber page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from homeport.health import service as health_service
from homeport.identity.api import Access
from homeport.network import service
from homeport.network.quality import SignalQuality, classify_rssi
from homeport.web.templating import render
from homeport.web.views import health as health_views
from homeport.web.views import retention as retention_views

router = APIRouter(include_in_schema=False)

CURRENCY_SIGNS = {"GBP": "£", "EUR": "€", "USD": "$"}
STATUS_TONES = {
    "active": "ok",
    "onboarding": "",
    "prospect": "",
    "suspended": "warn",
    "churned": "bad",
}
STAGE_TONES = {"at_risk": "warn", "churned": "bad", "established": "ok"}
TECHNOLOGY_NAMES = {
    "fttp": "Fibre (FTTP)",
    "fttc": "Fibre to the cabinet (FTTC)",
    "adsl": "ADSL",
    "cable": "Cable",
    "fwa": "Fixed wireless",
}
NODE_KIND_NAMES = {"olt": "OLT", "dslam": "DSLAM", "cmts": "CMTS", "tower": "Tower"}
DEVICE_KIND_NAMES = {
    "tv": "TV",
    "iot": "IoT device",
    "ont_router": "ONT + router",
    "ont": "ONT",
    "cable_modem": "Cable modem",
    "fwa_cpe": "Fixed-wireless CPE",
}
SORT_NAMES = {"name": "Name", "account": "Account number", "newest": "Newest first"}


def money(amount: Decimal | None, currency: str = "GBP") -> str:
    if amount is None:
        return "—"
    sign = CURRENCY_SIGNS.get(currency)
    return f"{sign}{amount:,.2f}" if sign else f"{amount:,.2f} {currency}"


def speed(mbps: int | None) -> str:
    if mbps is None:
        return "—"
    if mbps >= 1000 and mbps % 100 == 0:
        return f"{mbps / 1000:g} Gbps"
    return f"{mbps} Mbps"


def words(value: str | None) -> str:
    """A code as plain words: "at_risk" → "At risk", "tv" → "TV", "ont_router" → "ONT + router"."""
    if not value:
        return "—"
    if value in DEVICE_KIND_NAMES:
        return DEVICE_KIND_NAMES[value]
    text = value.replace("_", " ")
    return text[:1].upper() + text[1:]


def signal(dbm: int | None) -> SignalQuality:
    return classify_rssi(dbm)


HELPERS: dict[str, Any] = {
    "money": money,
    "speed": speed,
    "words": words,
    "signal": signal,
    "status_tone": lambda s: STATUS_TONES.get(s, ""),
    "stage_tone": lambda s: STAGE_TONES.get(s, ""),
    "technology_name": lambda t: TECHNOLOGY_NAMES.get(t, words(t)),
    "node_kind_name": lambda k: NODE_KIND_NAMES.get(k, words(k)),
    "sort_names": SORT_NAMES,
}


@router.get("/subscribers", dependencies=[Depends(Access.staff(page=True))])
def subscriber_list(request: Request) -> Response:
    search = service.SubscriberSearch.from_params(request.query_params)
    canonical = search.params()
    if dict(request.query_params) != canonical:
        # A GET form sends every field, empty ones too: answer with the short, shareable URL.
        query = urlencode(canonical)
        return RedirectResponse("/subscribers" + (f"?{query}" if query else ""), status_code=303)
    with request.app.state.db.session() as session:
        result = service.run_search(session, search)
        facets = service.search_facets(session)
        place = service.topology_label(
            session, port_id=search.port_id, access_node_id=search.access_node_id
        )

        def url(**changes: object) -> str:
            query = urlencode(search.params(**changes))
            return "/subscribers" + (f"?{query}" if query else "")

        return render(
            request,
            "subscribers/list.html",
            nav="subscribers",
            search=search,
            result=result,
            facets=facets,
            place=place,
            url=url,
            **HELPERS,
        )


@router.get("/subscribers/{subscriber_id:int}", dependencies=[Depends(Access.staff(page=True))])
def subscriber_page(request: Request, subscriber_id: int) -> Response:
    now = request.app.state.clock.now()
    with request.app.state.db.session() as session:
        view = service.subscriber_360(session, subscriber_id)
        qualities = [classify_rssi(c.last_rssi_dbm) for c in view.clients]
        monthly = (view.plan.monthly_price if view.plan else Decimal(0)) + sum(
            (b.monthly_price for b in view.bundles), Decimal(0)
        )
        experience = (
            health_service.home_experience(session, view.home.id, now=now) if view.home else None
        )
        principal = request.state.principal
        return render(
            request,
            "subscribers/detail.html",
            nav="subscribers",
            view=view,
            sub=view.subscriber,
            weak_clients=sum(q.is_problem for q in qualities),
            monthly_total=monthly,
            experience=experience,
            history_svg=(health_views.history_chart(request, experience) if experience else None),
            daily=health_views.daily_table(request, experience) if experience else [],
            gateway=view.gateway,
            page_actions=health_views.PAGE_ACTIONS,
            can_act=principal.role in health_views.REMOTE_ACTION_ROLES,
            **retention_views.context(request, subscriber_id, "agent"),
            **HELPERS,
            **health_views.HELPERS,
        )
