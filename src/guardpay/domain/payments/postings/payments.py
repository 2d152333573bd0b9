"""Payments: P2P and merchant (QR, payment code) payments.

P2P        payer wallet -> payee wallet                          amount   code P2P
Merchant   payer wallet -> merchant settlement                   amount   code MERCHANT_PAYMENT
           merchant settlement -> fee revenue                    fee      code FEE
           (linked: both or neither; no fee leg when the fee is 0)
"""

from __future__ import annotations

from guardpay.domain.ledger.chart import TransferCode
from guardpay.domain.ledger.model import Transfer, TransferFlags


def p2p(*, payer: int, payee: int, amount: int, ledger: int, transfer_id: int) -> list[Transfer]:
    """One transfer from the payer's wallet to the payee's."""
    return [Transfer(transfer_id, payer, payee, amount, ledger=ledger, code=TransferCode.P2P)]


def merchant(
    *,
    payer: int,
    settlement: int,
    fee_revenue: int,
    amount: int,
    fee: int,
    ledger: int,
    payment_id: int,
    fee_id: int,
) -> list[Transfer]:
    """The whole amount to the merchant's settlement account, then the fee from there to
    fee revenue, linked. With no fee, the payment alone (`fee_revenue` and `fee_id` are
    then unused)."""
    pay = Transfer(
        payment_id, payer, settlement, amount, ledger=ledger, code=TransferCode.MERCHANT_PAYMENT
    )
    if fee == 0:
        return [pay]
    take = Transfer(fee_id, settlement, fee_revenue, fee, ledger=ledger, code=TransferCode.FEE)
    return [pay._replace(flags=TransferFlags.LINKED), take]
