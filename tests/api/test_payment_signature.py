"""Biometric pay: a payment request signed by the session's trusted device is one factor,
in place of the payment password. The signature covers the request as sent (method,
path, body) and its Idempotency-Key, so an altered body, another key, a stale time, an
untrusted device or a locked payer is refused — and the refusal moves no money."""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any

import pytest
from httpx import Response

from guardpay.errors import AuthenticationFailed, PermissionDenied
from guardpay.services.auth import facade as auth
from guardpay.services.platform.context import Context
from guardpay.storage.uow import read_only
from tests.api.api_fixtures import PIN, Api, PhoneApp, bearer, error_of
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.api.test_payments_api import ALICE, BOB, _ctx_run, balance, payer
from tests.domain.identity.numbers import resident_id

PATH = "/v1/transfers"


def _signed_payer(api: Api, fund: int = 500_00) -> tuple[str, str, PhoneApp]:
    """A funded payer whose session's device is trusted: id, token, the phone."""
    user = payer(api, ALICE, resident_id("310104", "19900307", "123"), fund=fund)
    phone = PhoneApp("signer")
    token = api.sign_in(phone, ALICE)  # a second device: its login passes a step-up
    return user.id, token, phone


def _body(payee: str, amount: int, **extra: Any) -> bytes:
    return json.dumps({"payee": payee, "amount": amount, **extra}).encode()


