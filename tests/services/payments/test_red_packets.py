"""Red packets on SQLite and PostgreSQL: funding from the sender's wallet into the
packet's holding account, one claim per user, refusals that change no balance, expiry
returning the rest, one winner for the last share; the holding account ends at zero and
the ledger verifies clean after every test."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.money import Money
from guardpay.domain.payments.red_packets import Split
from guardpay.errors import GuardpayError
from guardpay.security import passwords
from guardpay.services.ledger import books as ledger
from guardpay.services.payments import limits as payments_limits
from guardpay.services.payments import red_packets as rp
from guardpay.services.payments.pipeline import Authorization
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only
from tests.services.payments.test_core import ALICE, BOB, PASSWORD, World, cny

CAROL, DAVE = "13700001111", "13600002222"


@pytest.fixture
def world(db: Database) -> Iterator[World]:
    """A world on this backend; afterwards the ledger must verify clean."""
    with passwords.using(passwords.CHEAP):
        yield World(db)
    with read_only(db) as uow:
        report = ledger.verify(uow)
    assert report.ok, report.problems


def _packet(
    world: World,
    sender: str,
    amount: int,
    shares: int,
    mode: Split = Split.FIXED,
    expires_in: timedelta = rp.DEFAULT_TTL,
) -> rp.RedPacket:
    new = rp.NewPacket(Money(amount, "CNY"), shares, mode, expires_in)
    return world.run(rp.create_red_packet, sender, new, PASSWORD, rng=random.Random(3))


def _held(world: World, packet_id: str) -> int:
    return world.balance(rp.KIND, packet_id, AccountCode.RED_PACKET_HOLDING)


def test_create_and_claim_everything(world: World) -> None:
    alice, bob, carol = world.user(ALICE), world.user(BOB), world.user(CAROL)
    world.fund(alice, cny(100))
    packet = _packet(world, alice, 10_00, 3)
    assert [s.amount for s in packet.shares] == [3_34, 3_33, 3_33]
    assert (world.balance("user", alice), _held(world, packet.row.id)) == (90_00, 10_00)
    assert world.run(rp.claim_red_packet, bob, packet.row.id).amount == 3_34
    world.refused("red_packet_already_claimed", rp.claim_red_packet, bob, packet.row.id)
    world.run(rp.claim_red_packet, carol, packet.row.id)
    world.run(rp.claim_red_packet, alice, packet.row.id)  # the sender may take a share too
    world.refused("red_packet_empty", rp.claim_red_packet, world.user(DAVE), packet.row.id)
    assert world.balance("user", bob) + world.balance("user", carol) == 6_67
    assert world.balance("user", alice) == 93_33
    assert _held(world, packet.row.id) == 0
    seen = world.run(rp.get_red_packet, packet.row.id)
    assert (seen.row.status, seen.remaining_shares, seen.remaining_amount) == ("empty", 0, 0)
    assert len(world.audit("red_packet.claimed")) == 3
    assert world.audit("red_packet.created") == [(packet.row.id, "ok")]


def test_random_split_is_exact(world: World) -> None:
    alice = world.user(ALICE)
    world.fund(alice, cny(100))
    packet = _packet(world, alice, 50_00, 7, Split.RANDOM)
    assert sum(s.amount for s in packet.shares) == 50_00
    assert min(s.amount for s in packet.shares) >= 1


def test_expiry_returns_the_rest_to_the_sender(world: World) -> None:
    alice, bob = world.user(ALICE), world.user(BOB)
    world.fund(alice, cny(100))
    packet = _packet(world, alice, 10_00, 4, expires_in=timedelta(hours=1))
    world.run(rp.claim_red_packet, bob, packet.row.id)
    assert world.run(rp.expire_red_packets) == []  # not yet
    world.clock.advance(hours=1)
    world.refused("red_packet_expired", rp.claim_red_packet, world.user(CAROL), packet.row.id)
    assert world.run(rp.expire_red_packets, world.clock()) == [packet.row.id]
    assert world.run(rp.expire_red_packets) == []  # once
    assert (world.balance("user", alice), world.balance("user", bob)) == (97_50, 2_50)
    assert _held(world, packet.row.id) == 0
    seen = world.run(rp.get_red_packet, packet.row.id)
    assert (seen.row.status, seen.row.refunded, seen.remaining_amount) == ("expired", 7_50, 0)
    assert world.audit("red_packet.expired") == [(packet.row.id, "ok")]


def test_refusals_change_no_balance(world: World) -> None:
    alice, bob = world.user(ALICE), world.user(BOB, "unverified")
    world.fund(alice, cny(10))
    new = rp.NewPacket(cny(5), 3)
    world.refused(
        "invalid_payment_password",
        rp.create_red_packet,
        alice,
        new,
        Authorization(payment_password="000000"),
    )
    world.refused("account_not_verified", rp.create_red_packet, bob, new, PASSWORD)
    world.refused(
        "insufficient_funds", rp.create_red_packet, alice, rp.NewPacket(cny(11), 3), PASSWORD
    )
    world.refused(
        "invalid_red_packet",
        rp.create_red_packet,
        alice,
        rp.NewPacket(Money(2, "CNY"), 3),
        PASSWORD,
    )
    world.refused(
        "invalid_red_packet",
        rp.create_red_packet,
        alice,
        rp.NewPacket(cny(5), 3, expires_in=timedelta(days=8)),
        PASSWORD,
    )
    world.refused("red_packet_not_found", rp.claim_red_packet, alice, "rp_nope")
    with pytest.raises(GuardpayError) as caught:
        world.run(rp.create_red_packet, alice, new, Authorization())
    assert caught.value.code == "step_up_required"
    assert world.balance("user", alice) == 10_00


def test_counts_against_the_balance_payment_limit(world: World) -> None:
    alice = world.user(ALICE, "I")  # class I: ¥1,000 of balance payments in all
    world.fund(alice, cny(2000))
    before = world.run(payments_limits.allowance, alice).balance_payments
    _packet(world, alice, 300_00, 2)
    assert world.run(payments_limits.allowance, alice).balance_payments == before - 300_00
    world.refused(
        "limit_exceeded",
        rp.create_red_packet,
        alice,
        rp.NewPacket(Money(before - 300_00 + 1, "CNY"), 2),
        PASSWORD,
    )


def test_two_claimers_race_for_the_last_share(world: World) -> None:
    alice, bob, carol = world.user(ALICE), world.user(BOB), world.user(CAROL)
    world.fund(alice, cny(10))
    packet = _packet(world, alice, 1_00, 1)
    start, outcomes = threading.Barrier(2), list[str]()

    def claim(user: str) -> None:
        start.wait()
        try:
            world.run(rp.claim_red_packet, user, packet.row.id)
            outcomes.append("ok")
        except GuardpayError as e:
            outcomes.append(e.code)

    threads = [threading.Thread(target=claim, args=(u,)) for u in (bob, carol)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "red_packet_empty"]
    assert world.balance("user", bob) + world.balance("user", carol) == 1_00
    assert _held(world, packet.row.id) == 0
