"""Held-out metrics on examples small enough to compute by hand."""

from __future__ import annotations

import numpy as np
import pytest

from guardpay.ml.metrics import alerts_at_rate, caught_at_rate, held_out_metrics, recall_at_rate


def test_alerts_round_up_and_never_drop_to_zero() -> None:
    assert alerts_at_rate(1000, 0.001) == 1
    assert alerts_at_rate(1000, 0.01) == 10
    assert alerts_at_rate(1001, 0.01) == 11  # 10.01 alerts -> 11
    assert alerts_at_rate(50, 0.001) == 1  # tiny sets still alert the top row
    assert alerts_at_rate(0, 0.01) == 0


def test_recall_at_alert_rate_by_hand() -> None:
    # 10 rows, 3 fraud. Scores rank: r0 .9 (fraud), r4 .8 (legit), r2 .7 (fraud), ...
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    s = np.array([0.9, 0.1, 0.7, 0.2, 0.8, 0.3, 0.05, 0.15, 0.25, 0.12])
    assert caught_at_rate(y, s, 0.1) == 1  # top 1 = r0
    assert caught_at_rate(y, s, 0.2) == 1  # top 2 = r0, r4
    assert caught_at_rate(y, s, 0.3) == 2  # + r2
    assert recall_at_rate(y, s, 0.3) == pytest.approx(2 / 3)
    assert recall_at_rate(y, s, 1.0) == 1.0


def test_ties_at_the_cut_count_against_the_model() -> None:
    y = np.array([0, 1, 0, 1, 0, 0, 0, 0, 0, 0])
    flat = np.full(10, 0.5)
    assert caught_at_rate(y, flat, 0.2) == 0  # 8 legit rows share the score: they go first
    assert recall_at_rate(np.zeros(10), flat, 0.2) == 0.0  # no fraud: nothing to recall


def test_held_out_metrics_for_a_perfect_and_a_reversed_ranking() -> None:
    y = np.array([0] * 98 + [1, 1])
    perfect = np.linspace(0, 1, 100)
    m = held_out_metrics(y, perfect)
    assert (m["pr_auc"], m["roc_auc"], m["rows"], m["positives"]) == (1.0, 1.0, 100, 2)
    assert (m["alerts_at_1pct"], m["caught_at_1pct"], m["recall_at_1pct"]) == (1, 1, 0.5)
    assert m["recall_at_0.1pct"] == 0.5
    worst = held_out_metrics(y, perfect[::-1])
    assert worst["roc_auc"] == 0.0
    assert worst["recall_at_1pct"] == 0.0
