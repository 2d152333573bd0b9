"""The commit policy, one row per refusal, on both backends: a refused request commits
what a service kept (`UnitOfWork.keep`, storage/uow.py) and nothing else, whatever the
error's class. Each row builds its situation through the API, takes a snapshot, sends
the refused request and names its status, its code and every table whose rows changed:
the bookkeeping kept for refusals that keep it, nothing at all for the others."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from httpx import Response
from sqlalchemy import text

from guardpay.api.deps import request_unit
from guardpay.errors import AuthenticationFailed, GuardpayError, InvalidRequest, PermissionDenied
from guardpay.storage.engine.db import Database
from tests.api.api_fixtures import PIN, PhoneApp, error_of
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.api.test_payments_api import ALICE, BOB, OP_SECRET, World
from tests.api.test_payments_api import world as world

AUDIT = {"audit_log", "audit_head"}
#: a login from a new device: the challenge, the pending device and the login's risk
#: decision, with the audit entry
LOGIN_STEP_UP = {"auth_challenges", "auth_devices", "risk_decisions"} | AUDIT
#: a wrong password (login or payment): the failure counted, and audited
COUNTED = {"auth_failures"} | AUDIT
#: a payment recorded failed (`RecordedRefusal`), with its audit entry
FAILED = {"payments"} | AUDIT
#: a payment risk control denied: recorded failed, with its decision and audit entry
DENIED = {"payments", "risk_decisions"} | AUDIT
#: a wrong step-up answer: the challenge's attempts and the user's failures, audited
WRONG_ANSWER = {"auth_challenges", "auth_failures"} | AUDIT


def _transfer(world: World, amount: float, pin: str = PIN, payee: str = BOB) -> Response:
    api, alice, _, _ = world
    body = {"payee": payee, "amount": amount, "payment_password": pin}
    return api.post("/v1/transfers", body, alice.token)


def _wrong_login(world: World) -> Callable[[], Response]:
    return lambda: world[0].login(PhoneApp(), ALICE, "Wrong-password-9")


def _new_device_login(world: World) -> Callable[[], Response]:
    return lambda: world[0].login(PhoneApp(), ALICE)


def _wrong_pin(world: World) -> Callable[[], Response]:
    return lambda: _transfer(world, 100, pin="111111")


def _over_the_limit(world: World) -> Callable[[], Response]:
    return lambda: _transfer(world, 2000_00)  # class I: ¥1,000 since opening


def _insufficient_funds(world: World) -> Callable[[], Response]:
    api, _, bob, _ = world
    body = {"payee": ALICE, "amount": 100, "payment_password": PIN}
    return lambda: api.post("/v1/transfers", body, bob.token)


def _risk_denied(world: World) -> Callable[[], Response]:
    api, _, bob, shop = world
    entry = {
        "list": "block",
        "entity": "payee",
        "value": bob.id,
        "reason": "mule reported by bank",
        "expires_in_hours": 48,
    }
    assert api.post("/v1/risk/lists", entry, shop.token).status_code == 201
    return lambda: _transfer(world, 10_00)


def _forged_qr(world: World) -> Callable[[], Response]:
    api, alice, _, shop = world
    order = api.post(
        f"/v1/merchants/{shop.id}/orders", {"amount": 8800, "expires_in": 300}, shop.token
    ).json()
    prefix, claims, sig = order["payload"].split(".")
    forged = f"{prefix}.{claims[:-2]}{'AA' if claims[-2:] != 'AA' else 'BB'}.{sig}"
    body = {"payload": forged, "payment_password": PIN}
    return lambda: api.post("/v1/payments/qr", body, alice.token)


def _replayed_qr(world: World) -> Callable[[], Response]:
    api, alice, _, shop = world
    order = api.post(
        f"/v1/merchants/{shop.id}/orders", {"amount": 8800, "expires_in": 300}, shop.token
    ).json()
    body = {"payload": order["payload"], "payment_password": PIN}
    assert api.post("/v1/payments/qr", body, alice.token).status_code == 201
    return lambda: api.post("/v1/payments/qr", body, alice.token)


def _reused_payment_code(world: World) -> Callable[[], Response]:
    api, alice, _, shop = world
    code = api.post("/v1/me/payment-codes", {"payment_password": PIN}, alice.token).json()["code"]
    collect = f"/v1/merchants/{shop.id}/collect"
    assert api.post(collect, {"code": code, "amount": 1000}, shop.token).status_code == 201
    return lambda: api.post(collect, {"code": code, "amount": 1000}, shop.token)


def _wrong_step_up_answer(world: World) -> Callable[[], Response]:
    api, alice, _, _ = world
    waiting = api.post("/v1/transfers", {"payee": BOB, "amount": 100}, alice.token).json()
    code = api.sms_code(waiting["next_action"]["challenge_id"], "+86" + ALICE)
    wrong = {"step_up": {"method": "sms", "code": "000000" if code != "000000" else "111111"}}
    return lambda: api.post(f"/v1/payments/{waiting['id']}/confirm", wrong, alice.token)


def _malformed_body(world: World) -> Callable[[], Response]:
    return lambda: _transfer(world, 1.5)  # minor units are integers


def _insufficient_role(world: World) -> Callable[[], Response]:
    api, _, _, shop = world  # an analyst's session
    body = {"name": "olga", "role": "viewer", "password": OP_SECRET}
    return lambda: api.post("/v1/operator/operators", body, shop.token)


def _operator_required(world: World) -> Callable[[], Response]:
    api, alice, _, shop = world
    return lambda: api.post(f"/v1/merchants/{shop.id}/qr", None, alice.token)


def _unknown_currency(world: World) -> Callable[[], Response]:
    api, alice, _, _ = world
    body = {"payee": BOB, "amount": 100, "currency": "XXX", "payment_password": PIN}
    return lambda: api.post("/v1/transfers", body, alice.token)


def _account_not_verified(world: World) -> Callable[[], Response]:
    api, _, _, _ = world
    api.register("13700001111")
    token = api.sign_in(PhoneApp(), "13700001111")
    body = {"payee": ALICE, "amount": 100, "payment_password": PIN}
    return lambda: api.post("/v1/transfers", body, token)


def _dead_session(world: World) -> Callable[[], Response]:
    api = world[0]
    return lambda: api.post("/v1/transfers", {"payee": BOB, "amount": 100}, "not-a-token")


@dataclass(frozen=True)
class Row:
    name: str
    situation: Callable[[World], Callable[[], Response]]
    status: int
    code: str
    kept: frozenset[str]


def row(
    name: str,
    situation: Callable[[World], Callable[[], Response]],
    status: int,
    code: str,
    kept: set[str],
) -> Row:
    return Row(name, situation, status, code, frozenset(kept))


ROWS = [
    # refusals that keep their bookkeeping
    row("wrong login password", _wrong_login, 401, "invalid_credentials", COUNTED),
    row("step-up at login", _new_device_login, 401, "step_up_required", LOGIN_STEP_UP),
    row("wrong payment password", _wrong_pin, 401, "invalid_payment_password", COUNTED),
    row("payment over the limit", _over_the_limit, 400, "limit_exceeded", FAILED),
    row("insufficient funds", _insufficient_funds, 400, "insufficient_funds", FAILED),
    row("risk-denied payment", _risk_denied, 403, "payment_denied", DENIED),
    row("forged QR code", _forged_qr, 403, "qr_signature_invalid", AUDIT),
    row("replayed QR code", _replayed_qr, 403, "qr_already_used", AUDIT),
    row("reused payment code", _reused_payment_code, 403, "payment_code_used", AUDIT),
    row("wrong step-up answer", _wrong_step_up_answer, 401, "invalid_code", WRONG_ANSWER),
    # refusals that keep nothing
    row("malformed body", _malformed_body, 400, "parameter_invalid", set()),
    row("insufficient role", _insufficient_role, 403, "insufficient_role", set()),
    row("user, not operator", _operator_required, 403, "operator_required", set()),
    row("unknown currency", _unknown_currency, 400, "currency_unknown", set()),
    row("unverified payer", _account_not_verified, 403, "account_not_verified", set()),
    row("dead session", _dead_session, 401, "session_invalid", set()),
]


@pytest.mark.parametrize("case", ROWS, ids=[r.name for r in ROWS])
def test_a_refusal_commits_what_it_kept_and_nothing_else(world: World, case: Row) -> None:
    api = world[0]
    send = case.situation(world)
    before = api.snapshot()
    error_of(send(), case.status, case.code)
    assert api.changed(before) == case.kept


def _note(db: Database, error: GuardpayError, *, keep: bool) -> None:
    """A unit of work that writes a row, keeps it or not, and is refused with `error`."""
    with pytest.raises(type(error)):
        _refused_unit(db, error, keep=keep)


def _refused_unit(db: Database, error: GuardpayError, *, keep: bool) -> None:
    with request_unit(db) as uow:
        uow.conn.execute(
            text(
                "INSERT INTO idempotency_keys (caller, key, request_path, request_hash, state, "
                "created_at) VALUES ('c', :k, 'POST /x', 'h', 'in_progress', CURRENT_TIMESTAMP)"
            ),
            {"k": f"{type(error).__name__}-{keep}"},
        )
        if keep:
            uow.keep()
        raise error


@pytest.mark.parametrize(
    "error",
    [
        AuthenticationFailed("no", code="invalid_credentials"),
        PermissionDenied("no", code="insufficient_role"),
        InvalidRequest("no", code="parameter_invalid"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_the_class_of_an_error_decides_nothing_keep_does(
    db: Database, error: GuardpayError
) -> None:
    _note(db, error, keep=False)
    _note(db, error, keep=True)
    with db.read() as conn:
        keys = list(conn.execute(text("SELECT key FROM idempotency_keys")).scalars())
    assert keys == [f"{type(error).__name__}-True"]
