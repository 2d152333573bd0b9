"""The wallet through HTTP, as a browser uses it, on SQLite and PostgreSQL: a user signs
in with the SMS step-up, pays a shop's dynamic code of ¥1,500 (more than one factor
allows a day, so the SMS code and the payment password together), sees it in history;
the shop's staff member shows the code and refunds the payment. And what it refuses:
another user's payment, another merchant's shop, a page without a session."""

from __future__ import annotations

import re

from guardpay.api.app import bank_delivery
from tests.api.api_fixtures import E164, PIN, Api, error_of
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.api.test_cases_api import _operator
from tests.api.test_payments_api import ALICE, BOB, World
from tests.api.test_payments_api import world as world
from tests.api.test_risk_api import _class_ii
from tests.api.web.console_fixtures import Wallet
from tests.api.web.test_console import refusal
from tests.domain.identity.numbers import card, resident_id

DORA_ID = resident_id("440305", "19920815", "234")
PAYLOAD = re.compile(r'id="order-payload" rows="3" readonly>([^<]+)<')


def staffed_shop(world: World) -> tuple[Api, str, str]:
    """Bob works at the shop (a supervisor added him); Alice can pay ¥1,500. (api, shop
    id, Alice's id)."""
    api, alice, bob, shop = world
    _class_ii(api, alice.id, 19_500_00)
    supervisor = _operator(api, "sam", "supervisor")
    body = {"user_id": bob.id}
    error_of(api.post(f"/v1/merchants/{shop.id}/staff", body, shop.token), 403, "insufficient_role")
    added = api.post(f"/v1/merchants/{shop.id}/staff", body, supervisor)
    assert added.status_code == 201, added.text
    return api, shop.id, alice.id


def order_code(bob: Wallet, shop: str, amount: str) -> str:
    bob.get(f"/wallet/shop/{shop}")
    made = bob.post(f"/wallet/shop/{shop}/orders", {"amount": amount})
    assert made.status_code == 303, made.text
    page = bob.get(made.headers["location"])
    assert "<svg" in page.text  # the code to scan...
    found = PAYLOAD.search(page.text)  # ...and the same as text, to paste
    assert found, page.text
    return found.group(1).replace("&#43;", "+").replace("&#34;", '"')


def test_a_shops_code_paid_with_two_factors_then_refunded(world: World) -> None:
    api, shop, _ = staffed_shop(world)
    alice, bob = Wallet(api, ALICE), Wallet(api, BOB)
    alice.sign_in()
    bob.sign_in()
    payload = order_code(bob, shop, "1500.00")

    alice.get("/wallet/pay")
    one = alice.post(
        "/wallet/pay", {"payload": payload, "how": "password", "payment_password": PIN}
    )
    refusal(one, 400, "limit_exceeded")  # over ¥1,000 a day on one factor
    paying = alice.post("/wallet/pay", {"payload": payload, "how": "sms"})
    assert paying.status_code == 303, paying.text
    page = alice.get(paying.headers["location"])
    assert 'id="payment-status"' in page.text
    assert "requires_action" in page.text
    code = api.sms.last_code(E164)
    assert code is not None
    payment = paying.headers["location"]
    mistyped = alice.post(f"{payment}/confirm", {"code": code, "payment_password": "000000"})
    refusal(mistyped, 401, "invalid_payment_password")  # the same SMS code still works:
    done = alice.post(f"{payment}/confirm", {"code": code, "payment_password": PIN})
    assert done.status_code == 303, done.text
    assert "Paid." in alice.get(payment).text
    home = alice.get("/wallet").text
    assert payment.rsplit("/", 1)[1] in home
    assert "18500.00 CNY" in home  # ¥500 + ¥19,500 - ¥1,500

    shop_page = bob.get(f"/wallet/shop/{shop}").text
    payment_id = payment.rsplit("/", 1)[1]
    assert payment_id in shop_page
    assert 'name="refund_id" value="shop-0"' in shop_page
    back = bob.post(
        f"/wallet/shop/{shop}/payments/{payment_id}/refund",
        {"amount": "1500.00", "refund_id": "shop-0"},  # as the page's form names it
    )
    assert back.status_code == 303, back.text
    assert "20000.00 CNY" in alice.get("/wallet").text  # the money is back
    after = bob.get(f"/wallet/shop/{shop}").text
    assert "Refunded: 1500.00 CNY" in after
    assert f"/payments/{payment_id}/refund" not in after  # nothing left to refund
    again = bob.post(
        f"/wallet/shop/{shop}/payments/{payment_id}/refund",
        {"amount": "1500.00", "refund_id": "shop-0"},
    )
    assert again.status_code == 303  # the same form sent twice: the first refund, replayed
    assert "20000.00 CNY" in alice.get("/wallet").text  # ...not a second one


