"""A real browser on a phone-sized screen: sign in, search, open a subscriber; the fleet health
page and the subscriber's experience chart.

Drives Debian's Chromium (``/usr/bin/chromium``) through Playwright against the real app served
by uvicorn. Never downloads a browser. Without Chromium the test is skipped, unless
``HOMEPORT_REQUIRE_BROWSER=1``. Screenshots go to ``HOMEPORT_SCREENSHOT_DIR`` if set (e.g.
``docs/screenshots``), else to the test's temporary directory.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from fastapi import FastAPI

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.settings import Settings
from tests.conftest import PASSWORD, START, make_staff
from tests.factories import build_fleet
from tests.web.health_data import build_story

if TYPE_CHECKING:
    from playwright.sync_api import Page, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
# Read when the module is imported: the autouse fixture in conftest.py clears HOMEPORT_*.
REQUIRE_BROWSER = os.environ.get("HOMEPORT_REQUIRE_BROWSER") == "1"
SCREENSHOT_DIR = os.environ.get("HOMEPORT_SCREENSHOT_DIR", "")


def require_chromium() -> None:
    """Skip without Debian's chromium, or fail when CI says browser tests must run."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(message + " and HOMEPORT_REQUIRE_BROWSER=1")
        pytest.skip(message)


pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(app: FastAPI, db: Database) -> Iterator[str]:
    """The app served by uvicorn on a free local port in a background thread."""
    if db.dialect != "sqlite":
        pytest.skip("the browser test runs on SQLite only")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _no_horizontal_overflow(page: Page, where: str) -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{where}: page is {widths[0]}px wide in a {widths[1]}px view"


def _everything_fits(page: Page, where: str) -> None:
    """No card, tile, chart or table sticks out of the layout viewport (on a phone emulation
    the window may zoom out to fit a too-wide page, so ``innerWidth`` alone would not tell)."""
    wide = page.evaluate(
        """() => {
            const width = document.documentElement.clientWidth;
            return [...document.querySelectorAll('.card, .tile, figure.chart svg, table')]
                .filter((el) => el.getBoundingClientRect().right > width + 1)
                .map((el) => el.className.baseVal ?? el.className);
        }"""
    )
    assert wide == [], f"{where}: wider than the screen: {wide}"


def test_phone_sign_in_search_and_subscriber_page(
    live_server: str, db: Database, clock: ManualClock, tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    shots = Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    make_staff(db, clock, email="agent@example.net")
    fleet = build_fleet(db, clock.now())

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
            )
            page = context.new_page()

            # An anonymous visit lands on the sign-in form.
            page.goto(f"{live_server}/subscribers")
            expect(page).to_have_url(f"{live_server}/login?next=/subscribers")
            expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()
            _no_horizontal_overflow(page, "login")
            page.screenshot(path=shots / "login-phone.png", full_page=True)

            page.get_by_label("E-mail").fill("agent@example.net")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()

            # The list, as cards.
            expect(page).to_have_url(f"{live_server}/subscribers")
            expect(page.locator(".result-count")).to_have_text("5 subscribers")
            expect(page.get_by_role("link", name="Dev Patel")).to_be_visible()
            _no_horizontal_overflow(page, "list")
            page.screenshot(path=shots / "subscribers-phone.png", full_page=True)

            # The phone menu opens.
            page.get_by_role("button", name="Menu").click()
            expect(page.locator("#mainnav").get_by_role("link", name="Subscribers")).to_be_visible()
            page.get_by_role("button", name="Menu").click()

            # Filters: open them, pick a status, apply; the URL keeps only what was chosen.
            page.locator("summary", has_text="Filters").click()
            page.get_by_label("Status").select_option("suspended")
            _no_horizontal_overflow(page, "filters open")
            page.screenshot(path=shots / "subscribers-filters-phone.png")
            page.get_by_role("button", name="Apply").click()
            expect(page).to_have_url(f"{live_server}/subscribers?status=suspended")
            expect(page.locator(".result-count")).to_have_text("1 subscriber")
            expect(page.get_by_role("link", name="Carol Smithers")).to_be_visible()
            expect(page.locator("summary")).to_have_text("Filters (1 active)")
            page.get_by_role("link", name="Clear all").click()
            expect(page.locator(".result-count")).to_have_text("5 subscribers")

            # Search.
            page.get_by_role("searchbox", name="Search subscribers").fill("smith")
            page.get_by_role("searchbox", name="Search subscribers").press("Enter")
            expect(page).to_have_url(f"{live_server}/subscribers?q=smith")
            expect(page.locator(".result-count")).to_have_text("2 subscribers")
            expect(page.get_by_role("link", name="Bob Jones")).to_have_count(0)
            page.get_by_role("link", name="Alice Smith").click()

            # The subscriber page: plan, topology, devices.
            expect(page).to_have_url(f"{live_server}/subscribers/{fleet.subscribers['ACC-1001']}")
            expect(page.get_by_role("heading", name="Alice Smith")).to_be_visible()
            expect(page.get_by_text("Full Fibre Gigabit")).to_be_visible()
            expect(page.get_by_role("link", name="LDS-OLT-01")).to_be_visible()
            expect(page.get_by_role("link", name="Others on this port")).to_be_visible()
            camera = page.locator(".device", has_text="Doorbell camera")
            expect(camera).to_be_visible()
            expect(camera.locator(".badge")).to_have_text("Unusable")
            expect(
                page.locator(".device", has_text="Living room TV").locator(".badge")
            ).to_have_text("Fair")
            _no_horizontal_overflow(page, "subscriber")
            page.screenshot(path=shots / "subscriber-phone.png", full_page=True)

            # "Others on this port" leads to the list filtered by that port.
            page.get_by_role("link", name="Others on this port").click()
            expect(page.locator(".result-count")).to_have_text("2 subscribers")
            expect(page.locator(".chip")).to_contain_text("North / LDS-OLT-01 / 1/1/1")
            _no_horizontal_overflow(page, "list by port")
            context.close()

            # The same subscriber page on a desktop screen: a table-free two-column layout.
            desktop = browser.new_context(viewport=DESKTOP)
            page = desktop.new_page()
            page.goto(f"{live_server}/login")
            page.get_by_label("E-mail").fill("agent@example.net")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(f"{live_server}/subscribers")
            expect(page.locator("table.results thead")).to_be_visible()
            _no_horizontal_overflow(page, "desktop list")
            page.screenshot(path=shots / "subscribers-desktop.png", full_page=True)
            page.goto(f"{live_server}/subscribers/{fleet.subscribers['ACC-1001']}")
            expect(page.get_by_text("Full Fibre Gigabit")).to_be_visible()
            _no_horizontal_overflow(page, "desktop subscriber")
            page.screenshot(path=shots / "subscriber-desktop.png", full_page=True)
            desktop.close()
        finally:
            browser.close()


