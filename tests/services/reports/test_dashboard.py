"""The console dashboard's numbers, on both backends: payments per minute of the last
hour (the minute buckets computed by each database), the success rate, the last day's
decisions by outcome and the amount stopped, and the reserve reconciled."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from guardpay.security import passwords
from guardpay.services.auth.operators import create_operator
from guardpay.services.reports import dashboard
from guardpay.storage.engine.db import Database
from tests.services.aml.test_monitor import paid
from tests.services.cases.test_cases import as_
from tests.services.payments.test_core import World

NOW = datetime(2026, 12, 4, 4, 30, 20, tzinfo=UTC)


@pytest.fixture
def world(db: Database) -> Iterator[World]:
    """As a viewer: the dashboard is any operator's."""
    with passwords.using(passwords.CHEAP):
        world = World(db)
        as_(world, world.run(create_operator, "vera", "viewer", "Kept-in-a-vault-42"))
        yield world


def test_the_last_hour_minute_by_minute(world: World) -> None:
    at = NOW.replace(second=0)
    paid(world.db, "usr_a", "usr_b", 1_00, at + timedelta(seconds=5))  # this minute
    paid(world.db, "usr_a", "usr_b", 1_00, at + timedelta(seconds=59))  # this minute too
    paid(world.db, "usr_a", "usr_b", 1_00, at - timedelta(seconds=1), status="failed")
    paid(world.db, "usr_a", "usr_b", 1_00, at - timedelta(minutes=59))  # the first minute
    paid(world.db, "usr_a", "usr_b", 1_00, at - timedelta(minutes=60))  # before the hour
    world.clock.at = NOW

    seen = world.run(dashboard.snapshot)

    assert len(seen.minutes) == 60
    assert (seen.minutes[0], seen.minutes[-1]) == (at - timedelta(minutes=59), at)
    assert (seen.succeeded[-1], seen.failed[-2], seen.succeeded[0]) == (2, 1, 1)
    assert (sum(seen.succeeded), sum(seen.failed)) == (3, 1)
    assert seen.success_rate == 0.75
    assert seen.reconciled


def test_nothing_yet_is_said_as_nothing(world: World) -> None:
    world.clock.at = NOW
    seen = world.run(dashboard.snapshot)
    assert (seen.success_rate, seen.stopped, seen.decisions) == (None, 0, {})
    assert (seen.alerts_raised, seen.cases_closed) == (0, 0)
