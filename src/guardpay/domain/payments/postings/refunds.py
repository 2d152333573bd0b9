"""A refund of a merchant payment (its fee share from `domain.payments.refunds`).

Fee share  fee revenue -> merchant settlement    fee_returned   code REFUND   } linked
Refund     merchant settlement -> payer wallet   amount         code REFUND   }

The fee leg comes first, so the merchant's settlement needs only its net share
(`amount - fee_returned`); with no fee share, the refund leg alone.
"""

from __future__ import annotations

from guardpay.domain.ledger.chart import TransferCode
from guardpay.domain.ledger.model import Transfer, TransferFlags


def refund(
    *,
    payer: int,
    settlement: int,
    fee_revenue: int,
    amount: int,
    fee_returned: int,
    ledger: int,
    refund_id: int,
    fee_id: int,
) -> list[Transfer]:
    """The pro-rata fee back to the merchant, then the refund to the payer, linked.
    With `fee_returned` 0, `fee_revenue` and `fee_id` are unused."""
    back = Transfer(refund_id, settlement, payer, amount, ledger=ledger, code=TransferCode.REFUND)
    if fee_returned == 0:
        return [back]
    fee = Transfer(
        fee_id,
        fee_revenue,
        settlement,
        fee_returned,
        ledger=ledger,
        code=TransferCode.REFUND,
        flags=TransferFlags.LINKED,
    )
    return [fee, back]
