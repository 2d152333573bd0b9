"""Webhooks through the transactional outbox, on both backends: registration, gap-free
sequences, signed in-order delivery, retries with backoff, crashes and restarts."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from guardpay.errors import GuardpayError
from guardpay.services.webhooks import events as webhooks
from guardpay.services.webhooks.delivery import DeliveryThread, RetryPolicy
from guardpay.storage.engine.db import Database
from tests.services.webhooks.fixtures import URL, World


@pytest.fixture
def world(db: Database) -> World:
    return World(db)


class Crash(BaseException):
    """The process dies (not an error the worker could catch and record)."""


def test_registration_shows_the_secret_once_and_stores_it_sealed(world: World) -> None:
    secret = world.register()
    assert secret.startswith("whsec_")
    with world.db.read() as conn:
        [(url, stored)] = conn.execute(text("SELECT url, secret FROM webhook_endpoints")).all()
    assert url == URL
    assert secret not in stored
    assert stored.startswith("gpf1.")
    assert world.run(lambda ctx: webhooks.endpoint_url(ctx, world.merchant)) == URL
    for merchant, url, code in (
        ("mer_nothere", URL, "resource_missing"),
        (world.merchant, "ftp://x", "webhook_url_invalid"),
    ):
        with pytest.raises(GuardpayError) as refused:
            world.run(lambda ctx, m=merchant, u=url: webhooks.register_endpoint(ctx, m, u))
        assert refused.value.code == code


def test_sequences_are_gap_free_and_a_rollback_leaves_no_event(world: World) -> None:
    assert world.enqueue(2) == [1, 2]

    def change_then_crash() -> None:
        with world.ctx() as ctx:
            webhooks.enqueue(ctx, world.merchant, "payment.succeeded", {"n": 99})
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        change_then_crash()
    assert world.enqueue(1) == [3]
    assert [e.sequence for e in world.events()] == [1, 2, 3]


def test_concurrent_enqueues_get_distinct_consecutive_sequences(world: World) -> None:
    got: list[int] = []
    lock = threading.Lock()

    def producer() -> None:
        for _ in range(5):
            seqs = world.enqueue(1)
            with lock:
                got.extend(seqs)

    threads = [threading.Thread(target=producer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 21))
    assert [e.sequence for e in world.events()] == list(range(1, 21))


def test_events_are_delivered_signed_and_in_order(world: World) -> None:
    world.register()
    world.enqueue(3)
    assert world.worker().run_once() == 3
    assert [s for s, _ in world.receiver.seen] == [1, 2, 3]
    assert world.receiver.bad_signatures == 0
    assert all(e.delivered_at is not None for e in world.events())
    assert world.worker().run_once() == 0


def test_a_wrong_secret_is_detected_by_the_receiver(world: World) -> None:
    world.register()
    world.receiver.secret = "whsec_not-the-one"
    world.enqueue(1)
    assert world.worker().run_once() == 0
    assert world.receiver.bad_signatures == 1


def test_failures_retry_with_backoff_and_block_later_events(world: World) -> None:
    world.register()
    world.receiver.answers = [500, 503]
    world.enqueue(2)
    worker = world.worker()
    assert worker.run_once() == 0
    assert worker.run_once() == 0  # not due yet
    world.clock.advance(1.5)
    assert worker.run_once() == 0  # the second try: 503; delay now 2-4 s
    assert [s for s, _ in world.receiver.seen] == [1, 1]  # event 2 waited
    world.clock.advance(4)
    assert worker.run_once() == 2
    assert [s for s, _ in world.receiver.seen] == [1, 1, 1, 2]
    first, second = world.events()
    assert [a[1] for a in world.attempts(first.id)] == [500, 503, 200]
    assert [a[1] for a in world.attempts(second.id)] == [200]


def test_transport_failures_are_retried(world: World) -> None:
    world.register()

    class Down:
        def post(self, url: str, body: bytes, headers: object) -> int:
            raise ConnectionError("refused")

    world.enqueue(1)
    assert world.worker(Down()).run_once() == 0
    [event] = world.events()
    assert world.attempts(event.id) == [(1, None, "ConnectionError")]
    world.clock.advance(10)
    assert world.worker().run_once() == 1


def test_events_wait_for_an_endpoint(world: World) -> None:
    world.enqueue(1)
    assert world.worker().run_once() == 0
    world.register()
    world.clock.advance(10)
    assert world.worker().run_once() == 1


def test_a_restart_mid_delivery_redelivers_the_same_event(world: World) -> None:
    world.register()
    world.enqueue(2)

    def crash() -> None:
        raise Crash

    world.receiver.on_receive = crash  # received, but the worker dies before recording
    with pytest.raises(Crash):
        world.worker().run_once()
    world.receiver.on_receive = None
    restarted = world.worker()  # a new process on the same database
    assert restarted.run_once() == 0  # the dead worker's lease still holds
    world.clock.advance(31)
    assert restarted.run_once() == 2
    seen = world.receiver.seen
    assert [s for s, _ in seen] == [1, 1, 2]
    assert seen[0] == seen[1]  # a redelivery: same sequence, same event id
    assert len({event_id for _, event_id in seen}) == 2
    assert all(e.delivered_at is not None for e in world.events())


def test_the_backoff_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_seconds=5, cap_seconds=3600)
    rng = random.Random(1)
    for attempt, ceiling in ((1, 5), (2, 10), (5, 80), (12, 3600), (40, 3600)):
        for _ in range(20):
            delay = policy.delay(attempt, rng)
            assert timedelta(seconds=ceiling / 2) <= delay <= timedelta(seconds=ceiling)


def test_the_background_thread_delivers(world: World) -> None:
    world.register()
    world.enqueue(2)
    runner = DeliveryThread(world.worker(), interval=0.01)
    runner.start()
    try:
        for _ in range(500):
            if len(world.receiver.acked) == 2:
                break
            threading.Event().wait(0.01)
    finally:
        runner.stop()
    assert world.receiver.acked == [1, 2]


def test_a_post_that_outlives_its_lease_records_nothing(world: World) -> None:
    """A receiver trickling its answer past the lease: another worker takes the event
    over; the slow worker's late outcome must not overwrite the new lease or clash on
    the attempt number (the event is delivered again, and receivers dedupe)."""
    world.register()
    world.enqueue(1)
    late: list[bool] = []

    def slow_then_other_worker() -> None:
        world.receiver.on_receive = None
        world.clock.advance(61)  # the POST took longer than the 60 s lease
        assert world.worker().run_once() == 1  # a second worker delivers it meanwhile
        late.append(True)

    world.receiver.on_receive = slow_then_other_worker
    assert world.worker().run_once() == 0  # the late outcome is not counted
    assert late == [True]
    [event] = world.events()
    assert event.delivered_at is not None
    assert [a for a, _, _ in world.attempts(event.id)] == [1]  # one attempt on record
    assert [s for s, _ in world.receiver.seen] == [1, 1]  # delivered twice: at least once
