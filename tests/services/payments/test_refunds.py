"""Refunds of merchant payments, on SQLite and PostgreSQL: full and partial, never past
what was paid (also under concurrent requests), idempotent per refund id, money back to
the payer's wallet with the fee returned pro rata, and the ledger verifies clean."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.model import Transfer
from guardpay.domain.money import Money
from guardpay.errors import GuardpayError
from guardpay.security import passwords
from guardpay.services.ledger import books as ledger
from guardpay.services.ledger import wallets
from guardpay.services.payments import qr as payments_qr
from guardpay.services.payments import refunds
from guardpay.services.payments.refunds import RefundRequest
from guardpay.services.platform.context import Context
from guardpay.storage.engine.db import Database
from guardpay.storage.outbox import OutboxRepository
from guardpay.storage.uow import read_only
from tests.services.payments.test_core import PASSWORD, World, cny

SETTLEMENT = AccountCode.MERCHANT_SETTLEMENT
PAID = 400_00  # within the static QR daily limit
FEE = 240  # 0.6 %


@pytest.fixture
def world(db: Database) -> Iterator[World]:
    """A world on this backend; afterwards the ledger must verify clean."""
    with passwords.using(passwords.CHEAP):
        yield World(db)
    with read_only(db) as uow:
        report = ledger.verify(uow)
    assert report.ok, report.problems


def _paid(world: World) -> tuple[str, str, str]:
    """A payer who paid a merchant PAID by static QR: (payer, merchant, payment id)."""
    alice, shop = world.user("13812345678"), world.merchant()
    world.fund(alice, cny(1000))
    payload = world.run(payments_qr.static_payload, shop)
    paid = world.run(payments_qr.pay_qr, alice, payload, PASSWORD, Money(PAID, "CNY"))
    assert (paid.row.status, paid.row.fee) == ("succeeded", FEE)
    return alice, shop, paid.row.id


def _ask(
    ctx: Context, payment_id: str, refund_id: str, amount: int, reason: str | None = None
) -> refunds.Refund:
    request = RefundRequest(refund_id, Money(amount, "CNY"), reason)
    return refunds.refund_payment(ctx, payment_id, request)


def _refund(
    world: World, payment_id: str, refund_id: str, amount: int, reason: str | None = None
) -> refunds.Refund:
    return world.run(_ask, payment_id, refund_id, amount, reason)


def test_full_refund_returns_amount_and_fee(world: World) -> None:
    alice, shop, pay_id = _paid(world)
    fees_before = world.run(_fee_revenue)
    done = _refund(world, pay_id, "r1", PAID, "customer returned it")
    assert (done.row.amount, done.row.fee_refunded) == (PAID, FEE)
    assert (done.refunded_amount, done.refund_status.value) == (PAID, "refunded")
    assert world.balance("user", alice) == cny(1000).amount
    assert world.balance("merchant", shop, SETTLEMENT) == 0
    assert world.run(_fee_revenue) == fees_before - FEE
    assert world.audit("payment.refunded") == [(done.row.id, "ok")]
    summary = world.run(refunds.list_refunds, pay_id)
    assert summary.payment.status == "succeeded"  # the payment keeps its final status
    events = world.run(lambda ctx: OutboxRepository(ctx.uow.conn).events_of(shop))
    assert [(e.sequence, e.event_type) for e in events] == [
        (1, "payment.succeeded"),
        (2, "refund.succeeded"),
    ]
    assert f'"refund_id":"{done.row.id}"' in events[1].payload


def test_partial_twice_then_over_refund_refused(world: World) -> None:
    alice, shop, pay_id = _paid(world)
    first = _refund(world, pay_id, "r1", 100_00)
    second = _refund(world, pay_id, "r2", 250_00)
    assert (first.row.fee_refunded, second.row.fee_refunded) == (60, 150)
    assert (second.refunded_amount, second.refund_status.value) == (350_00, "partially_refunded")
    assert world.balance("user", alice) == cny(1000).amount - 50_00
    assert world.balance("merchant", shop, SETTLEMENT) == PAID - FEE - 350_00 + 210
    world.refused("refund_exceeds_payment", _ask, pay_id, "r3", 50_01)
    last = _refund(world, pay_id, "r3", 50_00)
    assert first.row.fee_refunded + second.row.fee_refunded + last.row.fee_refunded == FEE
    assert world.balance("merchant", shop, SETTLEMENT) == 0
    summary = world.run(refunds.list_refunds, pay_id)
    assert [r.request_id for r in summary.refunds] == ["r1", "r2", "r3"]
    assert (summary.refunded_amount, summary.refund_status.value) == (PAID, "refunded")


def test_same_refund_id_replays_and_other_fields_are_refused(world: World) -> None:
    alice, _, pay_id = _paid(world)
    first = _refund(world, pay_id, "r1", 100_00, "late")
    before = world.balances()
    again = _refund(world, pay_id, "r1", 100_00, "late")
    assert (again.row, again.replayed, again.refunded_amount) == (first.row, True, 100_00)
    assert world.balances() == before
    world.refused("refund_id_reused", _ask, pay_id, "r1", 100_01, "late")
    world.refused("refund_id_reused", _ask, pay_id, "r1", 100_00, "other")
    assert world.balance("user", alice) == cny(1000).amount - PAID + 100_00
    assert len(world.audit("payment.refunded")) == 1


def test_refusals(world: World) -> None:
    _, shop, pay_id = _paid(world)
    world.refused("resource_missing", _ask, "pay_nope", "r1", 1)
    world.refused(
        "currency_mismatch", refunds.refund_payment, pay_id, RefundRequest("r1", Money(1, "USD"))
    )
    world.run(_drain, shop, PAID - FEE - 10_00)
    world.refused("merchant_balance_insufficient", _ask, pay_id, "r1", 20_00)
    assert _refund(world, pay_id, "r1", 10_00).row.fee_refunded == 6  # net 994 <= 1000


def test_p2p_payment_is_not_refundable(world: World) -> None:
    from guardpay.services.payments import core as payments

    alice, bob = world.user("13812345678"), world.user("13900139000")
    world.fund(alice, cny(10))
    paid = world.run(payments.p2p_transfer, alice, bob, cny(1), PASSWORD)
    world.refused("payment_not_refundable", _ask, paid.row.id, "r1", 1)


def test_concurrent_refunds_never_exceed_the_payment(world: World) -> None:
    alice, shop, pay_id = _paid(world)
    outcomes: list[str] = []

    def attempt(n: int) -> None:
        try:
            _refund(world, pay_id, f"r{n}", 100_00)
            outcomes.append("ok")
        except GuardpayError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] * 4 + ["refund_exceeds_payment"] * 3
    summary = world.run(refunds.list_refunds, pay_id)
    assert summary.refunded_amount == PAID
    assert sum(r.fee_refunded for r in summary.refunds) == FEE
    assert world.balance("user", alice) == cny(1000).amount
    assert world.balance("merchant", shop, SETTLEMENT) == 0


def _fee_revenue(ctx: Context) -> int:
    account = wallets.open_platform_accounts(ctx, "CNY")[AccountCode.FEE_REVENUE]
    return wallets.balance(ctx, account, "CNY").amount


def _drain(ctx: Context, merchant_id: str, amount: int) -> None:
    """A payout: the merchant's settlement -> the reserve (money left the platform)."""
    reserve = wallets.open_platform_accounts(ctx, "CNY")[AccountCode.RESERVE]
    merchant = wallets.wallet(ctx, "merchant", merchant_id, "CNY", SETTLEMENT)
    out = Transfer(77, merchant, reserve, amount, ledger=156, code=TransferCode.WITHDRAWAL)
    assert [r.value for r in ledger.execute(ctx.uow, [out])] == ["ok"]