def test_nobody_sees_anothers_payment_or_shop(world: World) -> None:
    api, shop, _ = staffed_shop(world)
    alice, bob = Wallet(api, ALICE), Wallet(api, BOB)
    alice.sign_in()
    bob.sign_in()
    payload = order_code(bob, shop, "10.00")
    alice.get("/wallet/pay")
    paid = alice.post(
        "/wallet/pay", {"payload": payload, "how": "password", "payment_password": PIN}
    )
    payment = paid.headers["location"]
    assert "Paid." in alice.get(payment).text
    carol = Wallet(api, "13700001111")
    api.register("13700001111")
    carol.sign_in()
    refusal(carol.get(payment), 404, "resource_missing")  # guessing another's payment id
    refusal(alice.get(f"/wallet/shop/{shop}"), 403, "merchant_mismatch")  # not her shop
    assert carol.get(f"/wallet/payments/pay_{'0' * 26}").status_code == 404
    anonymous = Wallet(api, "-")
    for path in ("/wallet", "/wallet/pay", payment, f"/wallet/shop/{shop}"):
        away = anonymous.get(path)
        assert (away.status_code, away.headers["location"]) == (303, "/wallet/login")
    refusal(
        alice.post("/wallet/pay", {"payload": payload, "how": "password"}, csrf=False),
        403,
        "csrf_failed",
    )


def test_a_wrong_sms_code_signs_nobody_in(world: World) -> None:
    api = world[0]
    alice = Wallet(api, ALICE)
    alice.get("/wallet/login")
    wrong = alice.post("/wallet/login", {"phone": ALICE, "password": "Not-the-password-1"})
    assert wrong.status_code == 401
    alice.post("/wallet/login", {"phone": ALICE, "password": "Jade7-Heron-cove"})
    refused = alice.post("/wallet/login/code", {"code": "000000"})
    assert refused.status_code == 401
    assert "gp_wallet" not in alice.client.cookies


def test_staff_taken_off_a_shop_act_for_it_no_more(world: World) -> None:
    api, shop, _ = staffed_shop(world)
    bob = Wallet(api, BOB)
    bob.sign_in()
    assert bob.get(f"/wallet/shop/{shop}").status_code == 200
    supervisor = _operator(api, "sue", "supervisor")
    gone = api.post(f"/v1/merchants/{shop}/staff/{world[2].id}/remove", None, supervisor)
    assert gone.status_code == 200, gone.text
    refusal(bob.get(f"/wallet/shop/{shop}"), 403, "merchant_mismatch")
    assert "Shop:" not in bob.get("/wallet").text


def test_money_sent_to_a_friend_arrives(world: World) -> None:
    api = world[0]
    alice, bob = Wallet(api, ALICE), Wallet(api, BOB)
    alice.sign_in()
    bob.sign_in()
    alice.get("/wallet/send")
    sent = alice.post(
        "/wallet/send",
        {"payee": BOB, "amount": "12.50", "how": "password", "payment_password": PIN},
    )
    assert sent.status_code == 303, sent.text
    assert "Paid." in alice.get(sent.headers["location"]).text
    assert "487.50 CNY" in alice.get("/wallet").text
    seen = bob.get(sent.headers["location"]).text  # the payee sees it as received
    assert "Received." in seen
    assert "Confirm it is you" not in seen
    assert "12.50 CNY" in bob.get("/wallet").text


