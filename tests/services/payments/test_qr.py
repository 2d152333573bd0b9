"""Merchant payments on both backends: static and order QR codes, payment codes, the
merchant fee on the ledger, the QR limits by authentication strength, and each rejection
(forged, altered, expired, replayed codes as audited security events) changing no
balance."""

from __future__ import annotations

from datetime import timedelta

from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.money import Money
from guardpay.services.auth import facade as auth
from guardpay.services.payments import codes as payments_codes
from guardpay.services.payments import core as payments
from guardpay.services.payments import limits as payments_limits
from guardpay.services.payments import qr as payments_qr
from guardpay.services.payments.pipeline import Authorization
from tests.services.payments.test_core import ALICE, BOB, PASSWORD, World, cny
from tests.services.payments.test_core import world as world

SETTLEMENT = AccountCode.MERCHANT_SETTLEMENT


def _fee_revenue(world: World) -> int:
    """The platform's CNY fee revenue account (a fixed id: services/ledger/wallets.py)."""
    account = world.run(lambda ctx: ctx.uow.ledger_queries.account(300_000_156))
    return int(account.balance)


def test_static_qr_pays_the_typed_amount_minus_the_fee(world: World) -> None:
    alice, shop = world.user(ALICE), world.merchant()
    world.fund(alice, cny(1000))
    payload = world.run(payments_qr.static_payload, shop)
    assert payload == world.run(payments_qr.static_payload, shop)  # a reprint matches
    paid = world.run(payments_qr.pay_qr, alice, payload, PASSWORD, Money(250, "CNY"))
    assert (paid.row.status, paid.row.fee, paid.row.descriptor) == ("succeeded", 2, "FoodMall")
    assert world.balance("merchant", shop, SETTLEMENT) == 248
    assert _fee_revenue(world) == 2
    world.refused("amount_required", payments_qr.pay_qr, alice, payload, PASSWORD)


def test_static_qr_daily_limit(world: World) -> None:
    alice, shop = world.user(ALICE), world.merchant()
    world.fund(alice, cny(2000))
    payload = world.run(payments_qr.static_payload, shop)
    world.run(payments_qr.pay_qr, alice, payload, PASSWORD, cny(400))
    world.refused("limit_exceeded", payments_qr.pay_qr, alice, payload, PASSWORD, cny(101))
    left = world.run(payments_limits.allowance, alice)
    assert (left.static_qr, left.dynamic_qr_one_factor) == (100_00, 1000_00)
    world.clock.advance(days=1)
    world.run(payments_qr.pay_qr, alice, payload, PASSWORD, cny(500))


def test_order_qr_pays_once_and_rejects_replays_forgeries_and_expiry(world: World) -> None:
    alice, shop = world.user(ALICE), world.merchant()
    world.fund(alice, cny(1000))
    order = world.run(payments_qr.create_order_qr, shop, cny(88), timedelta(minutes=5))
    paid = world.run(payments_qr.pay_qr, alice, order.payload, PASSWORD)
    assert (paid.row.status, paid.row.amount, paid.row.order_id) == (
        "succeeded",
        88_00,
        order.row.id,
    )
    assert world.run(payments_qr.get_order, order.row.id).row.status == "paid"
    world.refused("qr_already_used", payments_qr.pay_qr, alice, order.payload, PASSWORD)
    other = world.run(payments_qr.create_order_qr, shop, cny(1), timedelta(minutes=5))
    prefix, _body, sig = other.payload.split(".")
    world.refused(
        "qr_signature_invalid",
        payments_qr.pay_qr,
        alice,
        f"{prefix}.{order.payload.split('.')[1]}.{sig}",
        PASSWORD,
    )
    world.refused("qr_signature_invalid", payments_qr.pay_qr, alice, "GPQ1.e30.AAAA", PASSWORD)
    world.refused("amount_mismatch", payments_qr.pay_qr, alice, other.payload, PASSWORD, cny(2))
    world.clock.advance(minutes=5)
    world.refused("qr_expired", payments_qr.pay_qr, alice, other.payload, PASSWORD)
    events = world.audit("security.qr_rejected")
    assert [o for _, o in events] == [
        "qr_already_used",
        "qr_signature_invalid",
        "qr_signature_invalid",
        "qr_expired",
    ]
    assert {s for s, _ in events} == {alice}


