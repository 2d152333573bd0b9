"""The periodic jobs: the scheduler runs each when its interval has passed, in its own
transaction, and one job failing neither rolls back nor stops the others."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from guardpay.domain.money import Money
from guardpay.domain.payments.red_packets import Split
from guardpay.security import passwords
from guardpay.services.jobs import scheduler as jobs
from guardpay.services.payments import escrow, red_packets
from guardpay.services.platform.context import Context
from guardpay.storage.engine.db import Database
from guardpay.storage.idempotency import IdempotencyRepository
from tests.services.payments.test_core import ALICE, PASSWORD, World, cny


@pytest.fixture
def world(db: Database) -> Iterator[World]:
    with passwords.using(passwords.CHEAP):
        yield World(db)


def _due_work(world: World) -> tuple[str, str]:
    """A trade shipped 11 days ago, a red packet past its expiry, a 2-day-old key."""
    buyer, shop = world.user(ALICE), world.merchant()
    world.fund(buyer, cny(500))
    trade = world.run(escrow.pay_into_escrow, buyer, escrow.NewTrade(shop, cny(100)), PASSWORD)
    world.run(escrow.mark_shipped, trade.id)
    new = red_packets.NewPacket(Money(3_00, "CNY"), 3, Split.FIXED, timedelta(hours=24))
    packet = world.run(red_packets.create_red_packet, buyer, new, PASSWORD)
    world.run(
        lambda ctx: IdempotencyRepository(ctx.uow.conn).claim(
            "user:x", "k1", "POST /v1/x", "0" * 64, ctx.now()
        )
    )
    world.clock.advance(days=11)
    return trade.id, packet.row.id


def test_the_scheduler_runs_every_due_job_once_per_interval(world: World) -> None:
    trade_id, packet_id = _due_work(world)
    scheduler = jobs.Scheduler(world.db, world.keyring, world.clock)
    # one release, one expiry, one purged key, and the due day's large-value report
    assert scheduler.run_once() == 4
    assert world.run(escrow.get_trade, trade_id).status == "released"
    assert world.run(red_packets.get_red_packet, packet_id).row.status != "open"
    assert world.run(lambda ctx: IdempotencyRepository(ctx.uow.conn).find("user:x", "k1")) is None
    assert scheduler.run_once() == 0
    assert set(scheduler.last) == {j.name for j in jobs.JOBS if j.in_serve}
    assert "aml_monitor" not in scheduler.last  # a scan of the graph runs from cron


def test_a_failing_job_is_logged_and_the_others_still_run(world: World) -> None:
    trade_id, _ = _due_work(world)
    calls: list[str] = []

    def explode(ctx: Context) -> int:
        calls.append("boom")
        raise RuntimeError("disk on fire")

    jobs.register(jobs.Job("zz_explode", timedelta(seconds=1), explode, "fails"))
    try:
        with pytest.raises(ValueError, match="already registered"):
            jobs.register(jobs.Job("zz_explode", timedelta(seconds=1), explode, "again"))
        assert jobs.Scheduler(world.db, world.keyring, world.clock).run_once() == 4
        assert calls == ["boom"]
        assert world.run(escrow.get_trade, trade_id).status == "released"
    finally:
        jobs.JOBS.remove(jobs.by_name("zz_explode"))