def test_a_red_packet_sent_and_opened(world: World) -> None:
    api = world[0]
    alice, bob = Wallet(api, ALICE), Wallet(api, BOB)
    alice.sign_in()
    bob.sign_in()
    alice.get("/wallet/red-packets")
    made = alice.post(
        "/wallet/red-packets",
        {"amount": "3.00", "shares": "3", "split": "fixed", "payment_password": PIN},
    )
    assert made.status_code == 303, made.text
    packet = made.headers["location"]
    assert 'id="claim"' not in alice.get(packet).text  # the sender opens none
    bob.get(packet)
    assert bob.post(f"{packet}/claim").status_code == 303
    opened = bob.get(packet).text
    assert "You got 1.00 CNY" in opened
    assert 'id="claim"' not in opened  # once each
    assert world[2].id in alice.get(packet).text  # the sender sees who took it
    carol = Wallet(api, "13700001111")
    api.register("13700001111")
    carol.sign_in()
    seen = carol.get(packet).text
    assert world[2].id not in seen  # a stranger does not
    assert "2 · 2.00 CNY" in seen


def test_a_guaranteed_purchase_confirmed_and_another_disputed(world: World) -> None:
    api, alice_payer, _, shop = world
    alice = Wallet(api, ALICE)
    alice.sign_in()
    body = {"merchant_id": shop.id, "amount": 100_00, "payment_password": PIN}
    first = api.post("/v1/escrow", {**body, "description": "a teapot"}, alice_payer.token)
    second = api.post("/v1/escrow", body, alice_payer.token)
    assert (first.status_code, second.status_code) == (201, 201), first.text
    trade, other = first.json()["id"], second.json()["id"]

    page = alice.get(f"/wallet/escrow/{trade}").text
    assert "a teapot" in page
    assert 'id="confirm-receipt"' not in page  # not shipped yet: nothing to confirm
    shipped = api.post(f"/v1/escrow/{trade}/ship", None, shop.token)
    assert shipped.status_code == 200, shipped.text
    assert 'id="confirm-receipt"' in alice.get(f"/wallet/escrow/{trade}").text
    assert alice.post(f"/wallet/escrow/{trade}/confirm").status_code == 303
    assert (
        '<dd id="trade-status">Paid to the shop</dd>' in alice.get(f"/wallet/escrow/{trade}").text
    )

    alice.get(f"/wallet/escrow/{other}")
    asked = alice.post(f"/wallet/escrow/{other}/dispute", {"reason": "it never came"})
    assert asked.status_code == 303
    frozen = alice.get(f"/wallet/escrow/{other}").text
    assert '<dd id="trade-status">Refund asked for: the platform decides</dd>' in frozen
    assert "Ask for a refund" not in frozen
    home = alice.get("/wallet").text
    [payment] = re.findall(r'href="(/wallet/payments/pay_[^"]+)"', home)[:1]
    assert "/wallet/escrow/" in alice.get(payment).text  # the payment leads to its trade
    bob = Wallet(api, BOB)
    bob.sign_in()
    refusal(bob.get(f"/wallet/escrow/{trade}"), 404, "escrow_not_found")  # not his


def test_a_wallet_opened_verified_and_given_a_payment_password(world: World) -> None:
    """Registration, the SMS sign-in, real-name verification, a payment password: then
    the new wallet pays. A weak password or a taken phone opens nothing."""
    api = world[0]
    dora = Wallet(api, "13600002222")
    dora.get("/wallet/register")
    weak = dora.post("/wallet/register", {"phone": "13600002222", "password": "password"})
    refusal(weak, 400, "weak_password")
    taken = dora.post("/wallet/register", {"phone": ALICE, "password": "Jade7-Heron-cove"})
    assert taken.status_code == 409
    opened = dora.post("/wallet/register", {"phone": "13600002222", "password": "Jade7-Heron-cove"})
    assert opened.headers["location"] == "/wallet/login"
    dora.sign_in()
    assert "Verify your real name to start paying" in dora.get("/wallet").text
    verified = dora.post(
        "/wallet/verify",
        {"name": "李四", "document_type": "resident_id", "document_number": DORA_ID},
    )
    assert verified.status_code == 303, verified.text
    assert "Verify your real name" not in dora.get("/wallet").text
    dora.get("/wallet/payment-password")
    refusal(
        dora.post("/wallet/payment-password", {"payment_password": "123456"}), 400, "weak_password"
    )
    assert dora.post("/wallet/payment-password", {"payment_password": PIN}).status_code == 303
    alice = Wallet(api, ALICE)
    alice.sign_in()
    alice.get("/wallet/send")
    alice.post(
        "/wallet/send",
        {"payee": "13600002222", "amount": "20.00", "how": "password", "payment_password": PIN},
    )
    dora.get("/wallet/send")
    paid = dora.post(
        "/wallet/send",
        {"payee": ALICE, "amount": "5.00", "how": "password", "payment_password": PIN},
    )
    assert "Paid." in dora.get(paid.headers["location"]).text


