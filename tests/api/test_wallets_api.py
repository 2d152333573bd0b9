"""Balances and wallet histories over HTTP on both backends: a user's own wallets under
/v1/me/wallets, a merchant's settlement accounts under /v1/merchants/{id}/balances. The
history replays from the ledger (posted entries sum to the balance, pending ones to the
holds), pages newest first without gaps or repeats, and a GET never opens an account."""

from __future__ import annotations

from typing import Any

from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.model import Transfer
from guardpay.services.identity import facade as identity
from guardpay.services.ledger import books as ledger
from guardpay.services.ledger import wallets
from guardpay.services.platform.context import Context
from tests.api.api_fixtures import PIN, Api, error_of
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.api.merchant_signer import Signer, enrol, private_key
from tests.api.test_payments_api import BOB, World, _ctx_run, payer
from tests.api.test_payments_api import world as world
from tests.api.test_risk_api import NIGHT, _class_ii, _send
from tests.domain.identity.numbers import resident_id, uscc

CAROL = "13700001111"


def _top_up(api: Api, user_id: str, amount: int, transfer_id: int) -> None:
    """A top-up as the ledger books it (reserve -> wallet, code TOP_UP)."""

    def run(ctx: Context) -> None:
        reserve = wallets.open_platform_accounts(ctx, "CNY")[AccountCode.RESERVE]
        wallet = wallets.wallet(ctx, "user", user_id, "CNY")
        move = Transfer(transfer_id, reserve, wallet, amount, ledger=156, code=TransferCode.TOP_UP)
        assert [r.value for r in ledger.execute(ctx.uow, [move])] == ["ok"]

    _ctx_run(api, run)


def _ok(r: Any) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


def _all_pages(get: Any, path: str, limit: int) -> list[dict[str, Any]]:
    """Every entry, following next_cursor page by page."""
    out: list[dict[str, Any]] = []
    page = _ok(get(f"{path}?limit={limit}"))
    while True:
        assert len(page["data"]) <= limit
        out.extend(page["data"])
        if not page["has_more"]:
            assert page["next_cursor"] is None
            return out
        assert len(page["data"]) == limit
        page = _ok(get(f"{path}?limit={limit}&cursor={page['next_cursor']}"))


def _signed(e: dict[str, Any]) -> int:
    return int(e["amount"]) if e["direction"] == "in" else -int(e["amount"])


def assert_replays(wallet: dict[str, Any], history: list[dict[str, Any]]) -> None:
    """Posted entries sum to the balance, open holds to pending_in/out; each posted entry's
    balance_after is the previous one's plus its amount; newest first, each id once."""
    posted = [e for e in history if e["status"] == "posted"]
    held = [e for e in history if e["status"] == "pending"]
    assert sum(map(_signed, posted)) == wallet["balance"]
    assert sum(e["amount"] for e in held if e["direction"] == "in") == wallet["pending_in"]
    assert sum(e["amount"] for e in held if e["direction"] == "out") == wallet["pending_out"]
    assert wallet["available"] == wallet["balance"] - wallet["pending_out"]
    assert len({e["id"] for e in history}) == len(history)
    assert [e["timestamp"] for e in history] == sorted(
        (e["timestamp"] for e in history), reverse=True
    )
    after = 0
    for e in reversed(history):
        after += _signed(e) if e["status"] == "posted" else 0
        assert e["balance_after"] == after, e
    assert all(isinstance(e["id"], str) and int(e["id"]) > 0 for e in history)


def _ledger_accounts(api: Api) -> list[str]:
    return api.snapshot()["ledger_accounts"]


