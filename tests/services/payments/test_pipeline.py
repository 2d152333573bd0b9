"""The payment pipeline's steps, each written once with the kind as a parameter, on
SQLite and PostgreSQL: authentication waits or refuses by kind, the ledger step words a
refusal in the kind's terms and applies nothing, and a debit records the payment the
limits count."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from guardpay.domain.ledger.chart import TransferCode
from guardpay.domain.ledger.model import Transfer
from guardpay.domain.money import Money
from guardpay.errors import StepUpRequired
from guardpay.security import passwords
from guardpay.services.ledger import wallets
from guardpay.services.payments import pipeline
from guardpay.services.payments.pipeline import Authorization, Kind
from guardpay.services.platform.context import Context
from guardpay.services.risk.screening import Subject
from guardpay.storage.engine.db import Database
from tests.services.payments.test_core import ALICE, BOB, PASSWORD, World, cny
from tests.services.risk.fixtures import quiet_risk


@pytest.fixture
def world(db: Database) -> Iterator[World]:
    with passwords.using(passwords.CHEAP):
        yield World(db, risk=quiet_risk())


def _challenges(world: World) -> int:
    with world.db.read() as conn:
        return int(conn.execute(text("SELECT count(*) FROM auth_challenges")).scalar_one())


@pytest.mark.parametrize("kind", [pipeline.P2P_KIND, pipeline.CODE])
def test_a_waiting_kind_without_factors_goes_on_with_none(world: World, kind: Kind) -> None:
    alice = world.user(ALICE)
    assert world.run(pipeline.authenticate, kind, alice, Authorization()) == 0
    assert _challenges(world) == 0  # the caller records requires_action and begins it


@pytest.mark.parametrize(
    ("kind", "says"),
    [(pipeline.ESCROW, "this payment"), (pipeline.RED_PACKET, "this red packet")],
)
def test_a_kind_that_cannot_wait_begins_a_step_up_and_keeps_it(
    world: World, kind: Kind, says: str
) -> None:
    alice = world.user(ALICE)
    with pytest.raises(StepUpRequired) as refused:
        world.run(pipeline.authenticate, kind, alice, Authorization())
    assert says in refused.value.message
    assert _challenges(world) == 1  # committed with the refusal, for the client to pass


def test_factors_count_the_password_and_possession(world: World) -> None:
    alice = world.user(ALICE)
    assert world.run(pipeline.authenticate, pipeline.ESCROW, alice, PASSWORD) == 1


def _overdraw(ctx: Context, kind: Kind, payer: str, payee: str) -> None:
    """10 yuan from a wallet holding 5: the kind's shortfall refusal."""
    source = wallets.wallet(ctx, "user", payer, "CNY")
    target = wallets.wallet(ctx, "user", payee, "CNY")
    move = Transfer(7_001, source, target, 10_00, ledger=156, code=TransferCode.P2P)
    pipeline.move(ctx, kind, [move])


@pytest.mark.parametrize(
    ("kind", "code", "says"),
    [
        (pipeline.P2P_KIND, "insufficient_funds", "not enough for this payment"),
        (pipeline.ESCROW, "insufficient_funds", "not enough for this trade"),
        (pipeline.RED_PACKET, "insufficient_funds", "not enough for this red packet"),
        (pipeline.REFUND, "merchant_balance_insufficient", "cannot cover this refund"),
        (pipeline.FUNDING_REQUEST, "insufficient_funds", "available balance is too low"),
        (pipeline.FUNDING_CALLBACK, "exceeds_credits", "refused the funding"),
    ],
)
def test_the_ledger_step_refuses_in_the_kinds_words_and_moves_nothing(
    world: World, kind: Kind, code: str, says: str
) -> None:
    alice, bob = world.user(ALICE), world.user(BOB)
    world.fund(alice, cny(5))
    world.refused(code, _overdraw, kind, alice, bob)
    assert world.balance("user", alice) == 5_00
    with pytest.raises(Exception, match=says):
        world.run(_overdraw, kind, alice, bob)


def test_a_debit_records_the_succeeded_payment_the_limits_count(world: World) -> None:
    alice = world.user(ALICE)
    world.fund(alice, cny(50))
    risk = Subject("red_packet", "red_packet", 20_00, "CNY")
    debit = pipeline.Debit(
        pipeline.RED_PACKET, alice, ("red_packet", "rp_x"), Money(20_00, "CNY"), PASSWORD, risk
    )
    row = world.run(pipeline.debit, debit)
    assert (row.kind, row.status, row.factors, row.payee_id) == (
        "red_packet",
        "succeeded",
        1,
        "rp_x",
    )
    assert world.balance("user", alice) == 50_00  # the caller moves the money (`move`)
    with world.db.read() as conn:
        stored = conn.execute(
            text("SELECT status, amount FROM payments WHERE id = :i"), {"i": row.id}
        ).one()
    assert tuple(stored) == ("succeeded", 20_00)


def test_every_payment_kind_has_one_kind_in_the_pipeline() -> None:
    names = {"p2p", "qr_static", "qr_order", "payment_code", "escrow", "red_packet"}
    assert set(pipeline.KINDS) == names
    assert all(pipeline.KINDS[n].name == n for n in names)
    assert {n for n, k in pipeline.KINDS.items() if k.waits} == names - {"escrow", "red_packet"}
