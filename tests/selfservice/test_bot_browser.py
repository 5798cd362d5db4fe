"""The chatbot in a real browser (Debian's Chromium through Playwright), at a phone-sized
viewport: a subscriber asks about slow internet, the bot reads the home's live telemetry and
says what it sees, then hands over; the agent opens the case in the console and reads the
whole transcript and the bot's diagnostics."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.selfservice.models import BotConversation
from tests.adapters.channels import ALICE_PORTAL, setup_people
from tests.conftest import PASSWORD
from tests.support.guided_data import feed, last_hour
from tests.web.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    SCREENSHOT_DIR,
    _no_horizontal_overflow,
    live_server,
    require_chromium,
)

__all__ = ["live_server"]
pytestmark = pytest.mark.browser


def test_bot_diagnoses_slow_internet_then_hands_over_to_an_agent(
    live_server: str, db: Database, clock: ManualClock, tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    fleet, _account, _agent = setup_people(db, clock)
    gateway = "GW-000101"  # Alice's (tests/factories.py)
    # An hour of reports at 30 Mbps on a faster plan: "speed persistently below plan" opens.
    feed(db, fleet, last_hour(gateway, end=clock.now(), wan={"down_mbps": 30.0}))
    shots = Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport=PHONE).new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(f"{live_server}/portal/chat")
            page.fill("input[name=email]", ALICE_PORTAL)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{live_server}/portal/chat")
            expect(page.locator("[data-chat-status]")).to_contain_text("assistant")
            expect(page.locator(".chat-msg.bot").first).to_contain_text("Homeport assistant")

            page.fill("#chat-input", "my internet is realy slow since yesterday")
            page.keyboard.press("Enter")
            bot = page.locator(".chat-msg.bot")
            expect(bot.nth(1)).to_contain_text("I've checked your home network")
            expect(bot.nth(1)).to_contain_text("Your line is slower than your plan")
            expect(bot.last).to_contain_text("pass this to a person")
            _no_horizontal_overflow(page, "portal chat with the bot")
            page.screenshot(path=str(shots / "portal-chatbot-diagnosis.png"))

            page.fill("#chat-input", "yes")
            page.keyboard.press("Enter")
            expect(bot.last).to_contain_text("passing our conversation to a person")
            expect(page.locator("[data-chat-status]")).to_contain_text("person")
            assert dialogs == []

            with db.session() as s:
                conv = s.scalars(select(BotConversation)).one()
                assert conv.outcome == "handed_over" and conv.case_id is not None
                case_id = conv.case_id

            agent = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            agent.goto(f"{live_server}/login?next=/console/cases/{case_id}")
            agent.fill("input[name=email]", "agent@example.net")
            agent.fill("input[name=password]", PASSWORD)
            agent.click("button[type=submit]")
            expect(agent).to_have_url(f"{live_server}/console/cases/{case_id}")
            body = agent.locator("main")
            expect(body).to_contain_text("my internet is realy slow since yesterday")
            expect(body).to_contain_text("I've checked your home network")
            expect(body).to_contain_text("Intent: slow_internet")
            expect(body).to_contain_text("speed_below_plan")
            agent.screenshot(path=str(shots / "console-chatbot-handover.png"), full_page=True)
        finally:
            browser.close()
