"""Refunds over HTTP, on SQLite and PostgreSQL: full, partial twice, over-refund refused,
idempotent replay by refund_id, operator session required, and the ledger verifies."""

from __future__ import annotations

from guardpay.domain.ledger.chart import AccountCode
from tests.api.api_fixtures import PIN, error_of
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.api.test_payments_api import World, balance
from tests.api.test_payments_api import world as world


def _paid(world: World, amount: int) -> str:
    api, alice, _, merchant = world
    payload = api.post(f"/v1/merchants/{merchant.id}/qr", None, merchant.token).json()["payload"]
    body = {"payload": payload, "amount": amount, "payment_password": PIN}
    paid = api.post("/v1/payments/qr", body, alice.token)
    assert paid.status_code == 201, paid.text
    return str(paid.json()["id"])


def test_partial_twice_then_full_and_over_refund(world: World) -> None:
    api, alice, _, merchant = world
    pay_id = _paid(world, 300_00)  # fee 180
    path = f"/v1/payments/{pay_id}/refunds"
    first = api.post(path, {"refund_id": "r1", "amount": 100_00}, merchant.token)
    assert first.status_code == 201, first.text
    assert (first.json()["fee_refunded"], first.json()["refund_status"]) == (
        60,
        "partially_refunded",
    )
    again = api.post(path, {"refund_id": "r1", "amount": 100_00}, merchant.token)
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    assert again.json()["replayed"] is True
    error_of(
        api.post(path, {"refund_id": "r1", "amount": 1}, merchant.token), 400, "refund_id_reused"
    )
    second = api.post(path, {"refund_id": "r2", "amount": 150_00}, merchant.token).json()
    assert second["refunded_amount"] == 250_00
    error_of(
        api.post(path, {"refund_id": "r3", "amount": 50_01}, merchant.token),
        400,
        "refund_exceeds_payment",
    )
    last = api.post(path, {"refund_id": "r3", "amount": 50_00}, merchant.token).json()
    assert (last["refund_status"], last["refunded_amount"]) == ("refunded", 300_00)
    listed = api.get(path, merchant.token).json()
    assert [r["refund_id"] for r in listed["data"]] == ["r1", "r2", "r3"]
    assert sum(r["fee_refunded"] for r in listed["data"]) == 180
    assert balance(api, "user", alice.id) == 500_00
    assert balance(api, "merchant", merchant.id, AccountCode.MERCHANT_SETTLEMENT) == 0
    assert len(api.audit("payment.refunded")) == 3


def test_refund_needs_an_operator_and_a_merchant_payment(world: World) -> None:
    api, alice, _, merchant = world
    pay_id = _paid(world, 10_00)
    path = f"/v1/payments/{pay_id}/refunds"
    error_of(
        api.post(path, {"refund_id": "r1", "amount": 1}, alice.token), 403, "operator_required"
    )
    error_of(
        api.post(
            "/v1/payments/pay_missing/refunds", {"refund_id": "r1", "amount": 1}, merchant.token
        ),
        404,
        "resource_missing",
    )
    full = api.post(path, {"refund_id": "all", "amount": 10_00}, merchant.token).json()
    assert (full["refund_status"], full["fee_refunded"]) == ("refunded", 6)
