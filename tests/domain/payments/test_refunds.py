"""Refund rules: cumulative refunds never pass the amount paid, and the pro-rata fee
shares of any split into partial refunds sum to at most the fee (exactly it when full)."""

from __future__ import annotations

import random

import pytest

from guardpay.domain.payments.fees import DEFAULT_RATE, merchant_fee
from guardpay.domain.payments.refunds import RefundState, refund_state, split_refund
from guardpay.errors import InvalidRequest


def test_full_refund_returns_the_whole_fee() -> None:
    assert split_refund(10_000, 60, 0, 10_000).fee == 60


def test_partial_fee_rounds_up_for_the_merchant() -> None:
    # 250 paid, fee 2: a refund of 1 is worth 0.008 fen of fee -> 1 fen back.
    assert split_refund(250, 2, 0, 1).fee == 1
    assert split_refund(250, 2, 1, 1).fee == 0  # cumulative ceil(2*2/250) is still 1
    assert split_refund(250, 2, 2, 248).fee == 1


def test_cumulative_refund_past_the_payment_is_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        split_refund(1_000, 6, 600, 401)
    assert caught.value.code == "refund_exceeds_payment"
    assert split_refund(1_000, 6, 600, 400).amount == 400


@pytest.mark.parametrize("bad", [0, -1])
def test_a_refund_is_positive(bad: int) -> None:
    with pytest.raises(InvalidRequest):
        split_refund(1_000, 6, 0, bad)


def test_money_is_int_only() -> None:
    with pytest.raises(TypeError):
        split_refund(1_000, 6, 0, 1.5)  # type: ignore[arg-type]


def test_fee_shares_sum_to_at_most_the_fee_for_any_split() -> None:
    rng = random.Random(20261121)
    for _ in range(2_000):
        paid = rng.randint(1, 10**7)
        fee = merchant_fee(paid, DEFAULT_RATE)
        refunded, shares = 0, 0
        while refunded < paid and rng.random() < 0.9:
            amount = rng.randint(1, paid - refunded)
            share = split_refund(paid, fee, refunded, amount).fee
            assert 0 <= share <= amount
            refunded, shares = refunded + amount, shares + share
            assert shares <= fee
        if refunded == paid:
            assert shares == fee
        else:
            assert shares == -(-fee * refunded // paid)


def test_refund_state() -> None:
    assert refund_state(100, 0) is RefundState.NONE
    assert refund_state(100, 40) is RefundState.PARTIALLY_REFUNDED
    assert refund_state(100, 100) is RefundState.REFUNDED
