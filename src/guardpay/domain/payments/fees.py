"""Merchant fees: `amount * rate`, rounded half up, in the platform's favour.

Rule (written down because it is money): the fee in minor units is the exact product of
the integer amount and a `Decimal` rate, rounded to a whole minor unit with ROUND_HALF_UP
— an exact half (0.5 fen) goes to the platform, anything below a half to the merchant.
Amounts are positive, so "half up" and "half away from zero" agree. A rate is a Decimal
in [0, 1); a float rate is refused so binary fractions never reach a money path. The fee
never exceeds the amount, so the merchant's net is never negative.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

DEFAULT_RATE = Decimal("0.006")  # 0.6 %, the usual offline QR rate in China


def merchant_fee(amount: int, rate: Decimal) -> int:
    if type(amount) is not int or amount < 0:
        raise ValueError("an amount is a non-negative int of minor units")
    if not isinstance(rate, Decimal) or not Decimal(0) <= rate < Decimal(1):
        raise ValueError("a fee rate is a Decimal in [0, 1)")
    fee = (Decimal(amount) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return min(int(fee), amount)
