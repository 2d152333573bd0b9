"""Risk control through the API, on SQLite and PostgreSQL: a new-device drain is
challenged and continues after the step-up; a scam-like night transfer is held as a
pending ledger transfer, then released or returned by an analyst; a blocked payee is
denied with the failed payment and its decision committed; the payer gets plain words,
the analyst the features and versions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.model import Account, Transfer
from guardpay.services.ledger import books as ledger
from guardpay.services.ledger import wallets
from guardpay.services.platform.context import Context
from tests.api.api_fixtures import PAN, PIN, Api, PhoneApp, error_of
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.api.test_payments_api import ALICE, BOB, World, _ctx_run, balance, payer, refused
from tests.api.test_payments_api import world as world
from tests.domain.identity.numbers import resident_id

NIGHT = datetime(2026, 11, 21, 18, 30, tzinfo=UTC)  # 02:30 in Shanghai


def _class_ii(api: Api, user_id: str, fund: int) -> None:
    """Upgrade to Class II (¥100,000 a year) and top up, as the tests' setup."""

    def run(ctx: Context) -> None:
        ctx.uow.identity.set_verified(user_id, "II", None, ctx.now())
        reserve = wallets.open_platform_accounts(ctx, "CNY")[AccountCode.RESERVE]
        wallet = wallets.wallet(ctx, "user", user_id, "CNY")
        move = Transfer(
            7 * 10**12 + fund, reserve, wallet, fund, ledger=156, code=TransferCode.TOP_UP
        )
        assert [r.value for r in ledger.execute(ctx.uow, [move])] == ["ok"]

    _ctx_run(api, run)


def _wallet(api: Api, user_id: str) -> Account:
    def read(ctx: Context) -> Account:
        found = ctx.uow.ledger_queries.account(wallets.wallet(ctx, "user", user_id, "CNY"))
        assert found is not None
        return found

    return _ctx_run(api, read)  # type: ignore[no-any-return]


