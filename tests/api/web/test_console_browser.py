"""The console end to end in Chromium (tests/api/web/browser.py), on SQLite: an analyst
signs in by keyboard (password, then setting up the authenticator), opens the alert of a
held transfer, works its case and sees the audit trail; a supervisor, in a browser of
their own, approves the freeze the analyst asked for. Every page passes axe-core with no
serious violation and is kept as a screenshot."""

from __future__ import annotations

from collections.abc import Iterator

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from guardpay.adapters.kyc import Kyc
from guardpay.adapters.sms import FakeSms
from guardpay.api.app import create_app
from guardpay.security import passwords
from guardpay.security.keys import Keyring
from guardpay.storage.engine.db import Database
from tests.api.api_fixtures import Api, Clock
from tests.api.test_payments_api import OP_SECRET, World
from tests.api.test_payments_api import world as world
from tests.api.web.browser import checked, chromium, served
from tests.api.web.console_fixtures import Console, operator
from tests.api.web.test_console import held_case, keep_candidate_rules

pytestmark = pytest.mark.xdist_group("browser")


@pytest.fixture(name="api")
def api_on_sqlite(sqlite_db: Database) -> Iterator[Api]:
    """The API fixture's app on SQLite only: the screens are what is under test here."""
    from fastapi.testclient import TestClient

    keyring, kyc, sms, clock = Keyring.generate(), Kyc.fakes(), FakeSms(), Clock()
    app = create_app(sqlite_db, keyring=keyring, kyc=kyc, sms=sms, clock=clock)
    with passwords.using(passwords.CHEAP), TestClient(app) as client:
        yield Api(client, sqlite_db, keyring, kyc, sms, clock)


def sign_in_by_keyboard(page: Page, base: str, who: Console, shots: str) -> None:
    api = who.api
    page.goto(f"{base}/console/login")
    checked(page, f"{shots}-login")
    page.keyboard.type(who.name)  # the name field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(OP_SECRET)
    page.keyboard.press("Enter")
    expect(page.locator("#enrolment_code")).to_be_focused()
    checked(page, f"{shots}-enrolment")
    page.keyboard.type(who.enrolment or "")
    page.keyboard.press("Enter")
    expect(page.locator("#totp-secret")).to_be_visible()
    checked(page, f"{shots}-authenticator")
    secret = page.locator("#totp-secret").inner_text()
    page.keyboard.type(pyotp.TOTP(secret).at(api.clock()))
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Dashboard")
    api.clock.advance(seconds=30)


def press(page: Page, selector: str) -> None:
    """A control used from the keyboard: focused, then Enter."""
    page.locator(selector).focus()
    page.keyboard.press("Enter")


def test_an_alert_worked_to_a_freeze_in_the_browser(world: World) -> None:
    api, alice, transfer = held_case(world)
    keep_candidate_rules(api)
    alma, sam = operator(api, "alma", "analyst"), operator(api, "sam", "supervisor")
    with served(api.client.app) as base, chromium() as browser:
        analyst = browser.new_page()
        sign_in_by_keyboard(analyst, base, alma, "console")
        checked(analyst, "console-dashboard")
        case = work_the_case(analyst, base, alice, transfer)
        approve_as_supervisor(browser, base, sam)
        analyst.goto(case)
        trail = analyst.locator("#audit-trail")
        expect(trail).to_contain_text("case.account_frozen")
        checked(analyst, "console-case-after-approval")
        analyst.goto(f"{base}/console/merchants/{world[3].id}")
        expect(analyst.locator("main")).to_contain_text("FoodMall")
        checked(analyst, "console-merchant")
        analyst.goto(f"{base}/console/lang/zh?next=/console/cases")
        expect(analyst.locator("h1")).to_have_text("案件")
        checked(analyst, "console-cases-zh")
        reset_as_admin(browser, base, operator(api, "ada", "admin"))


