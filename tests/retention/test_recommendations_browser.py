"""A real browser: the mesh recommendation with its reason in the agent's subscriber 360 (case
page), on the technician's visit page, and in the portal, where the subscriber accepts it.

Debian's Chromium through Playwright (see ``tests/web/test_browser.py``); screenshots go to
``HOMEPORT_SCREENSHOT_DIR`` (``docs/screenshots/retention-*.png``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from homeport.audit.actions import Actor
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.retention.models import Recommendation
from homeport.subscribers.models import Subscriber
from homeport.support import actions as support_actions
from homeport.support import dispatch
from tests.conftest import PASSWORD, make_staff
from tests.factories import Fleet, build_catalogue, build_topology
from tests.retention.homes import NOW, Device, add_demo_bundles, add_home
from tests.retention.test_recommendations import _recommend
from tests.selfservice.portal import make_account
from tests.web.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    SCREENSHOT_DIR,
    _no_horizontal_overflow,
    live_server,
    require_chromium,
)

__all__ = ["live_server"]
pytestmark = pytest.mark.browser

EMAIL = "maya@example.test"
REASON = (
    "Three devices below -75 dBm (Bedroom TV -84 dBm, Loft laptop -81 dBm, "
    "Garden camera -78 dBm): Whole Home Wi-Fi would fix coverage."
)


def _setup(db: Database, clock: ManualClock) -> tuple[int, int, int]:
    clock.set(NOW)
    fleet = Fleet()
    build_catalogue(db, fleet)
    build_topology(db, fleet)
    add_demo_bundles(db, fleet)
    sid = add_home(
        db,
        fleet,
        "MAY-1",
        "Maya Patel",
        [
            Device("02:41:00:00:00:01", "Bedroom TV", "tv", rssi=-84),
            Device("02:41:00:00:00:02", "Loft laptop", "laptop", rssi=-81),
            Device("02:41:00:00:00:03", "Garden camera", "camera", rssi=-78),
            Device("02:41:00:00:00:04", "Maya's phone", "phone", rssi=-52),
        ],
        email=EMAIL,
    )
    _recommend(db, sid)
    make_staff(db, clock, email="agent@example.net", role="agent")
    tech = make_staff(db, clock, email="tess@example.net", role="technician").id
    make_account(db, clock, sid, EMAIL)
    with db.transaction() as s:
        case = support_actions.open_case(
            s,
            now=NOW,
            actor=Actor.system("tests"),
            channel="phone",
            subject="Wi-Fi drops upstairs",
            subscriber_id=sid,
            category="wifi",
        )
        order = dispatch.create_work_order(
            s,
            subscriber_id=sid,
            kind="repair",
            window_start=NOW + timedelta(minutes=10),
            window_end=NOW + timedelta(hours=2),
            technician_id=tech,
            actor=Actor.system("tests"),
            now=NOW,
        )
        return sid, case.id, order.id


def _staff_sign_in(page: object, base: str, email: str, target: str) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.goto(f"{base}/login?next={target}")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_recommendation_with_its_reason_for_agent_technician_and_subscriber(
    live_server: str, db: Database, clock: ManualClock, tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    shots = Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    sid, case_id, order_id = _setup(db, clock)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # The agent: the subscriber 360 beside the case.
            desk = browser.new_context(viewport=DESKTOP)
            page = desk.new_page()
            _staff_sign_in(page, live_server, "agent@example.net", f"/console/cases/{case_id}")
            expect(page).to_have_url(f"{live_server}/console/cases/{case_id}")
            recs = page.locator("#recommendations")
            expect(recs.get_by_role("heading", name="Recommended bundles")).to_be_visible()
            expect(recs.locator(".reason")).to_have_text(REASON)
            expect(recs.get_by_role("button", name="Accepted")).to_be_visible()
            recs.scroll_into_view_if_needed()
            page.screenshot(path=shots / "retention-console-360.png", full_page=True)
            desk.close()

            # The technician on site, on a phone.
            field = browser.new_context(
                viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
            )
            page = field.new_page()
            _staff_sign_in(page, live_server, "tess@example.net", f"/field/orders/{order_id}")
            expect(page).to_have_url(f"{live_server}/field/orders/{order_id}")
            recs = page.locator("#recommendations")
            expect(recs.locator(".reason")).to_have_text(REASON)
            _no_horizontal_overflow(page, "field visit")
            recs.screenshot(path=shots / "retention-field-phone.png")
            field.close()

            # The subscriber in the portal accepts it.
            phone = browser.new_context(
                viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
            )
            page = phone.new_page()
            page.goto(f"{live_server}/portal/login")
            page.get_by_label("E-mail", exact=True).fill(EMAIL)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(f"{live_server}/portal/")
            recs = page.locator("#recommendations")
            expect(recs.get_by_role("heading", name="Suggested for your home")).to_be_visible()
            expect(recs.locator(".reason")).to_have_text(REASON)
            _no_horizontal_overflow(page, "portal home")
            recs.screenshot(path=shots / "retention-portal-phone.png")
            recs.get_by_role("button", name="Yes, add it").click()
            expect(page.locator(".flash")).to_contain_text("Whole Home Wi-Fi: accepted.")
            expect(page.locator("#recommendations")).to_have_count(0)
            page.screenshot(path=shots / "retention-portal-accepted-phone.png", full_page=True)
            phone.close()
        finally:
            browser.close()

    with db.session() as s:
        rec = s.scalars(select(Recommendation)).one()
        assert (rec.status, rec.decided_via, rec.decided_by) == ("accepted", "portal", EMAIL)
        assert set(rec.shown) == {"agent", "technician", "portal"}
        assert "MESH-WIFI" in {b.code for b in s.get_one(Subscriber, sid).bundles}
