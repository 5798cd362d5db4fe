"""A supervisor reads the KPI dashboards in a real browser, on a desktop and on a phone: the
leadership overview's tiles (value, target, previous period, red/green, trend with its target
line), the period switcher, a target changed through the form, the support page's table per
channel, and the maturity page. Nothing sticks out of a 390 px screen.

Debian's Chromium through Playwright against the app served by uvicorn (see test_browser.py).
When ``HOMEPORT_SCREENSHOT_DIR`` is set, the screenshots are written there as ``kpis-*.png``
(``docs/screenshots``); otherwise to the test's temporary directory.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.kpis import actions
from homeport.kpis.definitions import HEADLINE
from homeport.kpis.models import KpiSnapshot
from homeport.kpis.service import bucket_start, shift, zone_of
from tests.conftest import PASSWORD, TEST_ACTOR, make_staff
from tests.kpis.data import SINCE, UNTIL, build_week
from tests.web.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    SCREENSHOT_DIR,
    _everything_fits,
    _no_horizontal_overflow,
    live_server,
    require_chromium,
)

__all__ = ["live_server"]  # the fixture, shared with test_browser.py
pytestmark = pytest.mark.browser

#: Stored weekly history before the hand-built week (what the worker's kpi_snapshots task
#: keeps): ten weeks of each headline KPI, drifting towards the week's figures.
HISTORY = {
    "first_contact_resolution": (58, 61, 60, 64, 66, 63, 68, 71, 69, 72),
    "truck_roll_rate": (24, 22, 23, 21, 19, 18, 17, 16, 14, 15),
    "time_to_resolve": (30, 28, 29, 26, 25, 22, 21, 19, 18, 20),
    "sla_compliance": (71, 73, 72, 75, 78, 80, 79, 82, 84, 83),
    "proactive_share": (12, 14, 15, 18, 21, 24, 26, 29, 31, 33),
    "self_service_containment": (14, 15, 17, 18, 20, 22, 24, 25, 27, 28),
    "digital_adoption": (38, 40, 41, 43, 45, 47, 48, 50, 52, 53),
    "nps": (8, 11, 10, 14, 17, 19, 18, 22, 25, 24),
    "csat": (74, 75, 77, 76, 79, 80, 82, 81, 83, 84),
    "churn_rate": (1.9, 1.8, 1.8, 1.7, 1.6, 1.6, 1.5, 1.4, 1.4, 1.3),
}


def _history(db: Database, zone: str) -> None:
    tz = zone_of(zone)
    first = bucket_start("week", SINCE, tz)
    with db.transaction() as s:
        for name in HEADLINE:
            for i, value in enumerate(reversed(HISTORY[name]), start=1):
                start = shift("week", first, -i, tz)
                s.add(
                    KpiSnapshot(
                        kpi=name,
                        period="week",
                        period_start=start,
                        cut="",
                        value=float(value),
                        computed_at=shift("week", start, 1, tz) + timedelta(hours=1),
                    )
                )
        actions.seed_default_targets(s, TEST_ACTOR, now=UNTIL)


def _sign_in(page: object, base: str, email: str) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.goto(f"{base}/login?next=/kpis")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_supervisor_reads_the_kpi_dashboards_on_a_desktop_and_a_phone(
    live_server: str, db: Database, clock: ManualClock, tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    shots = Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    build_week(db)
    _history(db, "Europe/London")
    clock.set(UNTIL + timedelta(days=2, hours=9))  # Wednesday of the week after
    make_staff(db, clock, email="lead@example.net", role="supervisor")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            desktop = browser.new_context(viewport=DESKTOP)
            page = desktop.new_page()
            _sign_in(page, live_server, "lead@example.net")
            expect(page).to_have_url(f"{live_server}/kpis")
            page.get_by_role("navigation", name="Period").get_by_role("link", name="Week").click()
            page.get_by_role("link", name="Last full week").click()
            expect(page).to_have_url(f"{live_server}/kpis?complete=1")
            expect(page.get_by_role("heading", name="Leadership overview")).to_be_visible()
            tiles = page.locator(".kpi-tile")
            expect(tiles).to_have_count(len(HEADLINE))
            fcr = page.locator("#kpi-first_contact_resolution")
            expect(fcr.locator(".kpi-value")).to_have_text("40.0 %")
            expect(fcr.locator(".kpi-status")).to_have_text("Off target")
            nps = page.locator("#kpi-nps")
            expect(nps.locator(".kpi-value")).to_have_text("+40")
            expect(nps.locator(".kpi-status")).to_have_text("On target")
            expect(nps.locator(".kpi-previous")).to_have_text("-100")  # Bob's 0 the week before
            expect(nps.locator(".kpi-delta.ok")).to_contain_text("▲ +140")
            chart = fcr.get_by_role("img", name="First-contact resolution per week")
            expect(chart).to_be_visible()
            box = chart.bounding_box()
            assert box is not None and box["width"] >= 300, box
            _no_horizontal_overflow(page, "overview desktop")
            page.screenshot(path=shots / "kpis-overview-desktop.png", full_page=True)

            # A target changed through the form turns CSAT green.
            csat = page.locator("#kpi-csat")
            expect(csat.locator(".kpi-status")).to_have_text("Off target")
            csat.locator("summary", has_text="Edit target").click()
            csat.get_by_role("textbox", name="Target").fill("65")
            csat.get_by_role("button", name="Save target").click()
            expect(page).to_have_url(f"{live_server}/kpis?complete=1")
            expect(page.locator(".flash")).to_contain_text("CSAT: target set to 65.0 %")
            expect(page.locator("#kpi-csat .kpi-status")).to_have_text("On target")

            # The support page: the table per channel.
            page.get_by_role("navigation", name="KPI dashboards").get_by_role(
                "link", name="Support"
            ).click()
            expect(page).to_have_url(f"{live_server}/kpis/support?complete=1")
            page.get_by_role("navigation", name="Break down by").get_by_role(
                "link", name="Channel"
            ).click()
            table = page.locator("table.kpi-breakdown")
            expect(table.get_by_role("row", name="Email")).to_contain_text("33.3 %")
            _no_horizontal_overflow(page, "support desktop")
            page.screenshot(path=shots / "kpis-support-desktop.png", full_page=True)

            # The maturity page, from the menu: the continuum, the gaps, the evidence.
            page.get_by_role("navigation").get_by_role("link", name="Maturity").first.click()
            expect(page).to_have_url(f"{live_server}/maturity")
            expect(page.get_by_role("heading", name="Maturity", exact=True)).to_be_visible()
            expect(
                page.get_by_role("heading", name="Where you stand on the service continuum")
            ).to_be_visible()
            expect(page.get_by_role("heading", name="The evidence, stage by stage")).to_be_visible()
            expect(page.get_by_role("heading", name="Self-assessment")).to_be_visible()
            _no_horizontal_overflow(page, "maturity desktop")
            page.screenshot(path=shots / "maturity-desktop.png", full_page=True)
            desktop.close()

            phone = browser.new_context(
                viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
            )
            page = phone.new_page()
            _sign_in(page, live_server, "lead@example.net")
            page.goto(f"{live_server}/kpis?complete=1")
            tiles = page.locator(".kpi-tile")
            expect(tiles).to_have_count(len(HEADLINE))
            first, second = tiles.nth(0).bounding_box(), tiles.nth(1).bounding_box()
            assert first and second and second["y"] > first["y"] + first["height"] - 1  # stacked
            assert first["width"] <= PHONE["width"], first
            _no_horizontal_overflow(page, "overview phone")
            _everything_fits(page, "overview phone")
            page.screenshot(path=shots / "kpis-overview-phone.png", full_page=False)
            page.goto(f"{live_server}/kpis/support?complete=1&by=channel")
            _no_horizontal_overflow(page, "support phone")
            page.goto(f"{live_server}/kpis/satisfaction?complete=1")
            expect(page.locator("#kpi-nps .kpi-value")).to_have_text("+40")
            _no_horizontal_overflow(page, "satisfaction phone")
            _everything_fits(page, "satisfaction phone")
            page.screenshot(path=shots / "kpis-satisfaction-phone.png", full_page=True)
            page.goto(f"{live_server}/maturity")
            expect(page.get_by_role("heading", name="What is missing for stage 1")).to_be_visible()
            _no_horizontal_overflow(page, "maturity phone")
            page.screenshot(path=shots / "maturity-phone.png", full_page=False)
            phone.close()
        finally:
            browser.close()
