"""Delivered webhook events leave the outbox for archive files, with their attempts;
undelivered ones stay, whatever their age."""

from __future__ import annotations

from datetime import timedelta

import pytest

from guardpay.adapters.archive import MemoryStore
from guardpay.errors import ArchiveRefused
from guardpay.services.platform.archive_files import unpack
from guardpay.services.platform.audit import verify
from guardpay.services.webhooks.archive import (
    OUTBOX_ARCHIVE,
    archive_outbox,
    register_outbox_file,
    verify_outbox_archives,
    write_outbox_file,
)
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only
from tests.services.webhooks.fixtures import World


@pytest.fixture
def world(db: Database) -> World:
    return World(db)


def delivered_then_owed(world: World) -> None:
    """Three events delivered (the first after a failed attempt), then, a day later, one
    the merchant's server keeps refusing."""
    world.register()
    world.enqueue(3)
    world.receiver.answers = [500]
    assert world.worker().run_once() == 0  # the first fails; the others wait behind it
    world.clock.advance(60)
    assert world.worker().run_once() == 3
    world.clock.advance(86_400)
    world.receiver.answers = [500] * 10
    world.enqueue(1)
    assert world.worker().run_once() == 0


def test_delivered_events_are_archived_with_their_attempts(world: World) -> None:
    delivered_then_owed(world)
    store = MemoryStore()
    made = world.run(lambda ctx: archive_outbox(ctx, store, world.clock.at - timedelta(hours=1)))
    assert made is not None
    assert (made.events, made.attempts) == (3, 4)
    header, records = unpack(OUTBOX_ARCHIVE, store.get(made.name))
    assert header["events"] == 3
    assert [r["sequence"] for r in records] == [1, 2, 3]
    assert [a["status_code"] for a in records[0]["delivery_attempts"]] == [500, 200]
    assert all(r["delivered_at"] for r in records)
    left = world.events()
    assert [(e.sequence, e.delivered_at) for e in left] == [(4, None)]  # still owed
    with read_only(world.db) as uow:
        assert verify_outbox_archives(uow, store) == []
        assert verify(uow).ok  # the archive is an audited action
        assert uow.audit.for_subject(made.name)[0].action == "webhooks.archived"


def test_an_undelivered_event_is_never_archived_and_a_rerun_finds_nothing(world: World) -> None:
    delivered_then_owed(world)
    store = MemoryStore()
    much_later = world.clock.at + timedelta(days=400)
    assert world.run(lambda ctx: archive_outbox(ctx, store, much_later)) is not None
    assert world.run(lambda ctx: archive_outbox(ctx, store, much_later)) is None
    assert [e.sequence for e in world.events()] == [4]
    assert len(store.files) == 1


def test_a_run_writes_files_of_at_most_so_many_events(world: World) -> None:
    delivered_then_owed(world)
    store = MemoryStore()
    cutoff = world.clock.at
    names = [world.run(lambda ctx: archive_outbox(ctx, store, cutoff, most=2)) for _ in range(3)]
    assert [n.events if n else 0 for n in names] == [2, 1, 0]
    first, second, _ = names
    assert first is not None
    assert second is not None
    assert first.name != second.name


def test_a_missing_or_changed_file_is_reported(world: World) -> None:
    delivered_then_owed(world)
    store = MemoryStore()
    made = world.run(lambda ctx: archive_outbox(ctx, store, world.clock.at))
    assert made is not None
    store.files[made.name] = store.files[made.name][:-8] + b"\x00" * 8
    with read_only(world.db) as uow:
        [problem] = verify_outbox_archives(uow, store)
    assert made.name in problem
    assert "not the file that was archived" in problem
    del store.files[made.name]
    with read_only(world.db) as uow:
        [problem] = verify_outbox_archives(uow, store)
    assert "missing" in problem


def test_events_another_run_took_meanwhile_are_not_archived_twice(world: World) -> None:
    delivered_then_owed(world)
    store = MemoryStore()
    with read_only(world.db) as uow:
        made = write_outbox_file(uow, store, world.clock.at)
    assert made is not None
    assert world.run(lambda ctx: archive_outbox(ctx, store, world.clock.at)) is not None
    with pytest.raises(ArchiveRefused) as refused:
        world.run(lambda ctx: register_outbox_file(ctx, made))
    assert refused.value.code == "archive_raced"
    with read_only(world.db) as uow:
        assert len(uow.outbox.archives()) == 1
