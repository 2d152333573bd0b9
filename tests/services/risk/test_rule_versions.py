"""Rule-set versions on both backends: each rule set is kept the first time it decides
(once, whichever worker; after the decision commits, in a unit of its own), and a kept
version is compared with the active set: what changed in the file, and both replayed
over the same decisions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, TypeVar

import pytest

from guardpay.api.app import rule_set_keeper
from guardpay.domain.risk.rules import load_default_rule_set, load_rule_set
from guardpay.security import passwords
from guardpay.services.auth.operators import create_operator
from guardpay.services.payments import core as payments
from guardpay.services.platform.context import Actor, Context
from guardpay.services.risk import rule_versions
from guardpay.services.risk.engine import RuleSource
from guardpay.storage.engine.db import Database
from guardpay.storage.risk import RuleSetRow
from tests.services.payments.test_core import ALICE, BOB, PASSWORD, World, cny

T = TypeVar("T")
#: the packaged rules, with the large-transfer rule made a shadow rule
SHADOWED = "    when: kind == 'transfer' and payee_new and amount >= 500_000\n"


@pytest.fixture
def world(db: Database) -> Iterator[World]:
    """With the app's keeper: a rule set is kept in a unit of its own, after the decision."""
    with passwords.using(passwords.CHEAP):
        made = World(db)
        made.risk.keep_rule_set = rule_set_keeper(db)
        yield made


def operator(world: World, name: str, role: str) -> Actor:
    def make(ctx: Context) -> str:
        return create_operator(ctx, name, role, "Console-pass-7").id

    return Actor("operator", world.run(make))


def as_operator(world: World, actor: Actor, fn: Callable[..., T], *args: Any) -> T:
    world.actor = actor
    try:
        return world.run(fn, *args)
    finally:
        world.actor = Actor()


def candidate() -> str:
    text = load_default_rule_set().text
    assert SHADOWED in text
    bumped = text.replace("version: 1\n", "version: 2\n", 1)
    return bumped.replace(SHADOWED, SHADOWED + "    shadow: true\n", 1)


def test_each_rule_set_is_kept_once_and_compared_with_the_active_one(world: World) -> None:
    alice, bob, ana = world.user(ALICE), world.user(BOB), operator(world, "ana", "analyst")
    world.fund(alice, cny(20_000))
    for amount in (6_000, 10):  # two decisions under the packaged rules: one version kept
        world.run(payments.p2p_transfer, alice, bob, cny(amount), PASSWORD)
    packaged = load_default_rule_set()
    assert [v.digest for v in as_operator(world, ana, rule_versions.versions)] == [packaged.digest]

    newer = load_rule_set(candidate(), source="candidate.yaml")
    world.risk.rules = RuleSource.fixed(newer)
    world.clock.advance(minutes=1)
    world.run(payments.p2p_transfer, alice, bob, cny(6_000), PASSWORD)
    kept = as_operator(world, ana, rule_versions.versions)
    assert [v.label for v in kept] == [newer.label, packaged.label]  # newest first
    assert kept[0].text == newer.text

    side = as_operator(world, ana, rule_versions.compare_with_active, packaged.digest)
    assert (side.active.digest, side.other.digest) == (newer.digest, packaged.digest)
    assert side.results[0].decisions == side.results[1].decisions == 3
    changed = [line for line in side.diff if line.startswith(("+", "-"))]
    assert "+    shadow: true" in changed
    assert "+version: 2" in changed
    [(_, mine, theirs)] = [r for r in side.rules if r[0] == "large_transfer_new_payee"]
    assert mine.rule is not None
    assert theirs.rule is not None
    assert (mine.rule.shadow, theirs.rule.shadow) == (True, False)
    assert mine.stats is not None
    assert theirs.stats is not None
    assert mine.stats.hits == theirs.stats.hits == 1  # the first ¥6,000, to a new payee
    assert side.results[0].actions != side.results[1].actions  # shadowed, it holds nothing


def test_a_version_is_kept_once_even_by_a_fresh_process(world: World) -> None:
    alice, bob, ana = world.user(ALICE), world.user(BOB), operator(world, "ana", "analyst")
    world.fund(alice, cny(100))
    world.run(payments.p2p_transfer, alice, bob, cny(1), PASSWORD)
    world.risk = replace(world.risk, _kept_rule_sets=set())  # another worker, same rules
    world.run(payments.p2p_transfer, alice, bob, cny(1), PASSWORD)
    assert len(as_operator(world, ana, rule_versions.versions)) == 1


def test_comparing_is_an_analysts_and_needs_a_kept_version(world: World) -> None:
    vera, ana = operator(world, "vera", "viewer"), operator(world, "ana", "analyst")
    assert as_operator(world, vera, rule_versions.versions) == []
    world.actor = vera
    world.refused("insufficient_role", rule_versions.compare_with_active, "0" * 64)
    world.actor = ana
    world.refused("rule_set_not_found", rule_versions.compare_with_active, "0" * 64)


def test_a_failure_to_keep_a_rule_set_costs_no_payment(world: World) -> None:
    """The keeper fails (the database refused): the payment stands, and the next decision
    tries again."""
    alice, bob, ana = world.user(ALICE), world.user(BOB), operator(world, "ana", "analyst")
    world.fund(alice, cny(100))
    keeper, calls = world.risk.keep_rule_set, []

    def failing(row: RuleSetRow) -> None:
        calls.append(row.digest)
        raise RuntimeError("database unavailable")

    world.risk.keep_rule_set = failing
    paid = world.run(payments.p2p_transfer, alice, bob, cny(1), PASSWORD)
    assert paid.row.status == "succeeded"
    assert as_operator(world, ana, rule_versions.versions) == []
    world.risk.keep_rule_set = keeper
    world.run(payments.p2p_transfer, alice, bob, cny(1), PASSWORD)
    assert len(calls) == 1
    assert len(as_operator(world, ana, rule_versions.versions)) == 1
