"""A real browser works a case in the agent console: sign in as an agent, take a case from the
queue with the keyboard, read the subscriber 360, run a guided flow, restart the gateway, reply
by e-mail and solve the case with an outcome; then the same pages fit a phone.

Debian's Chromium through Playwright against the app served by uvicorn (see test_browser.py).
When ``HOMEPORT_SCREENSHOT_DIR`` is set (``make screenshots``), the console's screenshots are
written there as ``console-*.png``, beside the other pages' (``docs/screenshots``); otherwise to
the test's temporary directory.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.health.models import DeviceAction
from homeport.journey.models import Survey
from homeport.support import actions
from homeport.support.models import Case, GuidedStep, Interaction, OutboundMessage
from tests.conftest import PASSWORD
from tests.support.console_data import build_desk
from tests.web.health_data import build_story
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


def test_agent_works_a_case_from_the_queue(
    live_server: str,
    db: Database,
    clock: ManualClock,
    settings: Settings,
    tmp_path: Path,
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    shots = Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    story = build_story(db, settings)
    desk = build_desk(db, story.fleet, clock.now())
    with db.transaction() as s:  # what the worker does each minute
        actions.check_slas(s, now=clock.now())
    case_id = desk.cases["wifi"]
    with db.transaction() as s:  # Alice's answer after her installation, and a survey still out
        alice = s.get_one(Case, case_id).subscriber_id
        now = clock.now()
        s.add_all(
            [
                Survey(
                    subscriber_id=alice,
                    kind="csat",
                    moment="post_install",
                    channel="email",
                    sent_at=now - timedelta(days=40),
                    expires_at=now - timedelta(days=26),
                    answered_at=now - timedelta(days=39),
                    score=2,
                    comment="The engineer came late and the Wi-Fi upstairs is still weak.",
                ),
                Survey(
                    subscriber_id=alice,
                    kind="nps",
                    moment="relationship",
                    channel="portal",
                    sent_at=now - timedelta(days=2),
                    expires_at=now + timedelta(days=12),
                ),
            ]
        )

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=DESKTOP)
            page = context.new_page()
            page.on("dialog", lambda dialog: dialog.accept())
            page.goto(f"{live_server}/console")
            page.get_by_label("E-mail").fill("agent@example.net")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(f"{live_server}/console")

            # The queue: counters and the Tier 1 cases; move with j and take with t.
            expect(page.get_by_role("heading", name="Cases")).to_be_visible()
            rows = page.locator(".case-row")
            expect(rows.filter(has_text="Wi-Fi drops in the evening")).to_have_count(1)
            wifi_index = next(
                i
                for i in range(rows.count())
                if "Wi-Fi drops" in (rows.nth(i).text_content() or "")
            )
            page.screenshot(path=shots / "console-queue.png", full_page=True)
            for _ in range(wifi_index + 1):
                page.keyboard.press("j")
            expect(rows.nth(wifi_index)).to_have_class("case-row selected")
            page.keyboard.press("?")
            expect(page.locator("#shortcuts")).to_be_visible()
            page.keyboard.press("Escape")
            page.keyboard.press("t")
            expect(page).to_have_url(f"{live_server}/console/cases/{case_id}")
            expect(page.locator(".flash")).to_have_text("The case is yours.")
            with db.session() as s:
                assert s.get_one(Case, case_id).assignee_id == desk.agent

            # The subscriber 360: who, plan, score history, devices, past cases.
            side = page.locator("aside.case-side")
            expect(side.get_by_role("heading", name="Alice Smith")).to_be_visible()
            expect(side.locator("#chart-history svg")).to_be_visible()
            expect(side.locator(".score-num")).to_be_visible()
            expect(side.locator("#homenet").get_by_text("Doorbell camera")).to_be_visible()
            expect(
                side.locator("#history").get_by_text("Slow speeds on the laptop").first
            ).to_be_visible()
            expect(side.get_by_text("Recent telemetry")).to_be_visible()
            surveys = side.locator("#surveys")
            expect(surveys.locator(".badge.bad")).to_have_text("CSAT 2")
            expect(surveys.get_by_text("the Wi-Fi upstairs is still weak")).to_be_visible()
            expect(surveys.get_by_text("sent, not answered yet")).to_be_visible()

            # A guided flow: the Wi-Fi flow is suggested for this category; run its first step.
            page.keyboard.press("g")
            expect(page.locator("#guided-flow")).to_be_focused()
            page.locator("#guided-flow").select_option("wifi_coverage")
            page.get_by_role("button", name="Start flow").click()
            expect(page.locator(".flash")).to_have_text("Step run and recorded.")
            expect(page.locator(".guided-step")).to_have_count(1)
            with db.session() as s:
                step = s.scalars(select(GuidedStep).where(GuidedStep.case_id == case_id)).one()
            assert step.flow == "wifi_coverage"

            # A remote restart from the case (the confirmation is accepted), noted on the case.
            page.locator("#remote").get_by_role("button", name="Restart the gateway").click()
            expect(page.locator(".flash")).to_contain_text("Restart the gateway: queued")
            expect(page.locator(".msg.dir-internal").last).to_contain_text(
                "Remote action: Restart the gateway (GW-000101)"
            )
            with db.session() as s:
                kinds = [a.kind for a in s.scalars(select(DeviceAction))]
            assert "reboot" in kinds

            # Reply by e-mail with r, then solve with s.
            page.keyboard.press("r")
            expect(page.locator("#reply-body")).to_be_focused()
            page.keyboard.type("We restarted your router; the evening drops should stop.")
            page.get_by_role("button", name="Send reply").click()
            expect(page.locator(".flash")).to_have_text("E-mail queued for sending.")
            with db.session() as s:
                sent = s.scalars(
                    select(OutboundMessage).where(OutboundMessage.case_id == case_id)
                ).one()
            assert sent.recipient == "alice.smith@example.org"
            assert sent.headers["In-Reply-To"] == "<m1@example.org>"
            page.screenshot(path=shots / "console-case.png", full_page=True)

            page.keyboard.press("s")
            expect(page.locator("#outcome")).to_be_focused()
            page.locator("#outcome").select_option("remote_fix")
            page.get_by_label("Resolution notes").fill("Gateway restarted; Wi-Fi channel clear.")
            page.get_by_role("button", name="Solve case").click()
            expect(page.locator(".case-head")).to_contain_text("Solved")
            expect(page.locator(".case-head")).to_contain_text("Remote fix")
            with db.session() as s:
                case = s.get_one(Case, case_id)
                assert (case.status, case.outcome) == ("solved", "remote_fix")

            # A live-chat case: the agent answers in the chat box, over the chat WebSocket.
            chat_case = desk.cases["mine"]
            page.goto(f"{live_server}/console/cases/{chat_case}")
            box = page.locator("#chat")
            expect(box.locator("[data-chat-state]")).to_have_text(
                re.compile("connected|subscriber away")
            )
            expect(box.locator(".chat-log li")).to_have_count(1)  # the subscriber's message
            box.get_by_label("Message to the subscriber").fill("Let me check your line.")
            box.get_by_role("button", name="Send").click()
            expect(box.locator(".chat-log li").last).to_contain_text("Let me check your line.")
            with db.session() as s:
                said = s.scalars(
                    select(Interaction).where(
                        Interaction.case_id == chat_case, Interaction.direction == "outbound"
                    )
                ).one()
            assert (said.channel, said.author_id) == ("live_chat", desk.agent)
            context.close()

            # The same pages on a phone: nothing wider than the screen.
            phone = browser.new_context(
                viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
            )
            page = phone.new_page()
            page.goto(f"{live_server}/login")
            page.get_by_label("E-mail").fill("agent@example.net")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.goto(f"{live_server}/console")
            _no_horizontal_overflow(page, "console queue")
            _everything_fits(page, "console queue")
            page.screenshot(path=shots / "console-queue-phone.png", full_page=True)
            page.goto(f"{live_server}/console/cases/{case_id}")
            _no_horizontal_overflow(page, "console case")
            _everything_fits(page, "console case")
            page.screenshot(path=shots / "console-case-phone.png", full_page=False)
        finally:
            browser.close()
