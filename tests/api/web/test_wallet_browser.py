"""The wallet end to end in Chromium (tests/api/web/browser.py), on SQLite, at a phone's
size: the shop's staff member shows a dynamic code for ¥1,500; the payer signs in with
the SMS step-up, pastes the code, confirms with the SMS code and the payment password
(two factors: more than one allows a day), and sees the payment in the history; the
shop refunds it. The payer then shows their own payment code, a till takes it, and the
page, refreshing itself, shows the payment. Every page passes axe-core with no serious
violation and is kept as a screenshot."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.api_fixtures import E164, PASSWORD, PIN, Api
from tests.api.test_payments_api import ALICE, BOB, World
from tests.api.test_payments_api import world as world
from tests.api.web.browser import checked, chromium, served
from tests.api.web.test_console_browser import api_on_sqlite as api_on_sqlite
from tests.api.web.test_wallet import PAN, staffed_shop

pytestmark = pytest.mark.xdist_group("browser")
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def signed_in(browser: Browser, base: str, api: Api, phone: str, shots: str) -> Page:
    page = browser.new_context(**PHONE).new_page()  # type: ignore[arg-type]
    page.goto(f"{base}/wallet/login")
    checked(page, f"{shots}-login")
    page.get_by_label("Mobile number").fill(phone)
    page.get_by_label("Login password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("h1")).to_have_text("Confirm it is you")
    checked(page, f"{shots}-sms")
    page.get_by_label("SMS code").fill(api.sms.last_code("+86" + phone) or "")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Wallet")
    return page


def test_a_dynamic_code_paid_with_a_step_up_then_refunded(world: World) -> None:
    api = staffed_shop(world)[0]
    with served(api.client.app) as base, chromium() as browser:
        newcomer = browser.new_context(**PHONE).new_page()  # type: ignore[arg-type]
        newcomer.goto(f"{base}/wallet/register")
        checked(newcomer, "wallet-register")
        cashier = signed_in(browser, base, api, BOB, "wallet-shop")
        cashier.get_by_role("link", name="Shop: FoodMall").click()
        cashier.get_by_label("Amount to collect").fill("1500.00")
        cashier.get_by_role("button", name="Show a code for this amount").click()
        expect(cashier.locator("figure.qr svg")).to_be_visible()
        checked(cashier, "wallet-shop-code")
        payload = cashier.locator("#order-payload").input_value()

        payer = signed_in(browser, base, api, ALICE, "wallet")
        checked(payer, "wallet-home")
        for form in ("send", "red-packets", "verify", "payment-password", "cards"):
            payer.goto(f"{base}/wallet/{form}")
            checked(payer, f"wallet-{form}")
        payer.goto(f"{base}/wallet/payments/pay_nobody")
        expect(payer.locator("main")).to_contain_text("resource_missing")
        checked(payer, "wallet-error")
        payer.goto(f"{base}/wallet")
        payer.get_by_role("link", name="Pay", exact=True).click()
        payer.get_by_label("The merchant's payment code").fill(payload)
        checked(payer, "wallet-pay")
        payer.get_by_role("button", name="Confirm with an SMS code instead").click()
        expect(payer.locator("#payment-status")).to_have_text("requires_action")
        checked(payer, "wallet-step-up")
        payer.get_by_label("SMS code").fill(api.sms.last_code(E164) or "")
        payer.locator("#confirm_password").fill(PIN)
        payer.get_by_role("button", name="Confirm the payment").click()
        expect(payer.locator("#payment-status")).to_have_text("succeeded")
        checked(payer, "wallet-paid")
        payer.get_by_role("link", name="Back to the wallet").click()
        expect(payer.locator("#payments")).to_contain_text("FoodMall")
        expect(payer.locator("#balance-CNY")).to_have_text("18500.00 CNY")

        cashier.reload()  # (the list also refreshes itself every few seconds)
        received = cashier.locator("#received")
        expect(received).to_contain_text("1500.00 CNY")
        checked(cashier, "wallet-shop-received")
        cashier.get_by_role("button", name="Refund").first.click()
        payer.reload()
        expect(payer.locator("#balance-CNY")).to_have_text("20000.00 CNY")
        checked(payer, "wallet-refunded")

        payer.get_by_role("link", name="My code").click()
        payer.get_by_label("Payment password").fill(PIN)
        payer.get_by_role("button", name="Show my payment code").click()
        expect(payer.locator(".paycode svg.barcode")).to_be_visible()
        checked(payer, "wallet-payment-code")
        code = payer.locator("#code-now input[name=code]").input_value()
        till = f"/v1/merchants/{world[3].id}/collect"
        taken = world[0].post(till, {"code": code, "amount": 12_00}, world[3].token)
        assert taken.status_code == 201, taken.text
        # the page asks what became of its code every five seconds: the payment shows
        expect(payer.locator("#paycode")).to_contain_text("Paid.", timeout=15_000)
        expect(payer.locator("#paycode")).to_contain_text("12.00 CNY")
        payer.goto(f"{base}/wallet/lang/zh?next=/wallet")
        expect(payer.locator("h1")).to_have_text("钱包")
        checked(payer, "wallet-home-zh")  # drawn in the CJK font `make test` installs
        payer.goto(f"{base}/wallet/lang/en?next=/wallet")
        trade = (
            world[0]
            .post(
                "/v1/escrow",
                {"merchant_id": world[3].id, "amount": 100_00, "payment_password": PIN},
                world[1].token,
            )
            .json()["id"]
        )
        payer.goto(f"{base}/wallet/escrow/{trade}")
        expect(payer.locator("#trade-status")).to_have_text("Paid, held by the platform")
        checked(payer, "wallet-guaranteed-purchase")

        payer.goto(f"{base}/wallet/red-packets")
        payer.get_by_label("Total amount").fill("8.88")
        payer.get_by_label("How many people").fill("3")
        payer.get_by_label("Payment password").fill(PIN)
        payer.get_by_role("button", name="Send the red packet").click()
        expect(payer.locator("main")).to_contain_text("8.88")
        checked(payer, "wallet-red-packet")

        payer.goto(f"{base}/wallet/cards")
        payer.get_by_label("Card number").fill(PAN)
        payer.get_by_label("The mobile number the bank has for this card").fill(ALICE)
        payer.get_by_role("button", name="Bind the card").click()
        expect(payer.locator("#cards")).to_contain_text(PAN[-4:])
        checked(payer, "wallet-cards-bound")  # with the top-up and withdrawal forms
        payer.locator("#withdrawal-amount").fill("15000.00")  # most of the balance, new device
        payer.locator("#withdrawal-password").fill(PIN)
        payer.get_by_role("button", name="Withdraw").click()
        expect(payer.locator("h1")).to_have_text("Confirm it is you")
        checked(payer, "wallet-funding-step-up")
        payer.get_by_label("SMS code").fill(api.sms.last_code(E164) or "")
        payer.get_by_label("Payment password").fill(PIN)
        payer.get_by_role("button", name="Confirm").click()
        expect(payer.locator("#fundings")).to_contain_text("15000.00 CNY")
        checked(payer, "wallet-withdrawn")
