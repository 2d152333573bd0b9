"""Escrow on SQLite and PostgreSQL: buyer wallet -> the trade's holding account ->
merchant settlement minus the fee (or back to the buyer in full); auto-confirm on an
injected clock; a dispute freezing the trade until a supervisor resolves it; every
refusal changing no balance; the holding account at zero once settled and the ledger
verifying clean after every test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from guardpay.api.deps import request_unit
from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.money import Money
from guardpay.errors import GuardpayError
from guardpay.security import passwords
from guardpay.services.auth.operators import create_operator
from guardpay.services.ledger import books as ledger
from guardpay.services.payments import escrow
from guardpay.services.payments.pipeline import Authorization
from guardpay.services.platform.context import Actor, Context
from guardpay.storage.engine.db import Database
from guardpay.storage.escrow import TradeRow
from guardpay.storage.outbox import OutboxRepository
from guardpay.storage.uow import read_only
from tests.services.payments.test_core import ALICE, BOB, PASSWORD, World, cny
from tests.services.risk.fixtures import quiet_risk

SETTLEMENT = AccountCode.MERCHANT_SETTLEMENT
PRICE, FEE = 1_000_00, 600  # 0.6 %


@pytest.fixture
def world(db: Database) -> Iterator[World]:
    """A world on this backend; afterwards the ledger must verify clean."""
    with passwords.using(passwords.CHEAP):
        yield World(db, risk=quiet_risk())  # escrow mechanics, not risk (risk_fixtures.py)
    with read_only(db) as uow:
        report = ledger.verify(uow)
    assert report.ok, report.problems


def _as(world: World, actor: Actor, fn: Callable[..., Any], *args: Any) -> Any:
    with request_unit(world.db) as uow:
        return fn(Context(uow, world.keyring, actor, world.clock), *args)


def _operator(world: World, name: str, role: str) -> Actor:
    made = world.run(create_operator, name, role, "Kept-in-a-vault-42")
    return Actor("operator", made.id)


def _trade(world: World, amount: int = PRICE) -> tuple[str, str, TradeRow]:
    """A funded buyer who paid a merchant into escrow: (buyer, merchant, trade)."""
    buyer, shop = world.user(ALICE), world.merchant()
    world.fund(buyer, cny(2000))
    new = escrow.NewTrade(shop, Money(amount, "CNY"), "a bicycle")
    return buyer, shop, world.run(escrow.pay_into_escrow, buyer, new, PASSWORD)


def _held(world: World, trade_id: str) -> int:
    return world.balance(escrow.KIND, trade_id, AccountCode.ESCROW)


def _events(world: World, merchant: str) -> list[str]:
    found = world.run(lambda ctx: OutboxRepository(ctx.uow.conn).events_of(merchant))
    return [e.event_type for e in found]


def test_pay_ship_confirm_releases_minus_fee(world: World) -> None:
    buyer, shop, trade = _trade(world)
    assert trade.status == "held"
    assert (world.balance("user", buyer), _held(world, trade.id)) == (2000_00 - PRICE, PRICE)
    world.refused("escrow_illegal_transition", escrow.confirm_receipt, buyer, trade.id)
    assert world.run(escrow.mark_shipped, trade.id).status == "shipped"
    done = world.run(escrow.confirm_receipt, buyer, trade.id)
    assert (done.status, done.fee, done.closed_at is not None) == ("released", FEE, True)
    assert world.balance("merchant", shop, SETTLEMENT) == PRICE - FEE
    assert _held(world, trade.id) == 0
    world.refused("escrow_illegal_transition", escrow.refund, trade.id)
    world.refused("escrow_illegal_transition", escrow.confirm_receipt, buyer, trade.id)
    assert _events(world, shop) == ["escrow.held", "escrow.released"]
    assert world.audit("escrow.shipped") == [(trade.id, "ok")]
    assert world.audit("escrow.released") == [(trade.id, "ok")]


def test_refusals_before_money_moves(world: World) -> None:
    buyer, shop = world.user(ALICE), world.merchant()
    world.fund(buyer, cny(10))
    new = escrow.NewTrade(shop, cny(11))
    world.refused("insufficient_funds", escrow.pay_into_escrow, buyer, new, PASSWORD)
    world.refused(
        "step_up_required",
        escrow.pay_into_escrow,
        buyer,
        escrow.NewTrade(shop, cny(1)),
        Authorization(),
    )
    world.refused(
        "resource_missing",
        escrow.pay_into_escrow,
        buyer,
        escrow.NewTrade("mch_nope", cny(1)),
        PASSWORD,
    )
    world.refused("escrow_not_found", escrow.mark_shipped, "esc_nope")


def test_only_the_buyer_confirms_or_disputes(world: World) -> None:
    _, _, trade = _trade(world)
    bob = world.user(BOB)
    world.run(escrow.mark_shipped, trade.id)
    world.refused("escrow_not_found", escrow.confirm_receipt, bob, trade.id)
    world.refused("escrow_not_found", escrow.open_dispute, bob, trade.id, "mine")


def test_auto_confirm_after_n_days(world: World) -> None:
    buyer, shop, trade = _trade(world)
    _, _, unshipped = _trade_for(world, buyer, shop)
    world.run(escrow.mark_shipped, trade.id)
    world.clock.advance(days=3)
    assert world.run(escrow.auto_confirm_due, world.clock(), 3) == []  # exactly 3 days
    world.clock.advance(seconds=1)
    assert world.run(escrow.auto_confirm_due, world.clock() - timedelta(seconds=2), 3) == []
    assert world.run(escrow.auto_confirm_due, world.clock(), 3) == [trade.id]
    assert world.run(escrow.auto_confirm_due, world.clock(), 3) == []  # once only
    assert world.run(escrow.get_trade, unshipped.id).status == "held"
    assert world.balance("merchant", shop, SETTLEMENT) == PRICE - FEE
    assert _held(world, trade.id) == 0


def test_default_auto_confirm_is_ten_days(world: World) -> None:
    _, _, trade = _trade(world)
    world.run(escrow.mark_shipped, trade.id)
    world.clock.advance(days=10)
    assert world.run(escrow.auto_confirm_due) == []
    world.clock.advance(minutes=1)
    assert world.run(escrow.auto_confirm_due) == [trade.id]


def _trade_for(world: World, buyer: str, shop: str) -> tuple[str, str, TradeRow]:
    new = escrow.NewTrade(shop, Money(PRICE, "CNY"))
    return buyer, shop, world.run(escrow.pay_into_escrow, buyer, new, PASSWORD)


@pytest.mark.parametrize("shipped", [False, True])
def test_refund_before_release_returns_everything(world: World, shipped: bool) -> None:
    buyer, shop, trade = _trade(world)
    if shipped:
        world.run(escrow.mark_shipped, trade.id)
    done = world.run(escrow.refund, trade.id, "out of stock")
    assert (done.status, done.fee) == ("refunded", 0)
    assert world.balance("user", buyer) == 2000_00
    assert (_held(world, trade.id), world.balance("merchant", shop, SETTLEMENT)) == (0, 0)
    world.refused("escrow_illegal_transition", escrow.mark_shipped, trade.id)
    world.refused("escrow_illegal_transition", escrow.open_dispute, buyer, trade.id, "late")
    assert _events(world, shop) == ["escrow.held", "escrow.refunded"]


@pytest.mark.parametrize("outcome", ["release", "refund"])
def test_dispute_freezes_until_a_supervisor_resolves(world: World, outcome: str) -> None:
    buyer, shop, trade = _trade(world)
    world.run(escrow.mark_shipped, trade.id)
    assert world.run(escrow.open_dispute, buyer, trade.id, "not as described").status == (
        "disputed"
    )
    world.clock.advance(days=30)
    world.refused("escrow_disputed", escrow.confirm_receipt, buyer, trade.id)
    world.refused("escrow_disputed", escrow.refund, trade.id)
    world.refused("escrow_disputed", escrow.open_dispute, buyer, trade.id, "again")
    assert world.run(escrow.auto_confirm_due) == []
    analyst, boss = _operator(world, "ana", "analyst"), _operator(world, "sam", "supervisor")
    before = world.balances()
    with pytest.raises(GuardpayError) as caught:
        _as(world, analyst, escrow.resolve_dispute, trade.id, outcome, "photos checked")
    assert caught.value.code == "insufficient_role"
    assert world.balances() == before
    done = _as(world, boss, escrow.resolve_dispute, trade.id, outcome, "photos checked")
    assert (done.resolved_by, done.resolution_reason) == (boss.id, "photos checked")
    paid_out = PRICE - FEE if outcome == "release" else 0
    assert world.balance("merchant", shop, SETTLEMENT) == paid_out
    assert world.balance("user", buyer) == 2000_00 - (PRICE if outcome == "release" else 0)
    assert _held(world, trade.id) == 0
    assert world.audit("escrow.resolved") == [(trade.id, "ok")]
    assert _events(world, shop) == [
        "escrow.held",
        "escrow.disputed",
        {"release": "escrow.released", "refund": "escrow.refunded"}[outcome],
    ]
    with pytest.raises(GuardpayError) as again:
        _as(world, boss, escrow.resolve_dispute, trade.id, outcome, "twice")
    assert again.value.code == "escrow_illegal_transition"
