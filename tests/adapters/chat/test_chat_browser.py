"""A subscriber chats from a phone in a real browser (Debian's Chromium through Playwright):
signs in to the portal, sends a message (pending until the server's ack), gets the agent's
answer live over the WebSocket; what anyone types is shown as text, never as HTML."""

from __future__ import annotations

from pathlib import Path

import pytest

from homeport.adapters.chat import conversation
from homeport.core.clock import ManualClock
from homeport.core.db import Database
from tests.adapters.channels import ALICE_PORTAL, setup_people
from tests.conftest import PASSWORD
from tests.web.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    _no_horizontal_overflow,
    live_server,
    require_chromium,
)

__all__ = ["live_server"]
pytestmark = pytest.mark.browser


def test_subscriber_chats_from_a_phone(
    live_server: str, db: Database, clock: ManualClock, tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    _fleet, _account, agent_id = setup_people(db, clock)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport=PHONE).new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(f"{live_server}/portal/chat")
            expect(page).to_have_url(f"{live_server}/portal/login?next=/portal/chat")
            page.fill("input[name=email]", ALICE_PORTAL)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{live_server}/portal/chat")
            expect(page.locator("[data-chat-status]")).to_contain_text("Connected")

            page.fill("#chat-input", "My Wi-Fi keeps dropping <img src=x onerror=alert(1)>")
            page.keyboard.press("Enter")
            mine = page.locator(".chat-msg.mine")
            expect(mine).to_have_count(1)
            expect(mine).not_to_have_class("chat-msg mine pending")  # acknowledged
            expect(mine).to_contain_text("<img src=x onerror=alert(1)>")  # as text
            assert page.locator(".chat-log img").count() == 0

            with db.session() as s:
                case = conversation.current_case(s, _fleet.subscribers["ACC-1001"])
                assert case is not None
                case_id = case.id
            with db.transaction() as s:  # the agent answers (as the console's socket does)
                conversation.agent_says(
                    s,
                    case_id=case_id,
                    staff_id=agent_id,
                    body="Let me look at your line.",
                    client_id="a1",
                    now=clock.now(),
                    public_url=live_server,
                )
            theirs = page.locator(".chat-msg.theirs")
            expect(theirs).to_have_count(1)
            expect(theirs).to_contain_text("Let me look at your line.")

            page.reload()  # the history comes back from the server
            expect(page.locator(".chat-msg")).to_have_count(2)
            _no_horizontal_overflow(page, "portal chat")
            page.screenshot(path=str(tmp_path / "portal-chat-phone.png"))
            assert dialogs == []
        finally:
            browser.close()
