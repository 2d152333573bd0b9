"""Idempotent answers belong to a verified caller only (api/idempotency_callers.py), on
SQLite and PostgreSQL: a header naming a merchant's key id, or a dead session token, is
neither replayed a stored answer nor able to file one under someone else's key."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from httpx import Response
from sqlalchemy import text

from guardpay.storage.idempotency import IdempotencyRepository
from guardpay.storage.uow import unit_of_work
from tests.api.api_fixtures import PIN, Api, PhoneApp, error_of
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.api.merchant_signer import Signer, enrol
from tests.api.test_payments_api import ALICE, World
from tests.api.test_payments_api import world as world

RED_PACKET = {"amount": 100, "shares": 1, "payment_password": PIN}


def _keys(api: Api) -> list[tuple[Any, ...]]:
    with api.db.read() as conn:
        rows = conn.execute(text("SELECT caller, key, response_status FROM idempotency_keys"))
        return sorted(tuple(r) for r in rows)


def _raw(api: Api, path: str, payload: Any, headers: dict[str, str]) -> Response:
    body = json.dumps(payload).encode()
    return api.client.post(
        path, content=body, headers={"Content-Type": "application/json", **headers}
    )


def _collected(world: World, key: str) -> tuple[Signer, str, dict[str, Any], Response]:
    """A merchant's signed collection from alice, kept under `key`."""
    api, alice, _, shop = world
    signer = enrol(api, shop.id, shop.token)
    code = api.post("/v1/me/payment-codes", {"payment_password": PIN}, alice.token)
    path, payload = (
        f"/v1/merchants/{shop.id}/collect",
        {"code": code.json()["code"], "amount": 1000},
    )
    first = signer.post(path, payload, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    return signer, path, payload, first


def test_a_header_naming_a_merchant_key_gets_no_stored_answer(world: World) -> None:
    api, alice, _, _ = world
    signer, path, payload, first = _collected(world, "till-7-receipt-1001")
    kept = _keys(api)
    for claimed in (
        f"GP-RSA2 key_id={signer.key_id},timestamp=1,nonce={'x' * 16},signature=AAAA",
        f"GP-RSA2 key_id={signer.key_id}",
    ):
        r = _raw(
            api, path, payload, {"Authorization": claimed, "Idempotency-Key": "till-7-receipt-1001"}
        )
        assert r.status_code == 401, r.text
        assert "Idempotent-Replayed" not in r.headers
        assert alice.id not in r.text
        assert first.json()["id"] not in r.text
    assert _keys(api) == kept
    again = signer.post(path, payload, headers={"Idempotency-Key": "till-7-receipt-1001"})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


def test_an_unsigned_answer_cannot_burn_a_merchants_key(world: World) -> None:
    api, _, _, shop = world
    signer = enrol(api, shop.id, shop.token)
    claimed = {"Authorization": f"GP-RSA2 key_id={signer.key_id}", "Idempotency-Key": "order-42"}
    assert (
        _raw(api, f"/v1/merchants/{shop.id}/no-such-route", {"amount": 42}, claimed).status_code
        == 404
    )
    error_of(
        _raw(api, f"/v1/merchants/{shop.id}/orders", {"amount": 42}, claimed),
        401,
        "signature_malformed",
    )
    assert _keys(api) == []
    mine = signer.post(
        f"/v1/merchants/{shop.id}/orders", {"amount": 42}, headers={"Idempotency-Key": "order-42"}
    )
    assert mine.status_code == 201, mine.text
    assert "Idempotent-Replayed" not in mine.headers
    assert _keys(api) == [(f"merchant-key:{signer.key_id}", "order-42", 201)]


def test_a_signed_keyed_call_spends_its_nonce_once(world: World) -> None:
    """The nonce and the key's claim commit together: a valid call is not refused for a
    nonce spent twice, a replay needs a fresh signature, and a call that finds the key
    in progress has spent its nonce all the same."""
    api, _, _, shop = world
    signer = enrol(api, shop.id, shop.token)
    path, key = f"/v1/merchants/{shop.id}/orders", {"Idempotency-Key": "order-7"}
    first = signer.post(path, {"amount": 7}, headers=key, nonce="a" * 16)
    assert first.status_code == 201, first.text
    error_of(signer.post(path, {"amount": 7}, headers=key, nonce="a" * 16), 401, "nonce_reused")
    again = signer.post(path, {"amount": 7}, headers=key, nonce="b" * 16)
    assert (again.json(), again.headers["Idempotent-Replayed"]) == (first.json(), "true")
    digest = hashlib.sha256(json.dumps({"amount": 8}).encode()).hexdigest()
    with unit_of_work(api.db) as uow:
        assert IdempotencyRepository(uow.conn).claim(
            f"merchant-key:{signer.key_id}", "busy", f"POST {path}", digest, api.clock()
        )
    busy = {"Idempotency-Key": "busy"}
    error_of(
        signer.post(path, {"amount": 8}, headers=busy, nonce="c" * 16),
        409,
        "idempotency_request_in_progress",
    )
    error_of(signer.post(path, {"amount": 8}, headers=busy, nonce="c" * 16), 401, "nonce_reused")
    with api.db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM payment_orders")).scalar() == 1


def _red_packet(api: Api, token: str) -> Response:
    return api.client.post(
        "/v1/red-packets",
        json=RED_PACKET,
        headers={"Idempotency-Key": "rp-1", "Authorization": f"Bearer {token}"},
    )


def test_a_revoked_session_gets_no_replay_and_stores_nothing(world: World) -> None:
    api, alice, _, _ = world
    first = _red_packet(api, alice.token)
    assert first.status_code == 201, first.text
    kept = _keys(api)
    for s in api.get("/v1/sessions", alice.token).json()["data"]:
        assert api.post(f"/v1/sessions/{s['id']}/revoke", None, alice.token).status_code == 200
    r = _red_packet(api, alice.token)
    error_of(r, 401, "session_revoked")
    assert "Idempotent-Replayed" not in r.headers
    assert _keys(api) == kept
    fresh = api.sign_in(PhoneApp(), ALICE)  # the key is the subject's: it outlived the session
    again = _red_packet(api, fresh)
    assert (again.json(), again.headers["Idempotent-Replayed"]) == (first.json(), "true")


def test_an_expired_or_unknown_token_gets_no_replay_and_stores_nothing(world: World) -> None:
    api, alice, _, _ = world
    assert _red_packet(api, alice.token).status_code == 201
    kept = _keys(api)
    error_of(_red_packet(api, "not-a-token"), 401, "session_invalid")
    r = api.client.post(
        "/v1/red-packets",
        json=RED_PACKET,
        headers={"Idempotency-Key": "rp-1", "Authorization": "Basic eDp5"},
    )
    assert r.status_code == 401
    assert "Idempotent-Replayed" not in r.headers
    api.clock.advance(days=31)
    r = _red_packet(api, alice.token)
    error_of(r, 401, "session_expired")
    assert "Idempotent-Replayed" not in r.headers
    assert _keys(api) == kept
