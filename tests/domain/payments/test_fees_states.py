"""Merchant fees round half up in the platform's favour; the state machine refuses
every transition it does not list."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from guardpay.domain.payments.fees import merchant_fee
from guardpay.domain.payments.states import (
    ALLOWED,
    IllegalTransition,
    PaymentState,
    Status,
    transition,
)

AT = datetime(2026, 11, 21, tzinfo=UTC)


@pytest.mark.parametrize(
    ("amount", "rate", "fee"),
    [
        (250, Decimal("0.006"), 2),  # 1.5 -> 2: the half goes to the platform
        (249, Decimal("0.006"), 1),  # 1.494 -> 1
        (417, Decimal("0.006"), 3),  # 2.502 -> 3
        (416, Decimal("0.006"), 2),  # 2.496 -> 2
        (50, Decimal("0.01"), 1),  # 0.5 -> 1
        (49, Decimal("0.01"), 0),  # 0.49 -> 0
        (150, Decimal("0.01"), 2),  # 1.5 -> 2
        (250, Decimal("0.01"), 3),  # 2.5 -> 3, where banker's rounding would give 2
        (450, Decimal("0.01"), 5),  # 4.5 -> 5, banker's: 4
        (10_000, Decimal("0.006"), 60),
        (0, Decimal("0.006"), 0),
        (1, Decimal("0.9999"), 1),  # never more than the amount
    ],
)
def test_fee_rounds_half_up(amount: int, rate: Decimal, fee: int) -> None:
    assert merchant_fee(amount, rate) == fee


@pytest.mark.parametrize("rate", [0.006, Decimal("-0.01"), Decimal(1), "0.006"])
def test_fee_rate_is_a_decimal_in_range(rate: object) -> None:
    with pytest.raises(ValueError, match="rate"):
        merchant_fee(100, rate)  # type: ignore[arg-type]


def test_fee_amount_is_an_int() -> None:
    with pytest.raises(ValueError, match="amount"):
        merchant_fee(1.5, Decimal("0.01"))  # type: ignore[arg-type]


def test_the_happy_path_and_its_events() -> None:
    state = PaymentState("pay_a")
    seen = []
    for target in (Status.REQUIRES_ACTION, Status.PROCESSING, Status.SUCCEEDED):
        state, events = transition(state, target, AT)
        seen += [(e.old, e.new) for e in events]
    assert state.status is Status.SUCCEEDED
    assert seen == [
        (Status.CREATED, Status.REQUIRES_ACTION),
        (Status.REQUIRES_ACTION, Status.PROCESSING),
        (Status.PROCESSING, Status.SUCCEEDED),
    ]


def test_failed_carries_a_code() -> None:
    state, _ = transition(PaymentState("pay_a"), Status.PROCESSING, AT)
    failed, events = transition(state, Status.FAILED, AT, "insufficient_funds")
    assert (failed.failure_code, events[0].failure_code) == ("insufficient_funds",) * 2
    with pytest.raises(ValueError, match="failure code"):
        transition(state, Status.FAILED, AT)
    with pytest.raises(ValueError, match="failure code"):
        transition(state, Status.SUCCEEDED, AT, "x")


@pytest.mark.parametrize("old", list(Status))
@pytest.mark.parametrize("new", list(Status))
def test_every_unlisted_transition_is_illegal(old: Status, new: Status) -> None:
    state = PaymentState("pay_a", old)
    code = "declined" if new is Status.FAILED else None
    if new in ALLOWED[old]:
        assert transition(state, new, AT, code)[0].status is new
    else:
        with pytest.raises(IllegalTransition) as caught:
            transition(state, new, AT, code)
        assert caught.value.code == "illegal_transition"