DIGITS = re.compile(r'name="code" value="([0-9]{18})"')


def test_my_payment_code_refreshed_then_taken_by_the_till(world: World) -> None:
    """The code shows as a QR and a barcode after the payment password; the screen's
    refresh keeps it in its last seconds, then swaps in a fresh one (the old one no
    longer pays); the till takes the fresh one and the screen shows the payment."""
    api, alice, _, shop = world
    me = Wallet(api, ALICE)
    me.sign_in()
    assert 'action="/wallet/code"' in me.get("/wallet/code").text
    refusal(
        me.post("/wallet/code", {"payment_password": "000000"}), 401, "invalid_payment_password"
    )
    shown = me.post("/wallet/code", {"payment_password": PIN})
    assert shown.status_code == 200, shown.text
    assert shown.text.count("<svg") == 2  # the barcode and the QR code
    first = DIGITS.search(shown.text)
    assert first, shown.text
    code = first.group(1)
    assert f"{code[:4]} {code[4:8]}" in shown.text  # the numbers, for a till to type
    still = DIGITS.search(me.post("/wallet/code/now", {"code": code}).text)
    assert still
    assert still.group(1) == code  # 45 seconds left: the same code
    api.clock.advance(seconds=45)
    fresh = DIGITS.search(me.post("/wallet/code/now", {"code": code}).text)
    assert fresh
    assert fresh.group(1) != code
    collect = f"/v1/merchants/{shop.id}/collect"
    stale = api.post(collect, {"code": code, "amount": 1000}, shop.token)
    error_of(stale, 403, "payment_code_expired")
    taken = api.post(collect, {"code": fresh.group(1), "amount": 1000}, shop.token)
    assert taken.status_code == 201, taken.text
    paid = me.post("/wallet/code/now", {"code": fresh.group(1)})
    assert "Paid." in paid.text
    assert f"/wallet/payments/{taken.json()['id']}" in paid.text
    assert alice.id == taken.json()["payer_id"]
    me.get("/wallet/code")
    short = DIGITS.search(me.post("/wallet/code", {"payment_password": PIN}).text)
    assert short
    over = api.post(collect, {"code": short.group(1), "amount": 600_00}, shop.token)
    error_of(over, 400, "insufficient_funds")  # ¥490 left: the code is used, the payment failed
    told = me.post("/wallet/code/now", {"code": short.group(1)}).text
    assert "Paid." not in told
    assert "did not go through yet" in told


def test_nobody_refreshes_anothers_payment_code(world: World) -> None:
    api, _, _, _ = world
    alice, bob = Wallet(api, ALICE), Wallet(api, BOB)
    alice.sign_in()
    bob.sign_in()
    alice.get("/wallet/code")
    shown = DIGITS.search(alice.post("/wallet/code", {"payment_password": PIN}).text)
    assert shown
    bob.get("/wallet/code")
    refusal(bob.post("/wallet/code/now", {"code": shown.group(1)}), 404, "payment_code_unknown")
    api.clock.advance(minutes=6)  # past the five minutes: a new password, not a new code
    again = alice.post("/wallet/code/now", {"code": shown.group(1)})
    assert "That code has run out" in again.text
    assert not DIGITS.search(again.text)


PAN = card("622202", 19)
FUNDING_IDS = re.compile(r'name="request_id" value="([^"]+)"')


def _bank_answers(api: Api) -> None:
    """The fake bank delivers every answer it has (late, twice, ...) in-process."""
    app = api.client.app
    app.state.bank.drain(bank_delivery(app))  # type: ignore[attr-defined]


