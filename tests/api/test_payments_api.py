"""Payments over HTTP on both backends: P2P, static and order QR (with images), payment
codes, the payer's list and limits; every rejection answers the one error shape with
its specific code and changes no balance; the ledger verifies clean afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.model import Transfer
from guardpay.services.auth import operators
from guardpay.services.ledger import books as ledger
from guardpay.services.ledger import wallets
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.storage.uow import read_only, unit_of_work
from tests.api.api_fixtures import PIN, Api, PhoneApp, bearer, error_of
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.domain.identity.numbers import resident_id, uscc

OP_SECRET = "Console-pass-7"
ALICE, BOB = "13812345678", "13900139000"


@dataclass
class Payer:
    id: str
    token: str


@dataclass
class Shop:
    id: str
    token: str  # an analyst's console session, standing in for the merchant's API


def _ctx_run(api: Api, fn: Any) -> Any:
    with unit_of_work(api.db) as uow:
        return fn(Context(uow, api.keyring, SYSTEM, api.clock))


def payer(api: Api, phone: str, number: str, fund: int = 0) -> Payer:
    user_id = api.register(phone)
    token = api.sign_in(PhoneApp(), phone)
    assert api.verify(token, number).status_code == 200
    assert api.post("/v1/me/payment-password", {"payment_password": PIN}, token).status_code == 200
    if fund:

        def top_up(ctx: Context) -> None:
            reserve = wallets.open_platform_accounts(ctx, "CNY")[AccountCode.RESERVE]
            wallet = wallets.wallet(ctx, "user", user_id, "CNY")
            move = Transfer(
                10**12 + fund + len(phone) + int(phone[-4:]),
                reserve,
                wallet,
                fund,
                ledger=156,
                code=TransferCode.TOP_UP,
            )
            assert [r.value for r in ledger.execute(ctx.uow, [move])] == ["ok"]

        _ctx_run(api, top_up)
    return Payer(user_id, token)


def shop(api: Api) -> Shop:
    from guardpay.services.identity import facade as identity

    def make(ctx: Context) -> str:
        operators.create_operator(ctx, "ana", "analyst", OP_SECRET)
        return identity.register_merchant(
            ctx,
            legal_name="FoodMall Ltd",
            display_name="FoodMall",
            registration_number=uscc("91310115MA1H7XYR0"),
            mcc="5812",
        ).id

    merchant_id = _ctx_run(api, make)
    r = api.post("/v1/operator/sessions", {"name": "ana", "password": OP_SECRET})
    assert r.status_code == 201, r.text
    return Shop(merchant_id, r.json()["token"])


def balance(
    api: Api, kind: str, owner: str, code: AccountCode = AccountCode.CUSTOMER_WALLET
) -> int:
    return int(
        _ctx_run(
            api,
            lambda ctx: (
                wallets.balance(ctx, wallets.wallet(ctx, kind, owner, "CNY", code), "CNY").amount
            ),
        )
    )


@pytest.fixture
def world(api: Api) -> Iterator[tuple[Api, Payer, Payer, Shop]]:
    alice = payer(api, ALICE, resident_id("310104", "19900307", "123"), fund=500_00)
    bob = payer(api, BOB, resident_id("110105", "19851111", "456"))
    yield api, alice, bob, shop(api)
    with read_only(api.db) as uow:
        report = ledger.verify(uow)
    assert report.ok, report.problems


def refused(
    api: Api, path: str, body: dict[str, Any], token: str, status: int, code: str
) -> dict[str, Any]:
    before = _ledger_rows(api)
    error = error_of(api.post(path, body, token), status, code)
    assert _ledger_rows(api) == before
    return error


def _ledger_rows(api: Api) -> list[str]:
    return api.snapshot()["ledger_accounts"]


World = tuple[Api, Payer, Payer, Shop]


def test_p2p_and_my_payments_and_limits(world: World) -> None:
    api, alice, bob, _ = world
    r = api.post(
        "/v1/transfers", {"payee": BOB, "amount": 1234, "payment_password": PIN}, alice.token
    )
    assert r.status_code == 201, r.text
    paid = r.json()
    assert {k: paid[k] for k in ("status", "amount", "currency", "fee")} == {
        "status": "succeeded",
        "amount": 1234,
        "currency": "CNY",
        "fee": 0,
    }
    assert api.get(f"/v1/payments/{paid['id']}", bob.token).json()["id"] == paid["id"]
    error_of(api.get(f"/v1/payments/{paid['id']}", "nope"), 401, "session_invalid")
    api.clock.advance(seconds=1)
    api.post("/v1/transfers", {"payee": bob.id, "amount": 1, "payment_password": PIN}, alice.token)
    page = api.get("/v1/me/payments?limit=1", alice.token).json()
    assert (page["has_more"], page["data"][0]["amount"]) == (True, 1)
    rest = api.get(f"/v1/me/payments?limit=1&cursor={page['next_cursor']}", alice.token).json()
    assert ([p["id"] for p in rest["data"]], rest["has_more"]) == ([paid["id"]], False)
    limits = api.get("/v1/me/limits", alice.token).json()
    assert (limits["account_class"], limits["balance_payments"]) == ("I", 1000_00 - 1235)
    assert limits["static_qr"] == 500_00


def test_p2p_rejections(world: World) -> None:
    api, alice, bob, _ = world
    body = {"payee": BOB, "amount": 100, "payment_password": PIN}
    refused(
        api,
        "/v1/transfers",
        {**body, "payment_password": "111111"},
        alice.token,
        401,
        "invalid_payment_password",
    )
    refused(api, "/v1/transfers", {**body, "payee": ALICE}, bob.token, 400, "insufficient_funds")
    refused(api, "/v1/transfers", {**body, "amount": 1.5}, alice.token, 400, "parameter_invalid")
    error = refused(
        api, "/v1/transfers", {**body, "amount": 600_00}, alice.token, 400, "insufficient_funds"
    )
    assert error["param"] == "amount"
    carol = api.register("13700001111")
    token = api.sign_in(PhoneApp(), "13700001111")
    refused(api, "/v1/transfers", {**body, "payee": ALICE}, token, 403, "account_not_verified")
    assert carol


def test_class_limit_and_step_up_flow(world: World) -> None:
    api, alice, bob, _ = world
    r = api.post("/v1/transfers", {"payee": BOB, "amount": 100}, alice.token)
    assert r.status_code == 201, r.text
    waiting = r.json()
    assert waiting["status"] == "requires_action"
    step = waiting["next_action"]
    assert (step["type"], "sms" in step["methods"]) == ("step_up", True)
    code = api.sms_code(step["challenge_id"], "+86" + ALICE)
    confirm = f"/v1/payments/{waiting['id']}/confirm"
    wrong = {"step_up": {"method": "sms", "code": "000000" if code != "000000" else "111111"}}
    refused(api, confirm, wrong, alice.token, 401, "invalid_code")
    done = api.post(confirm, {"step_up": {"method": "sms", "code": code}}, alice.token)
    assert done.json()["status"] == "succeeded", done.text
    assert balance(api, "user", bob.id) == 100
    # class I: ¥1,000 since opening
    error = refused(
        api,
        "/v1/transfers",
        {"payee": BOB, "amount": 1000_00, "payment_password": PIN},
        alice.token,
        400,
        "limit_exceeded",
    )
    assert "999.00 CNY remaining" in error["message"]


def test_static_qr_with_images(world: World) -> None:
    api, alice, _, merchant = world
    r = api.post(f"/v1/merchants/{merchant.id}/qr", None, merchant.token)
    assert r.status_code == 200, r.text
    payload = r.json()["payload"]
    png = api.get(f"/v1/merchants/{merchant.id}/qr.png")
    assert (png.status_code, png.headers["content-type"]) == (200, "image/png")
    assert png.content.startswith(b"\x89PNG")
    svg = api.get(f"/v1/merchants/{merchant.id}/qr.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    error_of(api.get(f"/v1/merchants/{merchant.id}/qr.gif"), 400, "parameter_invalid")
    error_of(
        api.post(f"/v1/merchants/{merchant.id}/qr", None, alice.token), 403, "operator_required"
    )
    body = {"payload": payload, "amount": 250, "payment_password": PIN}
    paid = api.post("/v1/payments/qr", body, alice.token).json()
    assert (paid["status"], paid["fee"], paid["descriptor"]) == ("succeeded", 2, "FoodMall")
    assert balance(api, "merchant", merchant.id, AccountCode.MERCHANT_SETTLEMENT) == 248
    refused(api, "/v1/payments/qr", {**body, "amount": 500_00}, alice.token, 400, "limit_exceeded")


def test_order_qr_and_its_rejections(world: World) -> None:
    api, alice, _, merchant = world
    r = api.post(
        f"/v1/merchants/{merchant.id}/orders", {"amount": 8800, "expires_in": 300}, merchant.token
    )
    assert r.status_code == 201, r.text
    order = r.json()
    svg = api.get(f"/v1/orders/{order['id']}/qr.svg")
    assert (svg.status_code, b"<svg" in svg.content) == (200, True)
    body = {"payload": order["payload"], "payment_password": PIN}
    prefix, claims, sig = order["payload"].split(".")
    altered = {
        **body,
        "payload": f"{prefix}.{claims[:-2]}{'AA' if claims[-2:] != 'AA' else 'BB'}.{sig}",
    }
    refused(api, "/v1/payments/qr", altered, alice.token, 403, "qr_signature_invalid")
    paid = api.post("/v1/payments/qr", body, alice.token)
    assert (paid.status_code, paid.json()["amount"]) == (201, 8800), paid.text
    refused(api, "/v1/payments/qr", body, alice.token, 403, "qr_already_used")
    late = api.post(
        f"/v1/merchants/{merchant.id}/orders", {"amount": 100, "expires_in": 10}, merchant.token
    ).json()
    api.clock.advance(seconds=11)
    refused(
        api, "/v1/payments/qr", {**body, "payload": late["payload"]}, alice.token, 403, "qr_expired"
    )
    outcomes = [row[2] for row in api.audit("security.qr_rejected")]
    assert outcomes == ["qr_signature_invalid", "qr_already_used", "qr_expired"]


def test_payment_code_collect(world: World) -> None:
    api, alice, _, merchant = world
    r = api.post("/v1/me/payment-codes", {"payment_password": PIN}, alice.token)
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    collect = f"/v1/merchants/{merchant.id}/collect"
    paid = api.post(collect, {"code": code, "amount": 1000}, merchant.token)
    assert (paid.status_code, paid.json()["payer_id"], paid.json()["fee"]) == (201, alice.id, 6)
    refused(api, collect, {"code": code, "amount": 1000}, merchant.token, 403, "payment_code_used")
    second = api.post("/v1/me/payment-codes", {"payment_password": PIN}, alice.token).json()
    api.clock.advance(seconds=61)
    refused(
        api,
        collect,
        {"code": second["code"], "amount": 1},
        merchant.token,
        403,
        "payment_code_expired",
    )
    error = error_of(api.post("/v1/me/payment-codes", {}, alice.token), 401, "step_up_required")
    assert "sms" in error["step_up"]["methods"]


def test_a_qr_payment_replayed_with_its_key_pays_once(world: World) -> None:
    """The QR endpoint keeps its Idempotency-Key in the payment's own transaction, as
    transfers do (api/idempotency.py `InEndpoint`)."""
    api, alice, _, merchant = world
    payload = api.post(f"/v1/merchants/{merchant.id}/qr", None, merchant.token).json()["payload"]
    body = {"payload": payload, "amount": 250, "payment_password": PIN}
    headers = {**bearer(alice.token), "Idempotency-Key": "scan-1"}
    first = api.client.post("/v1/payments/qr", json=body, headers=headers)
    again = api.client.post("/v1/payments/qr", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert balance(api, "merchant", merchant.id, AccountCode.MERCHANT_SETTLEMENT) == 248