def test_received_paid_topped_up_history_replays_to_the_balance(world: World) -> None:
    api, alice, bob, shop = world
    _send(api, alice.token, BOB, 300_00)
    qr = _ok(api.post(f"/v1/merchants/{shop.id}/qr", None, shop.token))["payload"]
    paid = api.post(
        "/v1/payments/qr", {"payload": qr, "amount": 50_00, "payment_password": PIN}, bob.token
    )
    assert paid.json()["status"] == "succeeded", paid.text
    _top_up(api, bob.id, 100_00, 10**13 + 1)
    for n in range(3):  # enough entries for several pages
        _send(api, alice.token, BOB, 101 + n)
    wallets_of_bob = _ok(api.get("/v1/me/wallets", bob.token))
    assert wallets_of_bob["has_more"] is False
    assert wallets_of_bob["data"] == [
        {
            "currency": "CNY",
            "balance": 350_00 + 306,
            "pending_in": 0,
            "pending_out": 0,
            "available": 350_00 + 306,
        }
    ]
    path = "/v1/me/wallets/CNY/transactions"
    whole = _ok(api.get(f"{path}?limit=100", bob.token))["data"]
    assert [(e["kind"], e["direction"], e["amount"]) for e in whole] == [
        ("p2p", "in", 103),
        ("p2p", "in", 102),
        ("p2p", "in", 101),
        ("top_up", "in", 100_00),
        ("merchant_payment", "out", 50_00),
        ("p2p", "in", 300_00),
    ]
    assert {(e["currency"], e["status"]) for e in whole} == {("CNY", "posted")}
    assert_replays(wallets_of_bob["data"][0], whole)
    for limit in (1, 2, 4):
        assert _all_pages(lambda p: api.get(p, bob.token), path, limit) == whole
    error_of(api.get(f"{path}?cursor=abc", bob.token), 400, "invalid_cursor")


def test_a_payment_held_for_review_is_pending_out_until_decided(world: World) -> None:
    api, alice, bob, shop = world
    _class_ii(api, alice.id, 19_500_00)  # 20,000 yuan
    api.clock.at = NIGHT
    held = _send(api, alice.token, BOB, 6_000_00)  # first large transfer to a new payee
    assert held["status"] == "processing"
    mine = _ok(api.get("/v1/me/wallets", alice.token))["data"][0]
    assert (mine["balance"], mine["pending_out"], mine["available"]) == (
        20_000_00,
        6_000_00,
        14_000_00,
    )
    history = _ok(api.get("/v1/me/wallets/CNY/transactions", alice.token))["data"]
    assert (history[0]["status"], history[0]["direction"], history[0]["amount"]) == (
        "pending",
        "out",
        6_000_00,
    )
    assert_replays(mine, history)
    theirs = _ok(api.get("/v1/me/wallets", bob.token))["data"]
    assert [(w["balance"], w["pending_in"], w["available"]) for w in theirs] == [(0, 6_000_00, 0)]
    queue = _ok(api.get("/v1/risk/reviews", shop.token))["data"]
    approved = api.post(f"/v1/risk/reviews/{queue[0]['id']}/approve", {}, shop.token)
    assert approved.json()["payment_status"] == "succeeded", approved.text
    mine = _ok(api.get("/v1/me/wallets", alice.token))["data"][0]
    assert (mine["balance"], mine["pending_out"], mine["available"]) == (14_000_00, 0, 14_000_00)
    after = _ok(api.get("/v1/me/wallets/CNY/transactions", alice.token))["data"]
    posting, hold = after[0], after[1]
    assert (posting["status"], posting["hold_id"], hold["status"]) == (
        "posted",
        hold["id"],
        "released",
    )
    assert_replays(mine, after)


def test_everyone_sees_only_their_own_and_a_get_opens_nothing(world: World) -> None:
    api, alice, bob, shop = world
    carol = payer(api, CAROL, resident_id("440106", "19920202", "789"))
    before = _ledger_accounts(api)
    assert _ok(api.get("/v1/me/wallets", carol.token)) == {
        "data": [],
        "has_more": False,
        "next_cursor": None,
    }
    error_of(api.get("/v1/me/wallets/CNY/transactions", carol.token), 404, "wallet_not_found")
    error_of(api.get("/v1/me/wallets/XYZ/transactions", alice.token), 404, "wallet_not_found")
    error_of(api.get("/v1/me/wallets/USD/transactions", alice.token), 404, "wallet_not_found")
    error_of(api.get("/v1/me/wallets/cny/transactions", alice.token), 400, "currency_invalid")
    error_of(api.get("/v1/me/wallets/CNY1/transactions", alice.token), 400, "currency_invalid")
    assert _ledger_accounts(api) == before  # no account was opened by looking
    assert _ok(api.get("/v1/me/wallets", bob.token))["data"] == []  # bob holds nothing yet
    assert _ok(api.get("/v1/me/wallets", alice.token))["data"][0]["balance"] == 500_00
    error_of(api.get("/v1/me/wallets"), 401, "authentication_required")
    error_of(api.get("/v1/me/wallets/CNY/transactions"), 401, "authentication_required")
    error_of(api.get("/v1/me/wallets", shop.token), 403, "user_session_required")
    error_of(api.get("/v1/me/wallets/CNY/transactions", shop.token), 403, "user_session_required")


