"""Payment endpoints keep their Idempotency-Key in the payment's own transaction
(api/idempotency.py `InEndpoint`): the claim, the payment and its answer commit together
or not at all, on both backends."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

import pytest
from httpx import Response
from sqlalchemy import text

from guardpay.api import idempotency
from guardpay.services.payments import pipeline
from guardpay.storage.idempotency import DONE, IN_PROGRESS, IdempotencyRepository
from guardpay.storage.uow import unit_of_work
from tests.api.api_fixtures import PIN, T0, Api, bearer, error_of
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.api.test_payments_api import ALICE, BOB, Payer, payer
from tests.domain.identity.numbers import resident_id

PATH = "/v1/transfers"


def _alice_and_bob(api: Api, fund: int = 100_00) -> tuple[Payer, Payer]:
    alice = payer(api, ALICE, resident_id("310104", "19900307", "123"), fund=fund)
    bob = payer(api, BOB, resident_id("310104", "19880512", "456"))
    return alice, bob


def _send(api: Api, token: str, body: dict[str, Any], key: str) -> Response:
    headers = {**bearer(token), "Idempotency-Key": key, "Content-Type": "application/json"}
    return api.client.post(PATH, content=json.dumps(body).encode(), headers=headers)


def _rows(api: Api, sql: str) -> list[tuple[Any, ...]]:
    with api.db.read() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def _keys(api: Api) -> list[tuple[Any, ...]]:
    return _rows(api, "SELECT key, state, response_status, response_body FROM idempotency_keys")


def _payments(api: Api) -> list[tuple[Any, ...]]:
    return _rows(api, "SELECT status, failure_code, amount FROM payments")


def test_the_payment_routes_keep_their_own_keys(api: Api) -> None:
    kept = getattr(api.client.app.state, idempotency.IN_ENDPOINT)  # type: ignore[attr-defined]
    matched = {
        p
        for p in ("/v1/transfers", "/v1/payments/qr", "/v1/users", "/v1/me/erase")
        if any(r.match(p) for r in kept)
    }
    assert matched == {"/v1/transfers", "/v1/payments/qr"}


def test_a_payment_and_its_answer_commit_together_and_replay(api: Api) -> None:
    alice, bob = _alice_and_bob(api)
    body = {"payee": bob.id, "amount": 25_00, "payment_password": PIN}
    first = _send(api, alice.token, body, "pay-1")
    assert first.status_code == 201
    assert first.json()["status"] == "succeeded"
    assert _keys(api) == [("pay-1", DONE, 201, first.text)]
    again = _send(api, alice.token, body, "pay-1")
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
    assert again.json() == first.json()
    assert again.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert _payments(api) == [("succeeded", None, 25_00)]  # paid once
    error_of(_send(api, alice.token, {**body, "amount": 1}, "pay-1"), 400, "idempotency_key_reused")


def test_a_failure_inside_the_payment_leaves_neither_payment_nor_key(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = _alice_and_bob(api)
    body = {"payee": bob.id, "amount": 5_00, "payment_password": PIN}
    real = pipeline.record

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(pipeline, "record", broken)
    error_of(_send(api, alice.token, body, "pay-2"), 500, "internal_error")
    assert (_keys(api), _payments(api)) == ([], [])
    monkeypatch.setattr(pipeline, "record", real)
    retried = _send(api, alice.token, body, "pay-2")
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert _payments(api) == [("succeeded", None, 5_00)]


def test_a_refusal_that_rolled_back_is_stored_after(api: Api) -> None:
    alice, _bob = _alice_and_bob(api)
    body = {"payee": "usr_nobody", "amount": 1_00, "payment_password": PIN}
    first = _send(api, alice.token, body, "pay-3")
    error_of(first, 404, "payee_not_found")
    assert [k[:3] for k in _keys(api)] == [("pay-3", DONE, 404)]
    again = _send(api, alice.token, body, "pay-3")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (again.status_code, again.json()) == (404, first.json())


def test_a_committed_refusal_is_stored_and_not_recorded_twice(api: Api) -> None:
    alice, bob = _alice_and_bob(api, fund=10_00)
    body = {"payee": bob.id, "amount": 20_00, "payment_password": PIN}
    first = _send(api, alice.token, body, "pay-4")
    error_of(first, 400, "insufficient_funds")
    assert _payments(api) == [("failed", "insufficient_funds", 20_00)]
    again = _send(api, alice.token, body, "pay-4")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (again.status_code, again.json()) == (400, first.json())
    assert _payments(api) == [("failed", "insufficient_funds", 20_00)]


def test_a_key_held_by_another_request_answers_from_it(api: Api) -> None:
    alice, bob = _alice_and_bob(api)
    body = {"payee": bob.id, "amount": 3_00, "payment_password": PIN}
    digest = hashlib.sha256(json.dumps(body).encode()).hexdigest()
    with unit_of_work(api.db) as uow:
        repo = IdempotencyRepository(uow.conn)
        assert repo.claim(f"user:{alice.id}", "busy", f"POST {PATH}", digest, T0)
    error_of(_send(api, alice.token, body, "busy"), 409, "idempotency_request_in_progress")
    assert _payments(api) == []  # rolled back with the lost claim
    assert [k[:2] for k in _keys(api)] == [("busy", IN_PROGRESS)]


def test_a_request_refused_before_the_endpoint_began_stores_nothing(api: Api) -> None:
    alice, bob = _alice_and_bob(api)
    error_of(
        _send(api, alice.token, {"payee": bob.id, "amount": 1.5}, "pay-5"), 400, "parameter_invalid"
    )
    error_of(
        _send(api, "not-a-session", {"payee": bob.id, "amount": 1}, "pay-5"), 401, "session_invalid"
    )
    assert _keys(api) == []
    fixed = _send(
        api, alice.token, {"payee": bob.id, "amount": 1, "payment_password": PIN}, "pay-5"
    )
    assert fixed.status_code == 201


def _in_thread(send: Any) -> tuple[threading.Thread, list[Response]]:
    out: list[Response] = []
    thread = threading.Thread(target=lambda: out.append(send()))
    thread.start()
    return thread, out


def test_two_requests_at_once_with_one_key_pay_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = _alice_and_bob(api)
    body = {"payee": bob.id, "amount": 7_00, "payment_password": PIN}
    real, inside = pipeline.record, threading.Event()

    def slow(*args: Any, **kwargs: Any) -> Any:
        inside.set()
        time.sleep(0.5)  # the first is mid-payment, its claim made, when the second comes
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "record", slow)
    thread, out = _in_thread(lambda: _send(api, alice.token, body, "race"))
    assert inside.wait(10)
    second = _send(api, alice.token, body, "race")
    thread.join(10)
    assert (out[0].status_code, second.status_code) == (201, 201)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == out[0].json()
    assert _payments(api) == [("succeeded", None, 7_00)]


def test_a_refused_request_holds_its_key_until_its_answer_is_stored(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 404 rolls the payment back but not the claim: another request with the key,
    while the refusal is not yet stored, is refused instead of paying."""
    alice, bob = _alice_and_bob(api)
    refused = {"payee": "usr_nobody", "amount": 1_00, "payment_password": PIN}
    real, reached, go = idempotency.InEndpoint.settle, threading.Event(), threading.Event()

    def paused(pending: idempotency.InEndpoint, *args: Any) -> None:
        reached.set()
        go.wait(10)
        real(pending, *args)

    monkeypatch.setattr(idempotency.InEndpoint, "settle", paused)
    thread, out = _in_thread(lambda: _send(api, alice.token, refused, "K"))
    assert reached.wait(10)  # refused and rolled back; its answer not stored yet
    monkeypatch.setattr(idempotency.InEndpoint, "settle", real)
    other = _send(api, alice.token, {"payee": bob.id, "amount": 2_00, "payment_password": PIN}, "K")
    go.set()
    thread.join(10)
    error_of(out[0], 404, "payee_not_found")
    error_of(other, 400, "idempotency_key_reused")  # the key is the refused request's
    assert _payments(api) == []
    assert [k[:3] for k in _keys(api)] == [("K", DONE, 404)]