def test_order_paid_after_a_step_up_is_claimed_then(world: World) -> None:
    alice, bob, shop = world.user(ALICE), world.user(BOB), world.merchant()
    world.fund(alice, cny(10))
    world.fund(bob, cny(10))
    order = world.run(payments_qr.create_order_qr, shop, cny(5), timedelta(minutes=5))
    waiting = world.run(payments_qr.pay_qr, alice, order.payload, Authorization())
    assert waiting.row.status == "requires_action"
    world.run(payments_qr.pay_qr, bob, order.payload, PASSWORD)  # bob pays it first
    challenge = str(waiting.next_action["challenge_id"])  # type: ignore[index]
    world.run(auth.send_sms_code, challenge, world.sms)
    world.run(auth.pass_step_up, challenge, "sms", code=world.sms.last_code("+86" + ALICE))
    world.refused(
        "qr_already_used", payments.confirm_payment, alice, waiting.row.id, Authorization()
    )
    assert world.balance("user", alice) == 10_00


def test_payment_code_collects_once_within_60_seconds(world: World) -> None:
    alice, shop = world.user(ALICE), world.merchant()
    world.fund(alice, cny(100))
    issued = world.run(payments_codes.generate_payment_code, alice, "dev_a", PASSWORD)
    assert len(issued.code) == 18
    assert issued.code.startswith("28")
    again = world.run(payments_codes.generate_payment_code, alice, "dev_a", PASSWORD)
    assert again.code != issued.code  # same half minute: the next counter
    paid = world.run(payments_codes.collect, shop, issued.code, cny(10))
    assert (paid.row.kind, paid.row.payer_id, paid.row.fee) == ("payment_code", alice, 6)
    world.refused("payment_code_used", payments_codes.collect, shop, issued.code, cny(10))
    world.clock.advance(seconds=60)
    world.refused("payment_code_expired", payments_codes.collect, shop, again.code, cny(10))
    world.refused("payment_code_invalid", payments_codes.collect, shop, "28" + "1" * 16, cny(1))
    world.refused("payment_code_invalid", payments_codes.collect, shop, "hello", cny(1))
    outcomes = [o for _, o in world.audit("security.payment_code_rejected")]
    assert outcomes == [
        "payment_code_used",
        "payment_code_expired",
        "payment_code_invalid",
        "payment_code_invalid",
    ]
    assert world.balance("merchant", shop, SETTLEMENT) == 10_00 - 6


def test_payment_code_needs_a_factor_and_funds(world: World) -> None:
    alice, shop = world.user(ALICE), world.merchant()
    world.refused(
        "step_up_required", payments_codes.generate_payment_code, alice, "dev_a", Authorization()
    )
    issued = world.run(payments_codes.generate_payment_code, alice, "dev_a", PASSWORD)
    world.refused("insufficient_funds", payments_codes.collect, shop, issued.code, cny(1))
    world.fund(alice, cny(5))
    # A code is shown once: the refused attempt used it (and is on record as failed).
    world.refused("payment_code_used", payments_codes.collect, shop, issued.code, cny(1))
    fresh = world.run(payments_codes.generate_payment_code, alice, "dev_a", PASSWORD)
    assert world.run(payments_codes.collect, shop, fresh.code, cny(1)).row.status == "succeeded"


def test_dynamic_limits_by_factor_count(world: World) -> None:
    alice, shop = world.user(ALICE), world.merchant()
    world.fund(alice, cny(10_000))
    for amount in (600, 400):
        order = world.run(payments_qr.create_order_qr, shop, cny(amount))
        world.run(payments_qr.pay_qr, alice, order.payload, PASSWORD)
    order = world.run(payments_qr.create_order_qr, shop, cny(1))
    world.refused("limit_exceeded", payments_qr.pay_qr, alice, order.payload, PASSWORD)
    left = world.run(payments_limits.allowance, alice)
    assert (left.dynamic_qr_one_factor, left.dynamic_qr_two_factors) == (0, 4000_00)