def test_phone_fleet_health_and_subscriber_experience(
    live_server: str, db: Database, clock: ManualClock, settings: Settings, tmp_path: Path
) -> None:
    """The fleet health page (charts, counts, live refresh) and the subscriber page's
    Experience section with its score history chart, on a phone, with real health data."""
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    shots = Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    make_staff(db, clock, email="noc@example.net", role="noc")
    story = build_story(db, settings)
    clock.set(START + timedelta(minutes=1))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
            )
            page = context.new_page()
            page.goto(f"{live_server}/login?next=/health")
            page.get_by_label("E-mail").fill("noc@example.net")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()

            # The fleet health page: counts, three charts with text alternatives, the outage.
            expect(page).to_have_url(f"{live_server}/health")
            expect(page.get_by_role("heading", name="Fleet health")).to_be_visible()
            offline = page.locator(".tile", has_text="Offline now")
            expect(offline.locator(".tile-value")).to_have_text("6")
            for name in ("Current experience scores", "Fleet mean experience score"):
                chart = page.get_by_role("img", name=name)
                expect(chart).to_be_visible()
                box = chart.bounding_box()
                assert box is not None and 300 <= box["width"] <= PHONE["width"], box
            expect(page.get_by_role("img", name="Open findings by detector")).to_be_visible()
            expect(page.get_by_role("link", name="North / LDS-OLT-01 / 1/1/2")).to_be_visible()
            _no_horizontal_overflow(page, "fleet health")
            _everything_fits(page, "fleet health")
            page.screenshot(path=shots / "fleet-health-phone.png", full_page=True)

            # The figures refresh themselves: a new finding appears without a reload.
            page.evaluate("() => { window.__marker = 1; }")
            stamp = page.locator(".live-stamp time").inner_text()
            clock.set(START + timedelta(minutes=3))
            page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
            expect(page.locator(".live-stamp time")).not_to_have_text(stamp)
            assert page.evaluate("() => window.__marker") == 1  # the same page, not reloaded

            # The outage lists the affected subscribers.
            page.get_by_role("link", name="North / LDS-OLT-01 / 1/1/2").click()
            expect(
                page.get_by_role("heading", name="Outage #1: North / LDS-OLT-01 / 1/1/2")
            ).to_be_visible()
            expect(page.get_by_role("link", name="Filler 0001")).to_be_visible()
            _no_horizontal_overflow(page, "outage")
            _everything_fits(page, "outage")
            page.screenshot(path=shots / "outage-phone.png", full_page=True)

            # The subscriber page: score, explanation, sub-scores, history chart, findings.
            page.goto(f"{live_server}/subscribers/{story.alice}#experience")
            section = page.locator("#experience")
            expect(section.get_by_role("heading", name="Experience")).to_be_visible()
            expect(section.locator(".explanation")).to_contain_text("Wi-Fi coverage pulled")
            history = section.get_by_role("img", name="Experience score, hourly, last 7 days")
            history.scroll_into_view_if_needed()
            expect(history).to_be_visible()
            box = history.bounding_box()
            assert box is not None and 300 <= box["width"] <= PHONE["width"], box
            section.locator("summary", has_text="Show as a table").click()
            expect(section.locator(".chart-data table")).to_be_visible()
            expect(section.locator(".finding", has_text="Wi-Fi coverage gap")).to_be_visible()
            expect(section.locator(".action", has_text="Set channel")).to_contain_text("Queued")
            _no_horizontal_overflow(page, "experience")
            _everything_fits(page, "experience")
            section.screenshot(path=shots / "subscriber-experience-phone.png")

            # Queue a speed test from the page.
            section.get_by_role("button", name="Run a speed test").click()
            expect(page.locator(".flash")).to_contain_text("Run a speed test: queued")
            expect(page.locator("#experience .action", has_text="Speed test")).to_be_visible()
            context.close()

            desktop = browser.new_context(viewport=DESKTOP)
            page = desktop.new_page()
            page.goto(f"{live_server}/login?next=/health")
            page.get_by_label("E-mail").fill("noc@example.net")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Fleet health")).to_be_visible()
            _no_horizontal_overflow(page, "desktop fleet health")
            page.screenshot(path=shots / "fleet-health-desktop.png", full_page=True)
            page.goto(f"{live_server}/health/findings")
            expect(page.locator("table.results thead")).to_be_visible()
            page.screenshot(path=shots / "findings-desktop.png", full_page=True)
            desktop.close()
        finally:
            browser.close()
