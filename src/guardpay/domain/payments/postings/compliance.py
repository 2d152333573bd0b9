"""A customer's money held from a case (services/cases/actions.py), then released.

Hold     customer wallet -> compliance hold   amount, PENDING, no timeout
         code COMPLIANCE_HOLD: the wallet's available balance drops by the amount, its
         balance does not (the money stays the customer's, owed and covered)
Release  VOID the hold: the money is spendable again
"""

from __future__ import annotations

from guardpay.domain.ledger.chart import TransferCode
from guardpay.domain.ledger.model import Transfer, TransferFlags


def hold(*, wallet: int, holding: int, amount: int, ledger: int, transfer_id: int) -> Transfer:
    return Transfer(
        transfer_id,
        wallet,
        holding,
        amount,
        ledger=ledger,
        code=TransferCode.COMPLIANCE_HOLD,
        flags=TransferFlags.PENDING,
    )


def release(*, hold_id: int, void_id: int) -> Transfer:
    return Transfer(void_id, pending_id=hold_id, flags=TransferFlags.VOID_PENDING)
