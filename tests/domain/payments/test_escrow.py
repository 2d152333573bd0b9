"""The escrow state machine: the legal paths, every other action refused with its code,
a dispute freezing the trade, and the auto-confirm deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from guardpay.api.errors import status_of
from guardpay.domain.payments.escrow import (
    FINAL,
    RULES,
    Action,
    EscrowDisputed,
    EscrowStatus,
    IllegalEscrowTransition,
    auto_confirm_at,
    auto_confirm_due,
    step,
)

S = EscrowStatus
T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def test_happy_path() -> None:
    assert step(step(S.HELD, Action.SHIP), Action.CONFIRM) is S.RELEASED


@pytest.mark.parametrize("start", [S.HELD, S.SHIPPED])
def test_refund_and_dispute_before_release(start: EscrowStatus) -> None:
    assert step(start, Action.REFUND) is S.REFUNDED
    assert step(start, Action.DISPUTE) is S.DISPUTED


def test_only_a_resolution_leaves_a_dispute() -> None:
    assert step(S.DISPUTED, Action.RESOLVE_RELEASE) is S.RELEASED
    assert step(S.DISPUTED, Action.RESOLVE_REFUND) is S.REFUNDED
    for action in (Action.SHIP, Action.CONFIRM, Action.REFUND, Action.DISPUTE):
        with pytest.raises(EscrowDisputed) as caught:
            step(S.DISPUTED, action)
        assert (caught.value.code, status_of(caught.value)) == ("escrow_disputed", 409)


def test_everything_else_is_illegal() -> None:
    refused = [(s, a) for s in S for a in Action if (s, a) not in RULES]
    assert (S.HELD, Action.CONFIRM) in refused  # nothing shipped yet
    assert (S.SHIPPED, Action.RESOLVE_RELEASE) in refused  # no dispute to resolve
    for status, action in refused:
        with pytest.raises(IllegalEscrowTransition) as caught:
            step(status, action)
        expected = "escrow_disputed" if status is S.DISPUTED else "escrow_illegal_transition"
        assert caught.value.code == expected


def test_final_states_accept_nothing() -> None:
    assert not [key for key in RULES if key[0] in FINAL]


def test_auto_confirm_after_more_than_n_days() -> None:
    assert auto_confirm_at(T0) == T0 + timedelta(days=10)
    due = T0 + timedelta(days=3)
    assert not auto_confirm_due(S.SHIPPED, T0, due, days=3)  # exactly N days: not yet
    assert auto_confirm_due(S.SHIPPED, T0, due + timedelta(seconds=1), days=3)
    later = T0 + timedelta(days=30)
    for status in (S.HELD, S.DISPUTED, S.RELEASED, S.REFUNDED):
        assert not auto_confirm_due(status, T0, later)
    assert not auto_confirm_due(S.SHIPPED, None, later)


@pytest.mark.parametrize("days", [0, -1])
def test_auto_confirm_needs_a_positive_whole_number_of_days(days: int) -> None:
    with pytest.raises(ValueError, match="whole number"):
        auto_confirm_at(T0, days)
