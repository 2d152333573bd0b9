"""Graph features per account: each a part of a laundering shape, measured whatever its
size, read here from a story small enough to count by hand."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest

from guardpay.adapters.analytics import DuckDBEngine
from guardpay.domain.aml.features import FEATURES, features
from guardpay.domain.aml.frame import Params
from tests.domain.aml.world import T0, Move, move, table, yuan

END = T0 + timedelta(days=3)


def story() -> list[Move]:
    """Alice is paid ¥1,000 from her card, passes ¥450 on to Bob two hours later, is paid
    ¥300 by Carol the next day and pays Carol ¥49,000 (just below ¥50,000) on day 3. She
    last moved money 200 days before (Xavier paid her). Eve pays Bob ¥3 from Alice's
    phone."""
    return [
        move("x", "alice", yuan(100), days=-200),
        move("card:alice", "alice", yuan(1_000)),
        move("alice", "bob", yuan(450), hours=2, device="phone-a"),
        move("carol", "alice", yuan(300), days=1, device="phone-c"),
        move("alice", "carol", yuan(49_000), days=3, device="phone-a"),
        move("eve", "bob", yuan(3), days=2, device="phone-a"),
    ]


def computed(
    moves: list[Move], cycles: list[str] | None = None, devices: bool = True
) -> dict[str, dict[str, Any]]:
    engine = DuckDBEngine()
    try:
        on_cycle = None if cycles is None else engine.table(pa.table({"account": cycles}))
        tx = engine.table(table(moves))
        rows = engine.run(features(tx, Params(), END, on_cycle, devices=devices))
    finally:
        engine.close()
    return {r["account"]: r for r in rows.to_pylist()}


def test_one_row_per_account_in_the_window_and_none_for_cards() -> None:
    rows = computed(story())
    # Xavier's only movement is 200 days old: outside the 30-day window
    assert sorted(rows) == ["alice", "bob", "carol", "eve"]


def test_every_feature_is_a_column() -> None:
    alice = computed(story())["alice"]
    assert set(FEATURES) <= alice.keys()
    assert alice["transactions"] == 4


def test_degrees_and_sums_in_and_out() -> None:
    alice = computed(story())["alice"]
    assert (alice["payers"], alice["payees"]) == (2.0, 2.0)  # her card and Carol; Bob, Carol
    assert (alice["moves_in"], alice["moves_out"]) == (2.0, 2.0)
    assert alice["amount_in"] == yuan(1_300)
    assert alice["amount_out"] == yuan(49_450)
    assert alice["pass_through"] == pytest.approx(49_450 / 1_300)


def test_how_soon_money_left_after_it_came() -> None:
    rows = computed(story())
    assert rows["alice"]["pass_hours"] == pytest.approx(2.0)
    assert rows["bob"]["pass_hours"] is None  # nothing left Bob
    assert rows["eve"]["pass_through"] is None  # nothing came into Eve


def test_counterparties_once_both_ways_and_new() -> None:
    alice = computed(story())["alice"]
    # card and Bob once each; Carol both ways
    assert alice["one_off_share"] == pytest.approx(2 / 3)
    assert alice["both_ways_share"] == pytest.approx(1 / 3)
    # all three first dealt with in the window; Xavier, before it, is not counted
    assert alice["new_counterparties"] == 3.0
    assert alice["new_share"] == 1.0


def test_round_amounts_and_amounts_just_below_a_threshold() -> None:
    alice = computed(story())["alice"]
    assert alice["round_share"] == pytest.approx(3 / 4)  # 1,000, 300, 49,000; not 450
    assert alice["near_threshold_share"] == pytest.approx(1 / 4)  # 49,000


def test_cash_through_cards() -> None:
    alice = computed(story())["alice"]
    assert alice["card_in_share"] == pytest.approx(1_000 / 1_300)
    assert alice["card_out_share"] == 0.0
    assert computed(story())["eve"]["card_in_share"] is None  # nothing came in


def test_the_silence_before_waking_is_read_back_into_history() -> None:
    rows = computed(story())
    assert rows["alice"]["longest_gap_days"] == pytest.approx(200.0)
    assert rows["alice"]["active_hours"] == pytest.approx(72.0)
    assert rows["eve"]["longest_gap_days"] is None  # one movement: no gap to measure


def test_accounts_sharing_a_payers_device() -> None:
    rows = computed(story())
    assert rows["alice"]["device_accounts"] == 2.0  # Alice and Eve paid from phone-a
    assert rows["eve"]["device_accounts"] == 2.0
    assert rows["bob"]["device_accounts"] == 0.0  # Bob paid from no device
    # movements that never say which device paid: unknown, not "no shared device"
    assert computed(story(), devices=False)["alice"]["device_accounts"] is None


def test_cycle_membership_comes_from_the_cycle_scenario() -> None:
    rows = computed(story(), cycles=["carol"])
    assert rows["carol"]["in_cycle"] == 1.0
    assert rows["alice"]["in_cycle"] == 0.0
    assert computed(story(), cycles=[])["carol"]["in_cycle"] == 0.0  # scanned: on none
    assert computed(story())["carol"]["in_cycle"] is None  # not scanned: unknown
