"""Refund rules: how much may still be refunded, and how much of the fee goes back.

Money rules written down, because they are money:

- Cumulative refunds of a payment never exceed the amount paid. The service checks this
  under a row lock on the payment, so two concurrent refunds cannot both pass.
- The merchant fee is refunded pro rata. The fee refunded *so far* after cumulative
  refunds `R` of a payment of `A` with fee `F` is `ceil(F * R / A)` — rounded up, in the
  merchant's favour (the platform gives back its fee rather than keep a fraction of a
  fen). Each refund's fee share is the difference between that cumulative figure after
  and before it, so the shares telescope: their sum is `ceil(F * R_total / A)`, which is
  at most `F` and exactly `F` after a full refund, whatever the split into partial
  refunds. Integer arithmetic only; no float, no Decimal needed for a ratio of ints.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from guardpay.errors import InvalidRequest, RefundExceedsPayment


class RefundState(StrEnum):
    """What a payment's refunds add up to; the payment's own status stays `succeeded`."""

    NONE = "none"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


@dataclass(frozen=True)
class RefundSplit:
    """One refund's legs: `amount` back to the payer, of which `fee` the platform returns
    to the merchant (so the merchant's settlement pays `amount - fee` net)."""

    amount: int
    fee: int


def _cumulative_fee(paid: int, fee: int, refunded: int) -> int:
    """The fee share of `refunded` out of `paid`, rounded up (merchant's favour)."""
    return min(fee, -(-fee * refunded // paid))


def split_refund(paid: int, fee: int, refunded_before: int, amount: int) -> RefundSplit:
    """Check a refund of `amount` against what is left and split off its fee share.
    Raises `refund_exceeds_payment` if cumulative refunds would pass the amount paid."""
    for name, value in (
        ("paid", paid),
        ("fee", fee),
        ("refunded_before", refunded_before),
        ("amount", amount),
    ):
        if type(value) is not int:
            raise TypeError(f"{name} is an int of minor units")
    if paid <= 0 or not 0 <= fee <= paid or not 0 <= refunded_before <= paid:
        raise ValueError("inconsistent payment figures")
    if amount <= 0:
        raise InvalidRequest("a refund is a positive number of minor units", param="amount")
    if refunded_before + amount > paid:
        raise RefundExceedsPayment(
            f"only {paid - refunded_before} of {paid} is left to refund", param="amount"
        )
    after = _cumulative_fee(paid, fee, refunded_before + amount)
    return RefundSplit(amount, after - _cumulative_fee(paid, fee, refunded_before))


def refund_state(paid: int, refunded: int) -> RefundState:
    if refunded == 0:
        return RefundState.NONE
    return RefundState.REFUNDED if refunded >= paid else RefundState.PARTIALLY_REFUNDED