def _send(api: Api, token: str, payee: str, amount: int) -> dict[str, Any]:
    r = api.post(
        "/v1/transfers", {"payee": payee, "amount": amount, "payment_password": PIN}, token
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _decision(api: Api, token: str, payment_id: str, op_token: str) -> dict[str, Any]:
    mine = api.get(f"/v1/payments/{payment_id}/decision", token)
    assert mine.status_code == 200, mine.text
    decision_id = _ctx_run(api, lambda ctx: payments_decision(ctx, payment_id))
    full = api.get(f"/v1/risk/decisions/{decision_id}", op_token)
    assert full.status_code == 200, full.text
    return {"payer": mine.json(), "analyst": full.json()}


def payments_decision(ctx: Context, payment_id: str) -> str:
    from guardpay.storage.risk import RiskRepository

    found = RiskRepository(ctx.uow.conn).decision_for(payment_id)
    assert found is not None
    return found.id


def test_a_new_device_drain_is_challenged_then_continues(world: World) -> None:
    api, alice, bob, shop = world
    _class_ii(api, alice.id, 1_500_00)  # 2,000 yuan in all
    _send(api, alice.token, BOB, 10_00)  # her usual phone: allowed, now a known device
    thief = api.sign_in(PhoneApp("thief's phone"), ALICE)  # a SIM swap passes the SMS
    before = _wallet(api, alice.id)
    waiting = _send(api, thief, BOB, 1_900_00)
    assert waiting["status"] == "requires_action"
    assert (waiting["next_action"]["type"], waiting["next_action"]["reason"]) == ("step_up", "risk")
    assert _wallet(api, alice.id) == before  # nothing moved
    seen = _decision(api, alice.token, waiting["id"], shop.token)
    assert seen["analyst"]["action"] == "challenge"
    assert "ato_new_device_drain" in seen["analyst"]["reasons"]
    assert seen["analyst"]["features"]["device_new"] is True
    assert seen["analyst"]["rule_set"].startswith("default@")
    assert "new_device" not in str(seen["payer"])  # plain words, not codes
    assert seen["payer"]["explanation"][0].startswith("We asked you to confirm")
    code = api.sms_code(waiting["next_action"]["challenge_id"], "+86" + ALICE)
    done = api.post(
        f"/v1/payments/{waiting['id']}/confirm", {"step_up": {"method": "sms", "code": code}}, thief
    )
    assert done.json()["status"] == "succeeded", done.text
    assert balance(api, "user", bob.id) == 1_910_00


def test_a_scam_like_transfer_is_held_then_released_or_returned(world: World) -> None:
    api, alice, bob, shop = world
    _class_ii(api, alice.id, 19_500_00)  # 20,000 yuan
    carol = payer(api, "13700001111", resident_id("440106", "19920202", "789"))
    api.clock.at = NIGHT
    held = _send(api, alice.token, BOB, 6_000_00)  # first large transfer to a new payee
    assert (held["status"], held["next_action"]["type"]) == ("processing", "review")
    wallet = _wallet(api, alice.id)
    assert (wallet.debits_pending, wallet.balance) == (6_000_00, 20_000_00)
    assert balance(api, "user", bob.id) == 0
    queue = api.get("/v1/risk/reviews", shop.token).json()["data"]
    assert [(q["subject_id"], q["review_status"]) for q in queue] == [(held["id"], "pending")]
    decision_id = queue[0]["id"]
    approved = api.post(
        f"/v1/risk/reviews/{decision_id}/approve", {"note": "called her"}, shop.token
    )
    assert approved.json()["payment_status"] == "succeeded", approved.text
    assert (balance(api, "user", bob.id), _wallet(api, alice.id).debits_pending) == (6_000_00, 0)
    error_of(
        api.post(f"/v1/risk/reviews/{decision_id}/decline", {}, shop.token), 409, "review_closed"
    )
    second = _send(api, alice.token, "13700001111", 6_000_00)
    assert second["status"] == "processing"
    pending = api.get("/v1/risk/reviews", shop.token).json()["data"]
    declined = api.post(f"/v1/risk/reviews/{pending[0]['id']}/decline", {}, shop.token)
    assert declined.json()["payment_status"] == "failed", declined.text
    after = _wallet(api, alice.id)
    assert (after.balance, after.debits_pending) == (14_000_00, 0)  # returned in full
    assert balance(api, "user", carol.id) == 0
    labels = [
        api.get(f"/v1/risk/decisions/{d}", shop.token).json()["label"]
        for d in (decision_id, pending[0]["id"])
    ]
    assert labels == ["legit", "fraud"]
    assert len(api.audit("risk.review_approved")) == len(api.audit("risk.review_declined")) == 1
    error_of(
        api.post(f"/v1/risk/reviews/{decision_id}/approve", {}, alice.token),
        403,
        "operator_required",
    )


def test_a_blocked_payee_is_denied_and_the_refusal_is_kept(world: World) -> None:
    api, alice, bob, shop = world
    entry = api.post(
        "/v1/risk/lists",
        {
            "list": "block",
            "entity": "payee",
            "value": bob.id,
            "reason": "mule reported by bank",
            "expires_in_hours": 48,
        },
        shop.token,
    )
    assert entry.status_code == 201, entry.text
    body = {"payee": BOB, "amount": 10_00, "payment_password": PIN}
    error_of(api.post("/v1/transfers", body, alice.token), 403, "payment_denied")
    mine = api.get("/v1/me/payments", alice.token).json()["data"]
    assert [(p["status"], p["failure_code"]) for p in mine] == [("failed", "risk_denied")]
    seen = _decision(api, alice.token, mine[0]["id"], shop.token)
    analyst = seen["analyst"]
    assert (analyst["action"], analyst["reasons"][0]) == ("deny", "list_block_hit")
    assert seen["payer"]["explanation"][1].startswith("An account, device or payee")
    assert balance(api, "user", bob.id) == 0
    assert (
        api.post(f"/v1/risk/lists/{entry.json()['id']}/remove", None, shop.token).json()[
            "expires_at"
        ]
        is not None
    )
    assert _send(api, alice.token, BOB, 10_00)["status"] == "succeeded"
    listed = api.get("/v1/risk/lists", shop.token).json()["data"]
    assert listed == []  # the removed entry is no longer live
    refused(
        api,
        "/v1/risk/lists",
        {"list": "block", "entity": "card", "value": "card_nope", "reason": "x"},
        shop.token,
        404,
        "card_not_found",
    )


def test_payment_flows_pass_the_gate_in_order(world: World) -> None:
    """A plain small payment is allowed and recorded with its versions and features."""
    api, alice, _, shop = world
    paid = _send(api, alice.token, BOB, 1_00)
    seen = _decision(api, alice.token, paid["id"], shop.token)
    analyst = seen["analyst"]
    assert (analyst["action"], analyst["score"], analyst["reasons"]) == ("allow", 0, [])
    assert analyst["features"]["amount"] == 1_00
    assert set(analyst["features"]) >= {"user_count_1h", "payee_new", "device_new"}


def test_a_block_listed_user_cannot_sign_in_from_any_device(world: World) -> None:
    api, alice, _, shop = world
    r = api.post(
        "/v1/risk/lists",
        {"list": "block", "entity": "user", "value": alice.id, "reason": "account taken over"},
        shop.token,
    )
    assert r.status_code == 201, r.text
    error_of(api.login(PhoneApp("new phone"), ALICE), 403, "request_denied")
    assert api.audit("risk.request_denied")[-1][1] == alice.id


def test_an_operators_note_with_a_grouped_card_number_is_masked_in_the_audit_log(
    world: World,
) -> None:
    api, _, _, shop = world
    grouped = " ".join(PAN[i : i + 4] for i in range(0, len(PAN), 4))
    reason = f"chargeback on card {grouped}, 2026-11-22 02:53:59"
    r = api.post(
        "/v1/risk/lists",
        {"list": "block", "entity": "ip", "value": "203.0.113.9", "reason": reason},
        shop.token,
    )
    assert r.status_code == 201, r.text
    ((_, _, _, details),) = api.audit("risk.list_added")
    assert PAN not in "".join(c for c in details if c.isdigit())
    assert PAN[:3] + "* **** **** ***" in details
    assert "2026-11-22 02:53:59" in details
