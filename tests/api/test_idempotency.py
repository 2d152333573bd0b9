"""Idempotency-Key on POSTs under /v1: replay, misuse, in-progress, exclusions, purge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import text

from guardpay.api.app import create_app
from guardpay.api.idempotency import IdempotencySettings, purge
from guardpay.security import passwords
from guardpay.storage.idempotency import IdempotencyRepository
from guardpay.storage.uow import unit_of_work
from tests.api.api_fixtures import PASSWORD, PHONE, PIN, T0, Api, PhoneApp, bearer, error_of
from tests.api.api_fixtures import api_fixture as api_fixture

ANON = "ip:testclient"


def _post(api: Api, path: str, body: Any, key: str | None, token: str | None = None) -> Response:
    headers = bearer(token) if token else {}
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.client.post(path, json=body, headers=headers)


def _keys(api: Api) -> list[tuple[Any, ...]]:
    with api.db.read() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM idempotency_keys"))]


def test_the_same_key_and_body_replays_the_first_response(api: Api) -> None:
    body = {"phone": PHONE, "password": PASSWORD}
    first = _post(api, "/v1/users", body, "k-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    again = _post(api, "/v1/users", body, "k-1")
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["content-type"] == first.headers["content-type"] == "application/json"
    # the endpoint did not run again: without the key the phone is taken
    error_of(_post(api, "/v1/users", body, None), 409, "phone_taken")
    stored = _keys(api)
    assert len(stored) == 1
    assert PASSWORD not in str(stored)  # only the body's hash is kept


def test_a_reused_key_with_another_body_or_path_is_refused(api: Api) -> None:
    assert _post(api, "/v1/users", {"phone": PHONE, "password": PASSWORD}, "k").status_code == 201
    other = {"phone": "13900001111", "password": PASSWORD}
    error_of(_post(api, "/v1/users", other, "k"), 400, "idempotency_key_reused")
    error_of(_post(api, "/v1/me/erase", {}, "k"), 400, "idempotency_key_reused")


def test_a_key_still_in_progress_answers_409(api: Api) -> None:
    import hashlib
    import json

    body = json.dumps({"phone": PHONE, "password": PASSWORD}).encode()
    digest = hashlib.sha256(body).hexdigest()
    with unit_of_work(api.db) as uow:
        assert IdempotencyRepository(uow.conn).claim(ANON, "busy", "POST /v1/users", digest, T0)
    headers = {"Idempotency-Key": "busy", "Content-Type": "application/json"}
    busy = api.client.post("/v1/users", content=body, headers=headers)
    error_of(busy, 409, "idempotency_request_in_progress")
    assert api.snapshot()["users"] == []


def test_keys_belong_to_their_caller(api: Api) -> None:
    token_a = api.verified_user()
    api.register("13900001111")
    token_b = api.sign_in(PhoneApp(), "13900001111")
    body = {"payment_password": PIN}
    assert _post(api, "/v1/me/payment-password", body, "same", token_a).status_code == 200
    second = _post(api, "/v1/me/payment-password", body, "same", token_b)
    assert second.status_code == 200
    assert "Idempotent-Replayed" not in second.headers
    callers = sorted(r[0] for r in _keys(api))
    assert len(callers) == 2
    assert all(c.startswith("user:usr_") for c in callers)


def test_commit_on_failures_are_stored_and_replayed_without_counting_twice(api: Api) -> None:
    token = api.verified_user()
    assert _post(api, "/v1/me/payment-password", {"payment_password": PIN}, None, token)
    check, wrong = "/v1/me/payment-password/verify", {"payment_password": "902817"}
    first = _post(api, check, wrong, "guess-1", token)
    error_of(first, 401, "invalid_payment_password")
    failures = api.snapshot()["auth_failures"]
    again = _post(api, check, wrong, "guess-1", token)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (again.status_code, again.json()) == (401, first.json())
    assert api.snapshot()["auth_failures"] == failures
    error_of(
        _post(api, check, {"payment_password": "111111"}, "guess-1", token),
        400,
        "idempotency_key_reused",
    )


def test_paths_that_mint_credentials_ignore_the_key(api: Api) -> None:
    api.register()
    app = PhoneApp()
    api.sign_in(app)  # trust the device
    api.clock.advance(seconds=1)
    login = {"phone": PHONE, "password": PASSWORD}
    first = _post(api, "/v1/sessions", {**login, "device": app.proof(api.clock())}, "login")
    api.clock.advance(seconds=1)
    second = _post(api, "/v1/sessions", {**login, "device": app.proof(api.clock())}, "login")
    assert first.status_code == second.status_code == 201
    assert first.json()["token"] != second.json()["token"]
    assert "Idempotent-Replayed" not in second.headers
    assert not [k for k in _keys(api) if k[1] == "login"]


def test_server_errors_release_the_key(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from guardpay.services.identity import facade as identity

    real = identity.register_user

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    body = {"phone": PHONE, "password": PASSWORD}
    monkeypatch.setattr(identity, "register_user", broken)
    error_of(_post(api, "/v1/users", body, "retry-me"), 500, "internal_error")
    assert _keys(api) == []
    monkeypatch.setattr(identity, "register_user", real)
    assert _post(api, "/v1/users", body, "retry-me").status_code == 201


def test_keys_are_optional_unless_required(api: Api) -> None:
    assert _post(api, "/v1/users", {"phone": PHONE, "password": PASSWORD}, None).status_code == 201
    error_of(_post(api, "/v1/users", {}, ""), 400, "parameter_invalid")
    strict = create_app(
        api.db,
        keyring=api.keyring,
        kyc=api.kyc,
        sms=api.sms,
        clock=api.clock,
        idempotency_settings=IdempotencySettings(required=True),
    )
    with passwords.using(passwords.CHEAP), TestClient(strict) as client:
        refused = client.post("/v1/users", json={"phone": "13900001111", "password": PASSWORD})
        error_of(refused, 400, "idempotency_key_required")
        assert client.get("/healthz").status_code == 200  # GETs never need one
        keyed = client.post(
            "/v1/users",
            json={"phone": "13900001111", "password": PASSWORD},
            headers={"Idempotency-Key": "x"},
        )
        assert keyed.status_code == 201


def test_keys_are_kept_24_hours_then_purged(api: Api) -> None:
    assert _post(api, "/v1/users", {"phone": PHONE, "password": PASSWORD}, "old").status_code == 201
    settings = IdempotencySettings()
    assert purge(api.db, T0 + timedelta(hours=23, minutes=59), settings) == 0
    again = _post(api, "/v1/users", {"phone": PHONE, "password": PASSWORD}, "old")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert purge(api.db, T0 + timedelta(hours=24, seconds=1), settings) == 1
    assert _keys(api) == []