def test_a_card_bound_then_money_in_and_out(world: World) -> None:
    """Binding shows the bank and last four only; a top-up sent twice tops up once; a
    withdrawal of most of the balance from the browser asks for the SMS step-up (a wrong
    code keeps the form); the bank's answers settle both; the card is unbound."""
    api = world[0]
    me = Wallet(api, ALICE)
    me.sign_in()
    assert "No card yet." in me.get("/wallet/cards").text
    bad = me.post("/wallet/cards", {"card_number": PAN[:-1] + "0", "reserved_phone": ALICE})
    refusal(bad, 400, "invalid_card_number")
    assert PAN[:-1] not in bad.text
    bound = me.post(
        "/wallet/cards", {"card_number": f"{PAN[:4]} {PAN[4:]}", "reserved_phone": ALICE}
    )
    assert bound.status_code == 303, bound.text
    page = me.get("/wallet/cards").text
    assert PAN[-4:] in page
    assert PAN[:-4] not in page
    card_id = re.search(r'action="/wallet/cards/([^/]+)/unbind"', page).group(1)  # type: ignore[union-attr]
    top_up_id, withdrawal_id = FUNDING_IDS.findall(page)

    top_up = {"kind": "top_up", "card_id": card_id, "amount": "100.00", "payment_password": PIN}
    for _ in range(2):  # the same form twice: one top-up
        sent = me.post("/wallet/funding", {**top_up, "request_id": top_up_id})
        assert sent.status_code == 303, sent.text
    listed = me.get("/wallet/cards").text
    assert listed.count("+100.00 CNY") == 1
    assert "processing" in listed
    _bank_answers(api)
    assert "600.00 CNY" in me.get("/wallet").text

    out = {"kind": "withdrawal", "card_id": card_id, "amount": "550.00", "payment_password": PIN}
    asked = me.post("/wallet/funding", {**out, "request_id": withdrawal_id})
    assert asked.status_code == 200
    assert "Confirm it is you" in asked.text
    challenge = re.search(r'name="challenge" value="([^"]+)"', asked.text).group(1)  # type: ignore[union-attr]
    code = api.sms.last_code(E164)
    assert code is not None
    again = {**out, "request_id": withdrawal_id, "challenge": challenge}
    wrong = me.post("/wallet/funding", {**again, "code": "000000" if code != "000000" else "1"})
    assert wrong.status_code == 401
    assert f'value="{challenge}"' in wrong.text  # the same form, to type the code again
    done = me.post("/wallet/funding", {**again, "code": code})
    assert done.status_code == 303, done.text
    twice = me.post("/wallet/funding", {**again, "code": code})  # the same form sent again
    assert twice.status_code == 303, twice.text
    _bank_answers(api)
    assert "50.00 CNY" in me.get("/wallet").text
    assert "−550.00 CNY" in me.get("/wallet/cards").text

    me.get("/wallet/cards")
    assert me.post(f"/wallet/cards/{card_id}/unbind", {}).status_code == 303
    assert "No card yet." in me.get("/wallet/cards").text


def test_nobody_moves_money_with_anothers_card(world: World) -> None:
    api = world[0]
    alice, bob = Wallet(api, ALICE), Wallet(api, BOB)
    alice.sign_in()
    bob.sign_in()
    alice.get("/wallet/cards")
    alice.post("/wallet/cards", {"card_number": PAN, "reserved_phone": ALICE})
    page = alice.get("/wallet/cards").text
    card_id = re.search(r'action="/wallet/cards/([^/]+)/unbind"', page).group(1)  # type: ignore[union-attr]
    bob.get("/wallet/cards")
    taken = {"kind": "withdrawal", "card_id": card_id, "amount": "1.00", "payment_password": PIN}
    refusal(
        bob.post("/wallet/funding", {**taken, "request_id": "bobs-form-1"}), 404, "card_not_found"
    )
    refusal(bob.post(f"/wallet/cards/{card_id}/unbind", {}), 404, "resource_missing")
    assert PAN[-4:] in alice.get("/wallet/cards").text


def test_cookies_are_secure_except_over_plain_http_on_a_loopback_host(world: World) -> None:
    """...and always with GUARDPAY_SECURE_COOKIES: a TLS proxy that does not say so."""
    api = world[0]
    app = api.client.app
    here, away = Wallet(api, ALICE), Wallet(api, ALICE)
    away.client.base_url = "http://wallet.example.com"  # type: ignore[assignment]
    assert "secure" not in here.get("/wallet/login").headers["set-cookie"].lower()
    assert "; secure" in away.get("/wallet/login").headers["set-cookie"].lower()
    settings = app.state.settings  # type: ignore[attr-defined]
    app.state.settings = settings.model_copy(update={"secure_cookies": True})  # type: ignore[attr-defined]
    try:
        assert "; secure" in here.get("/wallet/login").headers["set-cookie"].lower()
    finally:
        app.state.settings = settings  # type: ignore[attr-defined]
