"""100 concurrent P2P payments from one wallet through the API (issue 4, "What must be
shown"): the wallet affords exactly K of them, so exactly K succeed and the rest answer
`insufficient_funds`; the wallet never goes below zero; replaying every request with its
Idempotency-Key returns the first answer and pays nothing twice; the ledger verifies.

The requests go through one `TestClient` from many threads: its portal runs them on one
event loop and the sync endpoints on AnyIO's thread pool (40 at once), so the payments
really race in the database. On PostgreSQL the payer's row lock serialises them; SQLite
serialises writers itself, and must give the same answers (fewer payments, to stay fast).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from httpx import Response

from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.model import Transfer
from guardpay.services.ledger import books as ledger
from guardpay.services.ledger import wallets
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.storage.uow import read_only, unit_of_work
from tests.api.api_fixtures import PIN, Api, PhoneApp, bearer, error_of
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.domain.identity.numbers import resident_id
from tests.services.risk.fixtures import quiet_risk

pytestmark = pytest.mark.slow

PAYER, PAYEE = "13812345678", "13900139000"
AMOUNT = 100  # ¥1: 100 of them stay far below the Class I allowance (¥1,000)
WORKERS = 32


def _signed_up(api: Api, phone: str, number: str) -> tuple[str, str]:
    """A verified (Class I) user with a payment password: (user id, session token)."""
    user_id = api.register(phone)
    token = api.sign_in(PhoneApp(), phone)
    assert api.verify(token, number).status_code == 200
    r = api.post("/v1/me/payment-password", {"payment_password": PIN}, token)
    assert r.status_code == 200, r.text
    return user_id, token


def _fund(api: Api, user_id: str, amount: int) -> None:
    """A top-up straight on the ledger (the bank channel is not what is under test)."""
    with unit_of_work(api.db) as uow:
        ctx = Context(uow, api.keyring, SYSTEM, api.clock)
        reserve = wallets.open_platform_accounts(ctx, "CNY")[AccountCode.RESERVE]
        wallet = wallets.wallet(ctx, "user", user_id, "CNY")
        move = Transfer(7_000_001, reserve, wallet, amount, ledger=156, code=TransferCode.TOP_UP)
        assert [r.value for r in ledger.execute(ctx.uow, [move])] == ["ok"]


def _balance(api: Api, user_id: str) -> int:
    with unit_of_work(api.db) as uow:
        ctx = Context(uow, api.keyring, SYSTEM, api.clock)
        return wallets.balance(ctx, wallets.wallet(ctx, "user", user_id, "CNY"), "CNY").amount


def _fire(api: Api, token: str, keys: list[str]) -> list[Response]:
    """POST one transfer per key, all at once; the answers in key order."""
    body: dict[str, Any] = {"payee": PAYEE, "amount": AMOUNT, "payment_password": PIN}

    def one(key: str) -> Response:
        headers = {**bearer(token), "Idempotency-Key": key}
        return api.client.post("/v1/transfers", json=body, headers=headers)

    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(one, keys))


def test_concurrent_payments_never_overdraw_and_replay(api: Api) -> None:
    """N payments race for a wallet that affords K of them (K = 37 of 100 on PostgreSQL,
    15 of 40 on SQLite), then all N are replayed."""
    n, affordable = (100, 37) if api.db.backend == "postgresql" else (40, 15)
    api.client.app.state.risk = quiet_risk()  # 100 payments a second is a velocity burst
    payer_id, token = _signed_up(api, PAYER, resident_id("310104", "19900307", "123"))
    payee_id, _ = _signed_up(api, PAYEE, resident_id("110105", "19851111", "456"))
    initial = affordable * AMOUNT + AMOUNT - 1  # one fen short of one more payment
    _fund(api, payer_id, initial)
    keys = [f"race-{i:03d}" for i in range(n)]

    first = _fire(api, token, keys)
    paid = [r for r in first if r.status_code == 201]
    assert len(paid) == affordable, [r.text for r in first if r.status_code not in (201, 400)]
    assert all(r.json()["status"] == "succeeded" for r in paid)
    for r in first:
        if r.status_code != 201:
            error_of(r, 400, "insufficient_funds")
    assert len({r.json()["id"] for r in paid}) == affordable
    assert _balance(api, payer_id) == initial - affordable * AMOUNT
    assert _balance(api, payee_id) == affordable * AMOUNT

    again = _fire(api, token, keys)
    for before, after in zip(first, again, strict=True):
        assert after.headers.get("Idempotent-Replayed") == "true", after.text
        assert (after.status_code, after.json()) == (before.status_code, before.json())
    assert _balance(api, payer_id) == initial - affordable * AMOUNT
    assert _balance(api, payee_id) == affordable * AMOUNT
    with read_only(api.db) as uow:
        report = ledger.verify(uow)
    assert report.ok, report.problems
