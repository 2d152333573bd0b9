"""Escrow (guarantee trade): the trade's own holding account between buyer and merchant.

Pay in   buyer wallet -> trade holding                  amount         code ESCROW_HOLD
Release  trade holding -> merchant settlement           amount - fee   code ESCROW_RELEASE } linked
         trade holding -> fee revenue                   fee            code FEE            }
Refund   trade holding -> buyer wallet                  amount         code REFUND (no fee)

Both ways the holding account ends at zero. A leg of zero is left out (a fee that takes
the whole amount leaves the fee leg alone, unlinked).
"""

from __future__ import annotations

from guardpay.domain.ledger.chart import TransferCode
from guardpay.domain.ledger.model import Transfer, TransferFlags


def hold(*, buyer: int, holding: int, amount: int, ledger: int, transfer_id: int) -> list[Transfer]:
    """The buyer pays into the trade's holding account."""
    return [
        Transfer(transfer_id, buyer, holding, amount, ledger=ledger, code=TransferCode.ESCROW_HOLD)
    ]


def release(
    *,
    holding: int,
    settlement: int,
    fee_revenue: int,
    amount: int,
    fee: int,
    ledger: int,
    release_id: int,
    fee_id: int,
) -> list[Transfer]:
    """The holding account out to the merchant, net of the fee, and the fee to fee
    revenue, linked. With no fee, `fee_revenue` and `fee_id` are unused."""
    net = Transfer(
        release_id,
        holding,
        settlement,
        amount - fee,
        ledger=ledger,
        code=TransferCode.ESCROW_RELEASE,
    )
    legs = [net]
    if fee:
        take = Transfer(fee_id, holding, fee_revenue, fee, ledger=ledger, code=TransferCode.FEE)
        legs = [net._replace(flags=TransferFlags.LINKED), take]
    return [leg for leg in legs if leg.amount > 0]


def refund(
    *, holding: int, buyer: int, amount: int, ledger: int, transfer_id: int
) -> list[Transfer]:
    """The whole amount back to the buyer: no fee, the merchant earned nothing."""
    return [Transfer(transfer_id, holding, buyer, amount, ledger=ledger, code=TransferCode.REFUND)]