def _send(api: Api, token: str, body: bytes, *, key: str | None, signature: str | None) -> Response:
    headers = {**bearer(token), "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    if signature is not None:
        headers["Payment-Signature"] = signature
    return api.client.post(PATH, content=body, headers=headers)


@pytest.fixture(name="world")
def world_fixture(api: Api) -> tuple[str, str, PhoneApp, str]:
    payer_id, token, phone = _signed_payer(api)
    payee = payer(api, BOB, resident_id("110101", "19850512", "456")).id
    return payer_id, token, phone, payee


def test_a_signed_transfer_pays_without_the_password(
    api: Api, world: tuple[str, str, PhoneApp, str]
) -> None:
    payer_id, token, phone, payee = world
    body, key = _body(payee, 12_34), uuid.uuid4().hex
    r = _send(api, token, body, key=key, signature=phone.sign_request(api.clock(), key, PATH, body))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "succeeded"
    assert balance(api, "user", payer_id) == 500_00 - 12_34
    assert balance(api, "user", payee) == 12_34
    with read_only(api.db) as uow:  # the payment says which device paid (AML reads it)
        paid = uow.payments.payment(r.json()["id"])
        device = uow.auth.device_by_key(payer_id, phone.public_key)
    assert paid is not None
    assert device is not None
    assert paid.device_id == device.id
    again = _send(
        api, token, body, key=key, signature=phone.sign_request(api.clock(), key, PATH, body)
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    assert balance(api, "user", payer_id) == 500_00 - 12_34  # the replay paid nothing


def test_signature_and_password_are_two_factors(
    api: Api, world: tuple[str, str, PhoneApp, str]
) -> None:
    _, token, phone, payee = world
    body, key = _body(payee, 100, payment_password=PIN), uuid.uuid4().hex
    r = _send(api, token, body, key=key, signature=phone.sign_request(api.clock(), key, PATH, body))
    assert r.status_code == 201, r.text
    [row] = api.audit("payment.succeeded")
    assert json.loads(row[3])["factors"] == 2


def _refused(api: Api, payer_id: str, response: Response, status: int, code: str) -> None:
    error_of(response, status, code)
    assert balance(api, "user", payer_id) == 500_00


def test_an_altered_body_another_key_or_another_device_is_refused(
    api: Api, world: tuple[str, str, PhoneApp, str]
) -> None:
    payer_id, token, phone, payee = world
    signed, key = _body(payee, 1_00), uuid.uuid4().hex
    signature = phone.sign_request(api.clock(), key, PATH, signed)
    altered = _body(payee, 400_00)
    _refused(
        api,
        payer_id,
        _send(api, token, altered, key=key, signature=signature),
        401,
        "invalid_signature",
    )
    _refused(
        api,
        payer_id,
        _send(api, token, signed, key=uuid.uuid4().hex, signature=signature),
        401,
        "invalid_signature",
    )
    thief = PhoneApp("thief").sign_request(api.clock(), key, PATH, signed)
    _refused(
        api,
        payer_id,
        _send(api, token, signed, key=uuid.uuid4().hex, signature=thief),
        401,
        "invalid_signature",
    )
    reasons = [json.loads(r[3])["reason"] for r in api.audit("auth.payment_signature_failed")]
    assert reasons == ["invalid_signature"] * 3


def test_a_stale_signature_is_refused(api: Api, world: tuple[str, str, PhoneApp, str]) -> None:
    payer_id, token, phone, payee = world
    body, key = _body(payee, 1_00), uuid.uuid4().hex
    signature = phone.sign_request(api.clock(), key, PATH, body)
    api.clock.advance(minutes=3)  # past the device clock skew allowed (2 minutes)
    _refused(
        api,
        payer_id,
        _send(api, token, body, key=key, signature=signature),
        401,
        "signature_expired",
    )


def test_an_untrusted_device_cannot_sign(api: Api) -> None:
    user = payer(api, ALICE, resident_id("310104", "19900307", "123"), fund=500_00)
    payee = payer(api, BOB, resident_id("110101", "19850512", "456")).id
    token = api.sign_in(None, ALICE)  # a session without any device
    body, key = _body(payee, 1_00), uuid.uuid4().hex
    signature = PhoneApp().sign_request(api.clock(), key, PATH, body)
    _refused(
        api,
        user.id,
        _send(api, token, body, key=key, signature=signature),
        401,
        "device_not_trusted",
    )


def test_a_signature_needs_an_idempotency_key_and_a_well_formed_header(
    api: Api, world: tuple[str, str, PhoneApp, str]
) -> None:
    payer_id, token, phone, payee = world
    body = _body(payee, 1_00)
    signature = phone.sign_request(api.clock(), "", PATH, body)
    _refused(
        api,
        payer_id,
        _send(api, token, body, key=None, signature=signature),
        400,
        "idempotency_key_required",
    )
    _refused(
        api,
        payer_id,
        _send(api, token, body, key="k1", signature="sig=abc"),
        400,
        "payment_signature_malformed",
    )


def test_a_locked_payment_password_stops_signed_payments_too(
    api: Api, world: tuple[str, str, PhoneApp, str]
) -> None:
    payer_id, token, phone, payee = world
    for _ in range(5):
        _ctx_run(api, lambda ctx: _wrong_pin(ctx, payer_id))
    body, key = _body(payee, 1_00), uuid.uuid4().hex
    signature = phone.sign_request(api.clock(), key, PATH, body)
    _refused(
        api, payer_id, _send(api, token, body, key=key, signature=signature), 403, "payment_locked"
    )


def _wrong_pin(ctx: Context, user_id: str) -> None:
    with contextlib.suppress(AuthenticationFailed, PermissionDenied):  # it kept the count
        auth.verify_payment_password(ctx, user_id, "000000")


CODES = "/v1/me/payment-codes"


def _signed_code(
    api: Api, token: str, phone: PhoneApp, key: str | None, sent: bytes = b"{}"
) -> Response:
    """A payment-code request whose signature covers `{}`, sending `sent`."""
    signature = phone.sign_request(api.clock(), key or "", CODES, b"{}")
    headers = {**bearer(token), "Content-Type": "application/json", "Payment-Signature": signature}
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.client.post(CODES, content=sent, headers=headers)


def _codes_issued(api: Api) -> int:
    return len(api.audit("payment.code_issued"))


def test_a_signed_payment_code_request_is_answered_once(
    api: Api, world: tuple[str, str, PhoneApp, str]
) -> None:
    """A payment code's path keeps no Idempotency-Keys (the code is a credential, never
    stored for a replay), yet a signed request there needs its key as the signature's
    nonce: it was refused as `idempotency_key_required` even with one. Now the nonce is
    spent in the code's own transaction: the same signed request again is refused, and
    issues no second code."""
    _, token, phone, _ = world
    key = uuid.uuid4().hex
    first = _signed_code(api, token, phone, key)
    assert first.status_code == 201, first.text
    assert len(first.json()["code"]) == 18
    assert "Idempotent-Replayed" not in first.headers
    again = _signed_code(api, token, phone, key)
    error_of(again, 401, "payment_signature_reused")
    assert again.headers["WWW-Authenticate"] == "Bearer"
    assert _codes_issued(api) == 1
    [row] = api.audit("auth.payment_signature_failed")
    assert json.loads(row[3])["reason"] == "payment_signature_reused"
    fresh = _signed_code(api, token, phone, uuid.uuid4().hex)
    assert fresh.status_code == 201, fresh.text
    assert fresh.json()["code"] != first.json()["code"]
    assert _codes_issued(api) == 2
    [factors] = {json.loads(r[3])["factors"] for r in api.audit("payment.code_issued")}
    assert factors == 1  # the signature alone, no password


def test_a_payment_code_nonce_is_spent_for_every_path(
    api: Api, world: tuple[str, str, PhoneApp, str]
) -> None:
    _, token, phone, payee = world
    key = uuid.uuid4().hex
    assert _signed_code(api, token, phone, key).status_code == 201
    body = _body(payee, 1_00)
    transfer = _send(
        api, token, body, key=key, signature=phone.sign_request(api.clock(), key, PATH, body)
    )
    error_of(transfer, 400, "idempotency_key_reused")


def test_a_signed_payment_code_request_needs_its_key_and_a_valid_signature(
    api: Api, world: tuple[str, str, PhoneApp, str]
) -> None:
    _, token, phone, _ = world
    error_of(_signed_code(api, token, phone, None), 400, "idempotency_key_required")
    thief = PhoneApp("thief")
    error_of(_signed_code(api, token, thief, uuid.uuid4().hex), 401, "invalid_signature")
    altered = _signed_code(api, token, phone, uuid.uuid4().hex, sent=b'{"x": 1}')
    error_of(altered, 401, "invalid_signature")
    assert _codes_issued(api) == 0


def test_a_device_untrusted_after_it_signed_cannot_sign_again(
    api: Api, world: tuple[str, str, PhoneApp, str]
) -> None:
    """Its key is parsed once and kept (security/devices.py), but whether the key may sign
    is read from the device row in each payment's transaction, so the kept key signs
    nothing once the device is no longer trusted."""
    payer_id, token, phone, payee = world
    first, key = _body(payee, 1_00), uuid.uuid4().hex
    paid = _send(
        api, token, first, key=key, signature=phone.sign_request(api.clock(), key, PATH, first)
    )
    assert paid.status_code == 201, paid.text

    def untrust(ctx: Context) -> None:
        for device in ctx.uow.auth.devices_of(payer_id):
            ctx.uow.auth.update_device(device.id, trusted_at=None)

    _ctx_run(api, untrust)
    again, key = _body(payee, 1_00), uuid.uuid4().hex
    signature = phone.sign_request(api.clock(), key, PATH, again)
    error_of(_send(api, token, again, key=key, signature=signature), 401, "device_not_trusted")
    assert balance(api, "user", payer_id) == 500_00 - 1_00
