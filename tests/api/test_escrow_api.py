"""Escrow over HTTP, on SQLite and PostgreSQL: pay, ship, confirm; refund; dispute frozen
then resolved by a supervisor (not an analyst); buyer-only views; refusals with their
codes changing no ledger row; the holding account at zero and the ledger verifying."""

from __future__ import annotations

from typing import Any

from guardpay.domain.ledger.chart import AccountCode
from guardpay.services.auth import operators
from guardpay.services.payments import escrow
from tests.api.api_fixtures import PIN, Api, error_of
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.api.test_payments_api import OP_SECRET, World, _ctx_run, balance, refused
from tests.api.test_payments_api import world as world

SETTLEMENT = AccountCode.MERCHANT_SETTLEMENT


def _pay(world: World, amount: int = 200_00) -> dict[str, Any]:
    api, alice, _, merchant = world
    body = {
        "merchant_id": merchant.id,
        "amount": amount,
        "payment_password": PIN,
        "description": "a lamp",
    }
    r = api.post("/v1/escrow", body, alice.token)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _supervisor(api: Api) -> str:
    _ctx_run(api, lambda ctx: operators.create_operator(ctx, "sam", "supervisor", OP_SECRET))
    r = api.post("/v1/operator/sessions", {"name": "sam", "password": OP_SECRET})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def _held(api: Api, trade_id: str) -> int:
    return balance(api, escrow.KIND, trade_id, AccountCode.ESCROW)


def test_pay_ship_confirm(world: World) -> None:
    api, alice, bob, merchant = world
    trade = _pay(world)
    tid = trade["id"]
    assert (trade["status"], trade["amount"], _held(api, tid)) == ("held", 200_00, 200_00)
    assert balance(api, "user", alice.id) == 300_00
    refused(api, f"/v1/escrow/{tid}/confirm", {}, alice.token, 409, "escrow_illegal_transition")
    error_of(api.post(f"/v1/escrow/{tid}/ship", None, alice.token), 403, "operator_required")
    r = api.post(f"/v1/escrow/{tid}/ship", None, merchant.token)
    assert (r.status_code, r.json()["status"]) == (200, "shipped"), r.text
    error_of(api.get(f"/v1/escrow/{tid}", bob.token), 404, "escrow_not_found")
    r = api.post(f"/v1/escrow/{tid}/confirm", None, alice.token)
    assert (r.status_code, r.json()["status"], r.json()["fee"]) == (200, "released", 120)
    assert balance(api, "merchant", merchant.id, SETTLEMENT) == 200_00 - 120
    assert _held(api, tid) == 0
    assert api.get(f"/v1/escrow/{tid}", alice.token).json()["status"] == "released"


def test_refusals_on_create(world: World) -> None:
    api, alice, _, merchant = world
    body = {"merchant_id": merchant.id, "amount": 600_00, "payment_password": PIN}
    refused(api, "/v1/escrow", body, alice.token, 400, "insufficient_funds")
    refused(api, "/v1/escrow", {**body, "amount": 1.5}, alice.token, 400, "parameter_invalid")
    refused(
        api,
        "/v1/escrow",
        {**body, "merchant_id": "mer_nope", "amount": 1},
        alice.token,
        404,
        "resource_missing",
    )


def test_refund_before_release(world: World) -> None:
    api, alice, _, merchant = world
    tid = _pay(world)["id"]
    r = api.post(f"/v1/escrow/{tid}/refund", {"reason": "out of stock"}, merchant.token)
    assert (r.status_code, r.json()["status"], r.json()["fee"]) == (200, "refunded", 0), r.text
    assert (balance(api, "user", alice.id), _held(api, tid)) == (500_00, 0)
    refused(api, f"/v1/escrow/{tid}/ship", {}, merchant.token, 409, "escrow_illegal_transition")


def test_dispute_frozen_then_resolved(world: World) -> None:
    api, alice, _, merchant = world
    tid = _pay(world)["id"]
    api.post(f"/v1/escrow/{tid}/ship", None, merchant.token)
    r = api.post(f"/v1/escrow/{tid}/dispute", {"reason": "broken"}, alice.token)
    assert (r.status_code, r.json()["status"]) == (200, "disputed"), r.text
    refused(api, f"/v1/escrow/{tid}/confirm", {}, alice.token, 409, "escrow_disputed")
    refused(api, f"/v1/escrow/{tid}/refund", {}, merchant.token, 409, "escrow_disputed")
    resolve = {"outcome": "refund", "reason": "seller agreed"}
    refused(api, f"/v1/escrow/{tid}/resolve", resolve, merchant.token, 403, "insufficient_role")
    boss = _supervisor(api)
    r = api.post(f"/v1/escrow/{tid}/resolve", resolve, boss)
    assert (r.status_code, r.json()["status"]) == (200, "refunded"), r.text
    assert r.json()["resolution_reason"] == "seller agreed"
    assert (balance(api, "user", alice.id), _held(api, tid)) == (500_00, 0)
    [(actor, subject, outcome, details)] = api.audit("escrow.resolved")
    assert (actor.startswith("operator:"), subject, outcome) == (True, tid, "ok")
    assert '"reason":"seller agreed"' in details


def test_auto_confirm_job(world: World) -> None:
    api, _, _, merchant = world
    tid = _pay(world)["id"]
    api.post(f"/v1/escrow/{tid}/ship", None, merchant.token)
    api.clock.advance(days=11)
    done = _ctx_run(api, lambda ctx: escrow.auto_confirm_due(ctx, ctx.now()))
    assert done == [tid]
    assert balance(api, "merchant", merchant.id, SETTLEMENT) == 200_00 - 120
