"""A refusal that asks for a retry is never kept as the Idempotency-Key's answer (issue 15,
defect 5: a `409 wallet_race` was kept, so the retry it asked for replayed the 409 for
ever). Both ways a key is kept are covered: by the payment endpoint in its own unit of
work (transfers) and by the middleware (escrow)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from guardpay.errors import Conflict
from guardpay.services.payments import core as payments
from guardpay.services.payments import escrow
from tests.api.api_fixtures import PIN, bearer, error_of
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.api.test_payments_api import World
from tests.api.test_payments_api import world as world


def _refusing_once(real: Callable[..., Any]) -> Callable[..., Any]:
    calls: list[int] = []

    def once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise Conflict("a concurrent request won; retry", code="test_race", retryable=True)
        return real(*args, **kwargs)

    return once


@pytest.mark.parametrize(
    ("service", "name", "path"),
    [(payments, "p2p_transfer", "/v1/transfers"), (escrow, "pay_into_escrow", "/v1/escrow")],
)
def test_the_retry_a_retryable_refusal_asks_for_runs(
    world: World, monkeypatch: pytest.MonkeyPatch, service: object, name: str, path: str
) -> None:
    api, alice, bob, merchant = world
    monkeypatch.setattr(service, name, _refusing_once(getattr(service, name)))
    body = (
        {"payee": bob.id, "amount": 1_00, "payment_password": PIN}
        if path == "/v1/transfers"
        else {"merchant_id": merchant.id, "amount": 1_00, "payment_password": PIN}
    )
    headers = {**bearer(alice.token), "Idempotency-Key": f"retry-{name}"}
    first = api.client.post(path, json=body, headers=headers)
    error_of(first, 409, "test_race")
    assert first.headers["Retry-After"] == "1"
    again = api.client.post(path, json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert "Idempotent-Replayed" not in again.headers
    replay = api.client.post(path, json=body, headers=headers)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == again.json()
