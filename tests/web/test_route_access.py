"""Every route states who may use it, and anonymous requests are refused where they must be."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from homeport.identity.api import Access, access_of
from homeport.web.routes import routers

#: Public routes that authenticate the caller themselves (not as a staff member or subscriber):
#: the TR-069 ACS challenges CPEs with HTTP digest before a session starts.
SELF_AUTHENTICATING = {"/cwmp": "Digest"}
#: Routes FastAPI itself adds, which are public on purpose.
FRAMEWORK_PUBLIC = {"/api/openapi.json", "/api/docs", "/docs/oauth2-redirect", "/static"}


def _all_api_routes() -> list[APIRoute]:
    return [r for router in routers() for r in router.routes if isinstance(r, APIRoute)]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_declares_exactly_one_access_rule() -> None:
    routes = _all_api_routes()
    assert len(routes) >= 8
    missing = [
        f"{sorted(r.methods)} {r.path}"
        for r in routes
        if len(access_of(r.dependant.dependencies)) != 1
    ]
    assert missing == [], f"routes without exactly one Access declaration: {missing}"


def test_only_framework_routes_live_outside_the_router_list(app: FastAPI) -> None:
    extra = {r.path for r in app.routes if isinstance(r, Route | Mount)}
    assert extra <= FRAMEWORK_PUBLIC, extra - FRAMEWORK_PUBLIC


def test_anonymous_requests_are_refused_where_they_must_be(client: TestClient) -> None:
    checked = 0
    for route in _all_api_routes():
        (rule,) = access_of(route.dependant.dependencies)
        for method in sorted(route.methods - {"HEAD"}):
            response = client.request(
                method, _concrete(route.path), headers={"accept": "text/html"}
            )
            where = f"{method} {route.path} ({rule.describe()})"
            if route.path in SELF_AUTHENTICATING:
                assert response.status_code == 401, where
                scheme = SELF_AUTHENTICATING[route.path]
                assert response.headers["www-authenticate"].startswith(scheme), where
                continue
            if rule.audience == "public":  # no sign-in asked (a POST may still want CSRF)
                assert response.status_code != 401, where
                assert "login" not in response.headers.get("location", ""), where
                continue
            checked += 1
            if rule.page:
                target = "/portal/login" if rule.audience == "subscriber" else "/login"
                assert response.status_code == 303, where
                assert response.headers["location"].startswith(f"{target}?next="), where
            else:
                assert response.status_code == 401, where
    assert checked >= 5


def test_access_rules_are_described_for_the_docs() -> None:
    assert Access.staff("admin").describe() == "staff (admin)"
    assert Access.public().describe() == "anyone"