def _other_merchant(api: Api) -> str:
    return str(
        _ctx_run(
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
    )


def test_a_merchant_sees_its_settlement_balance_and_history_signed(world: World) -> None:
    api, alice, _, shop = world
    signer = enrol(api, shop.id, shop.token)
    base = f"/v1/merchants/{shop.id}/balances"
    assert _ok(signer.request("GET", base))["data"] == []  # paid nothing yet: none opened
    error_of(signer.request("GET", f"{base}/CNY/transactions"), 404, "wallet_not_found")
    qr = _ok(signer.post(f"/v1/merchants/{shop.id}/qr"))["payload"]
    for amount in (250, 1_000, 40_00):
        paid = api.post(
            "/v1/payments/qr",
            {"payload": qr, "amount": amount, "payment_password": PIN},
            alice.token,
        )
        assert paid.json()["status"] == "succeeded", paid.text
    balances = _ok(signer.request("GET", base))["data"]
    assert [b["currency"] for b in balances] == ["CNY"]
    history = _ok(signer.request("GET", f"{base}/CNY/transactions?limit=100"))["data"]
    assert {e["kind"] for e in history} >= {"merchant_payment"}
    assert sum(e["amount"] for e in history if e["kind"] == "merchant_payment") == 5_250
    assert_replays(balances[0], history)
    pages = _all_pages(lambda p: signer.request("GET", p), f"{base}/CNY/transactions", 2)
    assert pages == history
    assert _ok(api.get(base, shop.token))["data"] == balances  # an analyst acting for it
    error_of(signer.request("GET", f"{base}/cny/transactions"), 400, "currency_invalid")


def test_another_merchants_key_and_users_are_refused(world: World) -> None:
    api, alice, _, shop = world
    other = _other_merchant(api)
    theirs: Signer = enrol(api, other, shop.token, private_key(1))
    base = f"/v1/merchants/{shop.id}/balances"
    error_of(theirs.request("GET", base), 403, "merchant_mismatch")
    error_of(theirs.request("GET", f"{base}/CNY/transactions"), 403, "merchant_mismatch")
    error_of(api.get(base, alice.token), 403, "operator_required")
    error_of(api.get(base), 401, "authentication_required")
    error_of(api.get("/v1/merchants/mch_nosuch/balances", shop.token), 404, "resource_missing")
    error_of(theirs.request("GET", "/v1/merchants/mch_nosuch/balances"), 404, "resource_missing")
    assert _ok(theirs.request("GET", f"/v1/merchants/{other}/balances"))["data"] == []


def test_the_openapi_schema_describes_the_new_endpoints(world: World) -> None:
    api = world[0]
    schema = _ok(api.get("/openapi.json"))
    paths = schema["paths"]
    for path in (
        "/v1/me/wallets",
        "/v1/me/wallets/{currency}/transactions",
        "/v1/merchants/{merchant_id}/balances",
        "/v1/merchants/{merchant_id}/balances/{currency}/transactions",
    ):
        ok = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok["$ref"].startswith("#/components/schemas/ListOut_"), (path, ok)
    entry = schema["components"]["schemas"]["EntryOut"]["properties"]
    assert {
        "id",
        "timestamp",
        "kind",
        "direction",
        "amount",
        "currency",
        "status",
        "balance_after",
    } <= set(entry)
