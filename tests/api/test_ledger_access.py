"""Who may read the ledger API, on both backends: an operator's session (viewer and up)
reads every route; a request without a session, with a dead token, with a user's session
(even for the user's own wallet) or with a disabled operator's session reads nothing."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from guardpay.domain.auth.roles import Role
from guardpay.services.auth import operators
from guardpay.services.ledger import wallets
from guardpay.services.platform.context import Context
from guardpay.storage.uow import read_only
from tests.api.api_fixtures import PIN, Api, error_of
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.api.test_payments_api import OP_SECRET, World, _ctx_run
from tests.api.test_payments_api import world as world


@dataclass
class Ledger:
    """Alice's wallet after she paid Bob, and that payment's transfer."""

    wallet: int
    transfer: int

    def paths(self) -> list[str]:
        w = self.wallet
        return [
            "/v1/ledger/accounts",
            f"/v1/ledger/accounts/{w}",
            f"/v1/ledger/accounts/{w}/transfers",
            f"/v1/ledger/accounts/{w}/balances",
            f"/v1/ledger/transfers/{self.transfer}",
        ]


@pytest.fixture
def ledger(world: World) -> Ledger:
    api, alice, bob, _ = world
    paid = api.post(
        "/v1/transfers", {"payee": bob.id, "amount": 123_45, "payment_password": PIN}, alice.token
    )
    assert paid.status_code == 201, paid.text
    wallet = _ctx_run(api, lambda ctx: wallets.wallet(ctx, "user", alice.id, "CNY"))
    with read_only(api.db) as uow:
        newest = uow.ledger_queries.account_transfers(wallet, cursor=None, limit=1).items[0]
    return Ledger(wallet, newest.id)


def _operator(api: Api, name: str, role: Role) -> str:
    _ctx_run(api, lambda ctx: operators.create_operator(ctx, name, role, OP_SECRET))
    r = api.post("/v1/operator/sessions", {"name": name, "password": OP_SECRET})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def test_a_viewer_reads_every_ledger_route(world: World, ledger: Ledger) -> None:
    api = world[0]
    token = _operator(api, "vera", Role.VIEWER)
    for path in ledger.paths():
        r = api.get(path, token)
        assert r.status_code == 200, (path, r.text)
    account = api.get(f"/v1/ledger/accounts/{ledger.wallet}", token).json()
    assert account["id"] == str(ledger.wallet)
    assert account["debits_posted"] >= 123_45


def test_no_ledger_route_answers_without_a_session(world: World, ledger: Ledger) -> None:
    api = world[0]
    for path in [*ledger.paths(), "/v1/ledger/accounts/999", "/v1/ledger/accounts?limit=0"]:
        error_of(api.get(path), 401, "authentication_required")
    for path in [*ledger.paths(), "/v1/ledger/accounts/999"]:
        error_of(api.get(path, "not-a-session-token"), 401, "session_invalid")
    # a token is checked in the route's unit of work, once the parameters are well-formed
    error_of(
        api.get("/v1/ledger/accounts?limit=0", "not-a-session-token"), 400, "parameter_invalid"
    )


def test_a_users_session_reads_no_ledger_route_not_even_their_own_wallet(
    world: World, ledger: Ledger
) -> None:
    api, alice, bob, _ = world
    for token in (alice.token, bob.token):
        for path in ledger.paths():
            error_of(api.get(path, token), 403, "operator_required")


def test_a_disabled_operators_session_reads_nothing(world: World, ledger: Ledger) -> None:
    """The role is checked on each request, not only the session's kind: an operator
    disabled while a session is still open is refused."""
    api = world[0]
    token = _operator(api, "otto", Role.ADMIN)
    assert api.get(ledger.paths()[1], token).status_code == 200

    def disable(ctx: Context) -> None:
        operator = ctx.uow.auth.operator_by_name("otto")
        assert operator is not None
        ctx.uow.auth.update_operator(operator.id, disabled_at=ctx.now())

    _ctx_run(api, disable)
    for path in ledger.paths():
        error_of(api.get(path, token), 403, "insufficient_role")
