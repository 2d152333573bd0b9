"""A payment held for a risk review: the hold, then its post (approve) or void (decline,
timeout).

Hold     payer wallet -> payee (wallet, or merchant settlement)  amount, PENDING
         code P2P or MERCHANT_PAYMENT, as the payment itself; no timeout: the review's
         deadline is kept with the decision and its job voids the hold
Approve  POST the hold (its whole amount)                        } linked, when there is
         merchant settlement -> fee revenue   fee   code FEE     } a merchant fee
Decline  VOID the hold: the money is the payer's again
"""

from __future__ import annotations

from guardpay.domain.ledger.chart import TransferCode
from guardpay.domain.ledger.model import Transfer, TransferFlags


def hold(
    *, payer: int, payee: int, amount: int, merchant: bool, ledger: int, transfer_id: int
) -> Transfer:
    """The pending transfer that holds the payment (`merchant`: to a settlement account,
    coded as a merchant payment; else a P2P). The fee is taken only when it is posted."""
    code = TransferCode.MERCHANT_PAYMENT if merchant else TransferCode.P2P
    return Transfer(
        transfer_id, payer, payee, amount, ledger=ledger, code=code, flags=TransferFlags.PENDING
    )


def post(
    *,
    hold_id: int,
    settlement: int,
    fee_revenue: int,
    fee: int,
    ledger: int,
    post_id: int,
    fee_id: int,
) -> list[Transfer]:
    """Post the hold and take the merchant fee from the settlement account, linked. With
    no fee (a P2P payment, or a zero fee) the post alone; the fee's accounts and id are
    then unused."""
    resolve = Transfer(post_id, pending_id=hold_id, flags=TransferFlags.POST_PENDING)
    if fee == 0:
        return [resolve]
    take = Transfer(fee_id, settlement, fee_revenue, fee, ledger=ledger, code=TransferCode.FEE)
    return [resolve._replace(flags=TransferFlags.POST_PENDING | TransferFlags.LINKED), take]


def void(*, hold_id: int, void_id: int) -> list[Transfer]:
    """Release the hold: nothing reaches the payee."""
    return [Transfer(void_id, pending_id=hold_id, flags=TransferFlags.VOID_PENDING)]
