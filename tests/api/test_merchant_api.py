"""The merchants' signed API on SQLite and PostgreSQL: RSA2 over the canonical request,
a 5-minute window, a nonce spent once even by a failed call, one merchant's key never
acting for another, revoked keys refused, and idempotent replays keyed by the key id."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa

from guardpay.services.identity import facade as identity
from tests.api.api_fixtures import PIN, error_of
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.api.merchant_signer import Signer, enrol, private_key, public_pem
from tests.api.test_payments_api import World, _ctx_run
from tests.api.test_payments_api import world as world
from tests.domain.identity.numbers import uscc


def _order(signer: Signer, merchant_id: str, amount: int = 8800, **sign: object) -> dict:
    r = signer.post(f"/v1/merchants/{merchant_id}/orders", {"amount": amount}, **sign)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_signed_merchant_issues_orders_collects_and_refunds(world: World) -> None:
    api, alice, _, shop = world
    signer = enrol(api, shop.id, shop.token)
    order = _order(signer, shop.id)
    paid = api.post(
        "/v1/payments/qr", {"payload": order["payload"], "payment_password": PIN}, alice.token
    )
    assert paid.status_code == 201, paid.text
    code = api.post("/v1/me/payment-codes", {"payment_password": PIN}, alice.token).json()
    collected = signer.post(
        f"/v1/merchants/{shop.id}/collect", {"code": code["code"], "amount": 1000}
    )
    assert (collected.status_code, collected.json()["payer_id"]) == (201, alice.id)
    refund = signer.post(
        f"/v1/payments/{paid.json()['id']}/refunds", {"refund_id": "r1", "amount": 800}
    )
    assert (refund.status_code, refund.json()["refunded_amount"]) == (201, 800)
    listed = signer.request("GET", f"/v1/payments/{paid.json()['id']}/refunds")
    assert [r["refund_id"] for r in listed.json()["data"]] == ["r1"]


def test_stale_future_forged_and_malformed_signatures(world: World) -> None:
    api, _, _, shop = world
    signer = enrol(api, shop.id, shop.token)
    path = f"/v1/merchants/{shop.id}/orders"
    error_of(signer.post(path, {"amount": 1}, skew=-301), 401, "signature_expired")
    error_of(signer.post(path, {"amount": 1}, skew=301), 401, "signature_expired")
    assert signer.post(path, {"amount": 1}, skew=-299).status_code == 201
    body = b'{"amount": 1}'
    header = signer.header("POST", path, body)
    tampered = {"Authorization": header, "Content-Type": "application/json"}
    r = api.client.post(path, content=b'{"amount": 9999}', headers=tampered)
    error_of(r, 401, "signature_invalid")
    other_path = f"/v1/merchants/{shop.id}/qr"
    r = api.client.post(other_path, content=body, headers={"Authorization": header})
    error_of(r, 401, "signature_invalid")  # a signature is bound to its path
    impostor = Signer(api, signer.key_id, private_key(1))
    error_of(impostor.post(path, {"amount": 1}), 401, "signature_invalid")
    for bad in ("GP-RSA2 key_id=mak_x", "GP-RSA2 nonsense", "GP-RSA2 key_id=mak_a,key_id=b"):
        r = api.client.post(path, json={"amount": 1}, headers={"Authorization": bad})
        error_of(r, 401, "signature_malformed")


def test_a_nonce_is_spent_once_even_by_a_failed_request(world: World) -> None:
    api, _, _, shop = world
    signer = enrol(api, shop.id, shop.token)
    path = f"/v1/merchants/{shop.id}/orders"
    _order(signer, shop.id, nonce="n" * 16)
    error_of(signer.post(path, {"amount": 5}, nonce="n" * 16), 401, "nonce_reused")
    failed = signer.post(path, {"amount": 0}, nonce="m" * 16)  # 422/400: refused input
    assert failed.status_code in (400, 422)
    error_of(signer.post(path, {"amount": 5}, nonce="m" * 16), 401, "nonce_reused")


def test_a_key_acts_only_for_its_merchant(world: World) -> None:
    api, alice, _, shop = world
    other_id = _ctx_run(
        api,
        lambda ctx: (
            identity.register_merchant(
                ctx,
                legal_name="Tea House Ltd",
                display_name="Tea House",
                registration_number=uscc("91310000MA1FL5LX3"),
                mcc="5814",
            ).id
        ),
    )
    mine, theirs = enrol(api, shop.id, shop.token), enrol(api, other_id, shop.token, private_key(1))
    error_of(
        theirs.post(f"/v1/merchants/{shop.id}/orders", {"amount": 1}), 403, "merchant_mismatch"
    )
    order = _order(mine, shop.id)
    paid = api.post(
        "/v1/payments/qr", {"payload": order["payload"], "payment_password": PIN}, alice.token
    ).json()
    error_of(
        theirs.post(f"/v1/payments/{paid['id']}/refunds", {"refund_id": "x", "amount": 1}),
        404,
        "resource_missing",
    )
    error_of(
        api.post(f"/v1/merchants/{shop.id}/orders", {"amount": 1}, alice.token),
        403,
        "operator_required",
    )  # a user's session is no merchant's


def test_keys_are_checked_and_revocable(world: World) -> None:
    api, _, _, shop = world
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    keys = f"/v1/merchants/{shop.id}/api-keys"
    error_of(
        api.post(keys, {"public_key": public_pem(weak)}, shop.token), 400, "public_key_invalid"
    )
    error_of(
        api.post(keys, {"public_key": "-----BEGIN PUBLIC KEY-----\nxx"}, shop.token),
        400,
        "public_key_invalid",
    )
    signer = enrol(api, shop.id, shop.token)
    listed = api.get(keys, shop.token).json()["data"]
    assert [k["id"] for k in listed] == [signer.key_id]
    assert "public_key" not in listed[0]
    orders = f"/v1/merchants/{shop.id}/orders"
    assert signer.post(orders, {"amount": 1}).status_code == 201  # its key parsed, and kept
    revoked = api.post(f"{keys}/{signer.key_id}/revoke", None, shop.token)
    assert revoked.json()["revoked_at"] is not None
    error_of(signer.post(f"/v1/merchants/{shop.id}/orders", {"amount": 1}), 401, "api_key_unknown")
    added, revoked_by = api.audit("merchant.api_key_added"), api.audit("merchant.api_key_revoked")
    assert revoked_by[0][0] == added[0][0]
    assert str(revoked_by[0][0]).startswith("operator:")


def test_idempotent_replay_is_keyed_by_the_merchant_key(world: World) -> None:
    api, _, _, shop = world
    signer = enrol(api, shop.id, shop.token)
    path = f"/v1/merchants/{shop.id}/orders"
    key = {"Idempotency-Key": "order-42"}
    forged = Signer(api, signer.key_id, private_key(1))
    error_of(forged.post(path, {"amount": 42}, headers=key), 401, "signature_invalid")
    first = signer.post(path, {"amount": 42}, headers=key)
    assert first.status_code == 201, first.text  # the forged 401 was not kept for the key
    again = signer.post(path, {"amount": 42}, headers=key)  # new nonce, same request
    assert (again.json()["id"], again.headers["Idempotent-Replayed"]) == (
        first.json()["id"],
        "true",
    )
    error_of(signer.post(path, {"amount": 43}, headers=key), 400, "idempotency_key_reused")