def test_a_merchant_payment_is_announced_through_the_outbox_once_it_commits(
    world: World,
) -> None:
    from guardpay.storage.outbox import OutboxRepository

    alice, shop = world.user(ALICE), world.merchant()
    world.fund(alice, cny(1000))
    payload = world.run(payments_qr.static_payload, shop)
    paid = world.run(payments_qr.pay_qr, alice, payload, PASSWORD, cny(10))
    world.refused("limit_exceeded", payments_qr.pay_qr, alice, payload, PASSWORD, cny(5000))
    events = world.run(lambda ctx: OutboxRepository(ctx.uow.conn).events_of(shop))
    assert [(e.sequence, e.event_type) for e in events] == [(1, "payment.succeeded")]
    assert f'"payment_id":"{paid.row.id}"' in events[0].payload
    assert '"amount":1000' in events[0].payload
    assert ALICE not in events[0].payload
    assert alice not in events[0].payload


def test_rotating_the_qr_key_keeps_issued_codes_valid(world: World) -> None:
    alice, shop = world.user(ALICE), world.merchant()
    world.fund(alice, cny(100))
    printed = world.run(payments_qr.static_payload, shop)
    waiting = world.run(payments_qr.create_order_qr, shop, cny(3))
    assert world.run(payments_qr.rotate_key) == 2
    assert world.run(payments_qr.rotate_key) == 3
    reprinted = world.run(payments_qr.static_payload, shop)
    assert reprinted != printed  # signed under version 3 now ...
    for payload, amount in ((printed, cny(1)), (reprinted, cny(2))):  # ... both are ours
        paid = world.run(payments_qr.pay_qr, alice, payload, PASSWORD, amount)
        assert paid.row.status == "succeeded"
    shown_before = world.run(payments_qr.pay_qr, alice, waiting.payload, PASSWORD)
    assert shown_before.row.status == "succeeded"  # an order shown before still pays
    assert world.audit("security.qr_key_rotated") == [("platform:qr", "ok")] * 2


def test_a_code_on_screen_is_refreshed_then_asks_again(world: World) -> None:
    """The screen keeps its code until its last 20 seconds, then gets a fresh one with the
    same factors (the old one retired: a till scanning it is refused), until five minutes
    after the password; a till's payment shows as paid."""
    alice, bob, shop = world.user(ALICE), world.user(BOB), world.merchant()
    world.fund(alice, cny(100))
    first = world.run(payments_codes.generate_payment_code, alice, "dev_a", PASSWORD)
    on_screen = payments_codes.code_on_screen
    same = world.run(on_screen, alice, "dev_a", first.code)
    assert (same.shown, same.code) == (payments_codes.Shown.LIVE, first)
    world.refused("payment_code_unknown", on_screen, bob, "dev_a", first.code)
    world.refused("payment_code_unknown", on_screen, alice, "dev_b", first.code)
    world.clock.advance(seconds=41)
    fresh = world.run(on_screen, alice, "dev_a", first.code).code
    assert fresh is not None
    assert fresh.code != first.code
    assert fresh.expires_at == world.clock() + timedelta(seconds=60)
    world.refused("payment_code_expired", payments_codes.collect, shop, first.code, cny(1))
    assert world.run(on_screen, alice, "dev_a", first.code).shown == payments_codes.Shown.AGAIN
    code = fresh.code
    for _ in range(6):  # refreshed every 40 s up to 5 min after the password
        world.clock.advance(seconds=40)
        shown = world.run(on_screen, alice, "dev_a", code)
        assert shown.code is not None
        code = shown.code.code
    world.clock.advance(seconds=40)
    assert world.run(on_screen, alice, "dev_a", code).shown == payments_codes.Shown.AGAIN
    again = world.run(payments_codes.generate_payment_code, alice, "dev_a", PASSWORD)
    paid = world.run(payments_codes.collect, shop, again.code, cny(2))
    seen = world.run(on_screen, alice, "dev_a", again.code)
    assert (seen.shown, seen.payment_id) == (payments_codes.Shown.TAKEN, paid.row.id)
    assert paid.row.factors == 1
