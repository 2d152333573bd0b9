"""The target's CPU allowance per payment, from the run's own figures."""

from __future__ import annotations

import pytest

from guardpay.bench import budget


def test_two_cpus_leave_two_milliseconds_a_payment_less_the_clients() -> None:
    b = budget.budget(cpus=2, client_ms=0.25, server_ms=7.0, floor_ms=0.7)
    assert b["cpu_ms_per_payment_at_target"] == 2.0
    assert b["server_cpu_ms_allowed"] == 1.75
    assert b["server_cpu_ms_spent"] == 7.0
    assert b["server_spent_per_allowed"] == pytest.approx(4.0)
    assert b["floor_share_of_allowed"] == pytest.approx(0.4)


def test_more_cpus_allow_more() -> None:
    two = budget.budget(cpus=2, client_ms=0.2, server_ms=3.0, floor_ms=0.5)
    eight = budget.budget(cpus=8, client_ms=0.2, server_ms=3.0, floor_ms=0.5)
    assert eight["server_cpu_ms_allowed"] > two["server_cpu_ms_allowed"]
    assert eight["server_spent_per_allowed"] < 1 < two["server_spent_per_allowed"]


def test_unknown_figures_leave_their_lines_unknown() -> None:
    b = budget.budget(cpus=2, client_ms=None, server_ms=None, floor_ms=None)
    assert b["cpu_ms_per_payment_at_target"] == 2.0
    assert b["server_cpu_ms_allowed"] is None
    assert b["server_spent_per_allowed"] is None
    assert b["floor_share_of_allowed"] is None


def test_a_client_using_the_whole_allowance_leaves_no_ratio() -> None:
    b = budget.budget(cpus=1, client_ms=1.5, server_ms=3.0, floor_ms=0.5)
    assert b["server_cpu_ms_allowed"] == -0.5
    assert b["server_spent_per_allowed"] is None


@pytest.mark.parametrize(
    ("rate", "p99", "errors", "met"),
    [
        (1_000.0, 99.9, 0, True),
        (999.9, 50.0, 0, False),
        (1_200.0, 100.0, 0, False),
        (1_200.0, 20.0, 1, False),
    ],
)
def test_the_target_needs_rate_latency_and_no_errors(
    rate: float, p99: float, errors: int, met: bool
) -> None:
    assert budget.target_met(rate, p99, errors) is met


def test_cpus_counts_what_this_process_may_use() -> None:
    assert budget.cpus() >= 1