def work_the_case(page: Page, base: str, alice: str, transfer: str) -> str:
    """Worked to a freeze asked for: the case page's address."""
    page.goto(f"{base}/console/alerts")
    checked(page, "console-alerts")
    page.get_by_role("link", name="Open case").first.click()
    expect(page.locator("#case-status")).to_have_text("open")
    expect(page.locator("g.edge.fired")).to_have_count(1)
    expect(page.locator("table").first).to_contain_text(transfer)
    checked(page, "console-case")
    case = page.url
    press(page, "#take-up")
    expect(page.locator("#case-status")).to_have_text("investigating")
    page.locator("#note-body").fill("night transfer of 6,000 to a payee seen yesterday")
    press(page, "#note-body ~ button")
    page.locator("#freeze-reason").fill("a mule, by the pattern")
    press(page, "#ask-freeze")
    trail = page.locator("#audit-trail")
    for step in ("case.status_changed", "case.note_added", "case.action_requested"):
        expect(trail).to_contain_text(step)
    page.goto(f"{base}/console/approvals")
    checked(page, "console-approvals")
    page.goto(f"{base}/console/cases")
    expect(page.locator("table")).to_contain_text(alice)
    checked(page, "console-cases")
    page.goto(f"{base}/console/reports")
    checked(page, "console-reports")
    page.get_by_role("link", name="Reconciliation: the reserve, and the bank's statement").click()
    expect(page.locator("#reserve-status")).to_have_text("Reconciled")
    checked(page, "console-reconciliation")
    page.goto(f"{base}/console/rules")
    press(page, "#run-backtest")
    expect(page.locator("#backtest-summary")).to_be_visible()
    checked(page, "console-rules")
    page.get_by_role("button", name="Compare with the active set").first.click()
    expect(page.locator("#rules-diff")).to_contain_text("shadow: true")
    checked(page, "console-rules-compare")
    page.goto(f"{base}/console/reviews")
    expect(page.locator("main table")).to_contain_text(alice)
    checked(page, "console-reviews")
    page.goto(f"{base}/console/people")
    page.get_by_label("A user or merchant id, or a phone number").fill("138****5678")
    page.keyboard.press("Enter")
    expect(page.locator("#matches")).to_contain_text(alice)
    checked(page, "console-people-masked")
    page.get_by_label("A user or merchant id, or a phone number").fill(alice)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text(alice)
    checked(page, "console-person")
    page.get_by_label("Field", exact=True).select_option("phone")
    page.get_by_label("Why (kept in the audit log)").fill("customer called, ticket 4711")
    page.get_by_role("button", name="Reveal").click()
    expect(page.locator("main")).to_contain_text("13812345678")
    checked(page, "console-revealed")
    page.goto(f"{base}/console/cases/case_nobody")
    expect(page.locator("main")).to_contain_text("case_not_found")
    checked(page, "console-error")
    return case


def approve_as_supervisor(browser: Browser, base: str, sam: Console) -> None:
    context = browser.new_context()  # cookies of their own
    page = context.new_page()
    sign_in_by_keyboard(page, base, sam, "console-supervisor")
    page.goto(f"{base}/console/approvals")
    page.get_by_role("button", name="Approve").first.click()
    expect(page.locator("main")).to_contain_text("Nothing waits for approval.")
    context.close()


def reset_as_admin(browser: Browser, base: str, ada: Console) -> None:
    """The operators page: alma lost her phone; ada resets it, and sees the code once."""
    page = browser.new_context().new_page()
    sign_in_by_keyboard(page, base, ada, "console-admin")
    page.get_by_role("link", name="Operators").click()
    checked(page, "console-operators")
    page.get_by_label("Why reset").first.fill("phone lost, seen in person")
    page.get_by_role("button", name="Reset the authenticator alma").click()
    expect(page.locator("#enrolment-code")).to_be_visible()
    checked(page, "console-operators-reset")
