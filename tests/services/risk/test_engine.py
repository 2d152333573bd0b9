"""The risk engine in the services: a model that cannot load leaves rules in charge and
raises the alert; an active model scores and explains; rule files reload without a
restart (a broken one keeps the last good set); a review that nobody decides times out
and gives the money back; the escrow gate refuses a block-listed user."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from guardpay.domain.risk.schema import NUMERIC_FEATURES
from guardpay.ml.train import TrainConfig, train_model
from guardpay.security import passwords
from guardpay.services.auth.operators import create_operator
from guardpay.services.jobs import scheduler as jobs
from guardpay.services.payments import core as payments
from guardpay.services.payments import escrow
from guardpay.services.platform.context import Actor
from guardpay.services.risk import lists as risk_lists
from guardpay.services.risk import models as risk_models
from guardpay.services.risk.engine import ModelSource, RiskEngine, RuleSource
from guardpay.storage.engine.db import Database
from guardpay.storage.risk import DecisionRow, RiskRepository
from tests.services.payments.test_core import ALICE, BOB, PASSWORD, World, cny

NIGHT = datetime(2026, 11, 21, 18, 30, tzinfo=UTC)  # 02:30 in Shanghai


@pytest.fixture
def world(db: Database) -> Iterator[World]:
    with passwords.using(passwords.CHEAP):
        yield World(db)


def _decision(world: World, subject_id: str) -> DecisionRow:
    found = world.run(lambda ctx: RiskRepository(ctx.uow.conn).decision_for(subject_id))
    assert found is not None
    return found


def _model_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    X = rng.random((400, len(NUMERIC_FEATURES)))
    amount = NUMERIC_FEATURES.index("amount")
    X[:, amount] = rng.integers(1, 10_000_00, 400)
    y = (X[:, amount] > 8_000_00).astype(np.int64)
    quick = TrainConfig(learning_rate=0.3, early_stopping_rounds=10)
    model = train_model(X, y, NUMERIC_FEATURES, seed=7, config=quick)
    return model.save(tmp_path / "model")


def _activate(world: World, version: str, path: Path) -> None:
    world.run(risk_models.register, version, path, {"pr_auc": 1.0})
    world.run(risk_models.activate, version)


def test_a_model_that_cannot_load_leaves_rules_in_charge(world: World, tmp_path: Path) -> None:
    alice, bob = world.user(ALICE), world.user(BOB)
    world.fund(alice, cny(100))
    _activate(world, "m-missing", tmp_path / "gone")
    paid = world.run(payments.p2p_transfer, alice, bob, cny(10), PASSWORD)
    assert paid.row.status == "succeeded"  # payments go on
    decision = _decision(world, paid.row.id)
    assert (decision.action, decision.model_version) == ("allow", None)
    assert world.risk.degraded  # the gauge guardpay_risk_model_degraded reads this
    assert world.audit("risk.model_unavailable") == [("m-missing", "degraded")]
    world.run(payments.p2p_transfer, alice, bob, cny(1), PASSWORD)
    assert len(world.audit("risk.model_unavailable")) == 1  # not once per payment


def test_an_active_model_scores_and_explains(world: World, tmp_path: Path) -> None:
    alice, bob = world.user(ALICE), world.user(BOB)
    world.fund(alice, cny(100))
    path = _model_dir(tmp_path)
    from guardpay.ml.model import load_model

    version = load_model(path).version
    _activate(world, version, path)
    paid = world.run(payments.p2p_transfer, alice, bob, cny(10), PASSWORD)
    decision = _decision(world, paid.row.id)
    assert decision.model_version == version
    assert 0.0 <= float(decision.features["model_score"]) <= 1.0
    assert all(name in NUMERIC_FEATURES for name, _ in decision.contributions)
    assert not world.risk.degraded


def test_rule_files_reload_without_restart_and_a_broken_one_is_survived(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    base = "name: mine\nversion: {v}\nthresholds: {{challenge: 40, review: 70, deny: 90}}\n"
    path.write_text(base.format(v=1) + "rules: []\n")
    source = RuleSource(path, check_every=0.0)
    assert source.current().version == 1
    path.write_text(base.format(v=2) + "rules: []\n")
    import os

    os.utime(path, (1, 2_000_000_000))
    assert source.current().version == 2
    broken = "rules:\n  - name: x\n    when: amount >\n    score: 5\n"
    path.write_text(base.format(v=3) + broken)
    os.utime(path, (1, 2_000_000_100))
    assert source.current().version == 2  # the last good set stays in force
    assert source.last_error is not None
    assert ":6:" in source.last_error  # the line of the broken condition, and its column


def test_an_undecided_review_times_out_and_returns_the_money(world: World) -> None:
    alice, bob = world.user(ALICE), world.user(BOB)
    world.fund(alice, cny(20_000))
    world.clock.at = NIGHT
    held = world.run(payments.p2p_transfer, alice, bob, cny(6_000), PASSWORD)
    assert held.row.status == "processing"
    assert world.balance("user", bob) == 0
    world.clock.advance(hours=23)
    assert world.run(jobs.by_name("risk_review_timeouts").run) == 0
    world.clock.advance(hours=2)
    assert world.run(jobs.by_name("risk_review_timeouts").run) == 1
    decision = _decision(world, held.row.id)
    assert (decision.review_status, decision.reviewed_by, decision.label) == (
        "expired",
        "system",
        None,
    )
    row = world.run(payments.get_payment, alice, held.row.id)
    assert (row.status, row.failure_code) == ("failed", "review_expired")
    assert world.balance("user", alice) == 20_000_00
    assert world.audit("risk.review_expired") == [(decision.id, "ok")]


def _block(world: World, entity: str, value: str) -> None:
    op = world.run(create_operator, "ana", "analyst", "Kept-in-a-vault-42")
    world.actor = Actor("operator", op.id)
    world.run(risk_lists.add_entry, "block", entity, value, "test", timedelta(hours=1))
    world.actor = Actor()


def test_the_escrow_gate_denies_a_blocked_user_until_the_entry_lapses(world: World) -> None:
    alice, shop = world.user(ALICE), world.merchant()
    world.fund(alice, cny(100))
    _block(world, "user", alice)
    world.refused(
        "request_denied", escrow.pay_into_escrow, alice, escrow.NewTrade(shop, cny(10)), PASSWORD
    )
    kept = world.run(lambda ctx: list(RiskRepository(ctx.uow.conn).history()))
    assert [(d.channel, d.action, d.reasons[0]) for d in kept] == [
        ("escrow", "deny", "list_block_hit")
    ]  # the refusal committed its decision
    world.clock.advance(hours=2)  # the entry lapses by itself
    assert (
        world.run(escrow.pay_into_escrow, alice, escrow.NewTrade(shop, cny(10)), PASSWORD).status
        == "held"
    )


def test_a_fresh_engine_per_world_keeps_histories_apart(db: Database) -> None:
    assert World(db).risk is not World(db).risk
    assert isinstance(World(db).risk, RiskEngine)


def test_an_abandoned_challenge_teaches_the_engine_nothing(world: World) -> None:
    alice, bob = world.user(ALICE), world.user(BOB)
    world.fund(alice, cny(1_000))
    world.actor = Actor("user", alice, "10.1.1.1", "dev_thief")
    first = world.run(payments.p2p_transfer, alice, bob, cny(900), PASSWORD)
    assert first.row.status == "requires_action"  # a new device emptying the wallet
    again = world.run(payments.p2p_transfer, alice, bob, cny(900), PASSWORD)
    assert again.row.status == "requires_action"  # still new: nothing was learnt
    assert _decision(world, again.row.id).features["device_new"] is True


class _BrokenState:
    def snapshot(self, req: object) -> object:
        raise ConnectionError("redis is down")

    def snapshot_many(self, probes: object) -> object:
        raise ConnectionError("redis is down")

    def record(self, event: object) -> None:
        raise ConnectionError("redis is down")

    def record_many(self, events: object) -> None:
        raise ConnectionError("redis is down")


def test_a_broken_feature_store_degrades_and_payments_go_on(db: Database) -> None:
    with passwords.using(passwords.CHEAP):
        world = World(db, risk=RiskEngine(state=_BrokenState()))  # type: ignore[arg-type]
        alice, bob = world.user(ALICE), world.user(BOB)
        world.fund(alice, cny(100))
        paid = world.run(payments.p2p_transfer, alice, bob, cny(10), PASSWORD)
    assert paid.row.status == "succeeded"  # committed, and answered as such
    assert world.risk.degraded
    assert world.balance("user", bob) == 10_00


def test_a_model_that_failed_to_load_is_retried(world: World, tmp_path: Path) -> None:
    from guardpay.ml.model import load_model

    path = _model_dir(tmp_path)
    version = load_model(path).version
    calls: list[int] = []

    def flaky(where: Path) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("the shared volume is not mounted yet")
        return load_model(where)

    source = ModelSource(check_every=0.0, retry_after=0.0, loader=flaky)  # type: ignore[arg-type]
    _activate(world, version, path)
    assert world.run(source.current) is None  # rules only, for now
    assert world.run(source.current) is not None  # retried, loaded
    assert source.failed is None
