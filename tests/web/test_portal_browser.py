"""A subscriber fixes a Wi-Fi problem the simulator injected, from a phone, in a real browser.

The simulated fleet (``homeport.simulator``) reports over HTTP to the app served by uvicorn,
its gateways collecting their remote actions in the answers, as in ``homeport demo``. A Wi-Fi
interference fault is injected on one home's 2.4 GHz radio: the detectors open a
``congested_channel`` finding. Its subscriber signs in (390×844, Debian's Chromium through
Playwright), sees the problem in plain words on the home page, follows the agents' Wi-Fi flow
step by step, changes the channel from the flow; the simulated gateway carries it out, the
interference ends in the simulated telemetry, and the finding resolves. Every page passes an
in-browser accessibility audit and the flow is driven by keyboard. Auto-remediation is off so
that the subscriber's fix is the one that works (with it on, Homeport fixes it first, on its
own).

Screenshots: ``portal-*.png`` in ``HOMEPORT_SCREENSHOT_DIR`` (``docs/screenshots``) when set.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from sqlalchemy import select

from homeport.core.clock import ManualClock
from homeport.core.db import Database
from homeport.core.settings import Settings
from homeport.health.models import DeviceAction, Finding
from homeport.network.models import Home
from homeport.selfservice.models import EngagementEvent
from homeport.simulator import faults, live, telemetry
from homeport.simulator.fleet import generate_fleet
from homeport.simulator.models import SimFault
from tests.conftest import PASSWORD, START
from tests.selfservice.portal import make_account
from tests.simulator.test_live import telemetry_token
from tests.web.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    SCREENSHOT_DIR,
    _everything_fits,
    _no_horizontal_overflow,
    live_server,
    require_chromium,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["live_server"]
pytestmark = pytest.mark.browser

INTERVAL = 300
EMAIL = "sim.subscriber@portal.example"

#: The audit run on every page: what an automated checker (axe-core's basic rules) would flag —
#: a missing language, title or main landmark, form controls and buttons without an accessible
#: name, links without text, images without a text alternative, duplicate ids, headings that
#: skip a level, more than one h1.
AUDIT = """() => {
  const problems = [];
  const name = (el) => {
    if (el.getAttribute('aria-label')) return el.getAttribute('aria-label');
    if (el.getAttribute('aria-labelledby')) {
      return el.getAttribute('aria-labelledby').split(' ')
        .map((id) => (document.getElementById(id) || {}).textContent || '').join(' ');
    }
    if (el.labels && el.labels.length) return [...el.labels].map((l) => l.textContent).join(' ');
    return (el.textContent || el.value || el.getAttribute('title') || '').trim();
  };
  if (!document.documentElement.lang) problems.push('html without lang');
  if (!document.title.trim()) problems.push('page without title');
  if (document.querySelectorAll('main').length !== 1) problems.push('not exactly one main');
  if (document.querySelectorAll('h1').length !== 1) problems.push('not exactly one h1');
  const visible = (el) => el.type !== 'hidden' && !el.hidden;
  document.querySelectorAll('input, select, textarea').forEach((el) => {
    if (visible(el) && !name(el).trim()) problems.push('unlabelled ' + (el.name || el.id));
  });
  document.querySelectorAll('button').forEach((el) => {
    if (!el.hidden && !name(el).trim()) problems.push('button without a name');
  });
  document.querySelectorAll('a[href]').forEach((el) => {
    if (!name(el).trim()) problems.push('link without text: ' + el.getAttribute('href'));
  });
  document.querySelectorAll('img').forEach((el) => {
    if (!el.hasAttribute('alt')) problems.push('img without alt');
  });
  const ids = {};
  document.querySelectorAll('[id]').forEach((el) => { ids[el.id] = (ids[el.id] || 0) + 1; });
  Object.entries(ids).forEach(([id, n]) => { if (n > 1) problems.push('duplicate id ' + id); });
  let last = 0;
  document.querySelectorAll('h1, h2, h3, h4').forEach((h) => {
    const level = Number(h.tagName[1]);
    if (last && level > last + 1) problems.push('heading skips to ' + h.textContent.trim());
    last = level;
  });
  return problems;
}"""


def audit(page: Page, where: str) -> None:
    problems = page.evaluate(AUDIT)
    assert problems == [], f"{where}: {problems}"
    _no_horizontal_overflow(page, where)
    _everything_fits(page, where)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    health = settings.health.model_copy(update={"auto_remediation": False})
    return settings.model_copy(update={"health": health})


class Simulation:
    """The live emitter's loop, tick by tick under the test's control (``LiveEmitter.run``
    does the same with its own fault schedule)."""

    def __init__(self, db: Database, clock: ManualClock, url: str, device: str, secret: str):
        self.db = db
        self.clock = clock
        with db.session() as session:
            self.fleet = telemetry.load_fleet(session, at=clock.now())
        self.transport = live.HttpTransport(
            url, telemetry_token(db, clock), gateways={device: secret}
        )
        self.emitter = live.LiveEmitter(db, self.transport, live.ManualPacer(clock))
        self.active: list[faults.Fault] = []
        self.t = int(clock.now().timestamp()) // INTERVAL * INTERVAL

    def inject(self, fault: faults.Fault) -> None:
        self.emitter._record([fault], fault.start_s)
        self.active.append(fault)

    def tick(self) -> live.Delivery:
        self.t += INTERVAL
        self.clock.set(datetime.fromtimestamp(self.t, UTC) + timedelta(seconds=5))
        frame = telemetry.frame(self.fleet, self.t)
        faults.apply(self.fleet, frame, self.active)
        reports = telemetry.reports(self.fleet, frame)
        up = frame.wan_up.tolist()
        delivery = self.transport.send([r for r, ok in zip(reports, up, strict=True) if ok])
        assert delivery.rejected == 0 and delivery.failed == 0, delivery.reasons
        if delivery.done:
            self.active = self.emitter._carry_out(self.fleet, self.active, delivery.done, self.t)
        return delivery

    def close(self) -> None:
        self.transport.close()


@pytest.fixture
def simulated(db: Database, clock: ManualClock) -> Iterator[tuple[int, str, int]]:
    """A small simulated fleet built the day before; returns (subscriber id, device id, fleet
    index) of a home with 2.4 GHz clients and nothing else wrong."""
    clock.set(START - timedelta(hours=2))
    generate_fleet(db, subscribers=40, seed=7, now=START - timedelta(days=1))
    with db.session() as session:
        fleet = telemetry.load_fleet(session, at=clock.now())
        frame = telemetry.frame(fleet, int(clock.now().timestamp()))
        for i in range(fleet.size):
            c0, c1 = int(fleet.client_start[i]), int(fleet.client_start[i + 1])
            if c1 - c0 < 2 or not frame.wan_up[i]:
                continue
            home = session.get_one(Home, int(fleet.home_id[i]))
            if home.mesh_nodes or home.gateway is None:
                continue
            yield home.subscriber_id, home.gateway.device_id, i
            return
    raise AssertionError("no suitable simulated home")


def test_subscriber_fixes_an_injected_wifi_problem_from_a_phone(
    live_server: str,
    db: Database,
    clock: ManualClock,
    simulated: tuple[int, str, int],
    tmp_path: Path,
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    shots = Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    subscriber_id, device, index = simulated
    make_account(db, clock, subscriber_id, EMAIL)
    secrets = live.issue_gateway_secrets(db, clock.now())
    sim = Simulation(db, clock, live_server, device, secrets[device])
    start = sim.t + INTERVAL
    home_id = int(sim.fleet.home_id[index])
    sim.inject(
        faults.Fault(
            "wifi_interference",
            start,
            start + 6 * 3600,
            np.array([index]),
            home_id,
            subject="2.4GHz",
            band=0,
            params={"interference_pct": 65.0, "retrans_pct": 20.0},
        )
    )

    def open_finding() -> Finding | None:
        with db.session() as s:
            return s.scalars(
                select(Finding).where(
                    Finding.home_id == home_id,
                    Finding.kind == "congested_channel",
                    Finding.status == "open",
                )
            ).first()

    try:
        for _ in range(4):  # the detector needs two reports in a row; the score an hour
            sim.tick()
        finding = open_finding()
        assert finding is not None and finding.subject == "2.4GHz"

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_context(viewport=PHONE).new_page()
                dialogs: list[str] = []
                page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
                page.goto(f"{live_server}/portal/")
                expect(page).to_have_url(f"{live_server}/portal/login?next=/portal/")
                audit(page, "sign-in")
                page.screenshot(path=shots / "portal-login.png", full_page=True)
                page.get_by_label("E-mail", exact=True).fill(EMAIL)
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                expect(page).to_have_url(f"{live_server}/portal/")

                # Home: the Wi-Fi problem in plain words, with the guided fix offered.
                problem = page.locator(".problems li").filter(has_text="2.4GHz Wi-Fi is crowded")
                expect(problem).to_have_count(1)
                expect(page.get_by_text("You're connected to the Internet.")).to_be_visible()
                audit(page, "home")
                page.screenshot(path=shots / "portal-home.png", full_page=True)

                page.get_by_role("link", name="Network", exact=True).click()
                expect(page.get_by_role("heading", name="My network")).to_be_visible()
                expect(page.get_by_text("crowded (", exact=False)).to_be_visible()
                audit(page, "network")
                page.screenshot(path=shots / "portal-network.png", full_page=True)

                page.get_by_role("link", name="Fix", exact=True).click()
                expect(page.get_by_role("heading", name="Suggested for you")).to_be_visible()
                audit(page, "fix")
                page.screenshot(path=shots / "portal-fix.png", full_page=True)
                expect(page.locator(".highlight li").filter(has_text="crowded")).to_have_count(1)
                offers = page.locator(".highlight").get_by_role("link", name="Fix it step by step")
                expect(offers).to_have_count(1)  # one flow, offered once
                offers.click()
                expect(page).to_have_url(f"{live_server}/portal/fix/guide/wifi_coverage")

                # The guided flow, by keyboard: focus the button and press Enter.
                page.get_by_role("button", name="Start the check").focus()
                page.keyboard.press("Enter")
                expect(page.locator(".guide-step")).to_have_count(1)
                expect(page.locator("#latest")).to_be_focused()
                expect(page.locator("#latest")).to_contain_text("Your Internet line is stable")
                page.get_by_role("button", name="Next check").focus()
                page.keyboard.press("Enter")
                latest = page.locator("#latest")
                expect(latest).to_contain_text("sharing its channel with too much else")
                audit(page, "guide")
                page.get_by_role("button", name="Change the Wi-Fi channel").click()
                expect(page.locator(".flash")).to_contain_text("Wi-Fi channel change: on its way")
                expect(page.locator("#latest")).to_contain_text("Waiting for your gateway")
                page.screenshot(path=shots / "portal-guide.png", full_page=True)

                with db.session() as s:
                    action = s.scalars(
                        select(DeviceAction).where(DeviceAction.kind == "set_channel")
                    ).one()
                assert action.requested_by == f"subscriber:{subscriber_id}"
                assert action.params["band"] == "2.4GHz"

                # The gateway collects the action with its next report and carries it out:
                # the interference ends; three clear reports resolve the finding.
                delivery = sim.tick()
                assert delivery.actions == 1
                with db.session() as s:
                    assert s.get_one(DeviceAction, action.id).status == "done"
                    truth = s.scalars(select(SimFault)).one()
                    assert truth.ended_at is not None
                for _ in range(4):
                    sim.tick()
                assert open_finding() is None
                with db.session() as s:
                    resolved = s.get_one(Finding, finding.id)
                    assert resolved.status == "resolved"

                # The page follows the action to "Done"; the next check sees quiet channels.
                page.reload()
                expect(page.locator("#latest [data-action-status]")).to_have_text("Done")
                page.get_by_role("button", name="Check again").click()
                expect(page.locator(".guide-step")).to_have_count(3)
                expect(page.locator(".guide-step").nth(2)).to_contain_text(
                    "Checking the signal your devices get"
                )
                audit(page, "guide after the fix")
                page.screenshot(path=shots / "portal-guide-fixed.png", full_page=True)

                page.get_by_role("link", name="Home", exact=True).click()
                expect(page.locator(".problems li").filter(has_text="crowded")).to_have_count(0)
                page.screenshot(path=shots / "portal-home-fixed.png", full_page=True)

                for path, name in [
                    ("/portal/contact", "portal-contact.png"),
                    ("/portal/settings", "portal-settings.png"),
                ]:
                    page.goto(live_server + path)
                    audit(page, path)
                    page.screenshot(path=shots / name, full_page=True)
                assert dialogs == []
            finally:
                browser.close()
    finally:
        sim.close()

    with db.session() as s:
        steps: list[dict[str, Any]] = [
            e.detail
            for e in s.scalars(
                select(EngagementEvent)
                .where(
                    EngagementEvent.subscriber_id == subscriber_id,
                    EngagementEvent.kind == "guided_step",
                )
                .order_by(EngagementEvent.id)
            )
        ]
    assert [(d["step"], d["result"]) for d in steps][:2] == [
        ("check_line", "line_stable"),
        ("check_channel", "congested_channel"),
    ]
    assert steps[2]["step"] == "check_coverage"
