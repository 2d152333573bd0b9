"""The chart of accounts: account codes and the flags each kind of account gets.

Liabilities to customers (wallets, merchant settlement, escrow, red packets) may never go
below zero; the reserve is the asset that must cover them (customer funds held at the
custodian bank); the bank-channel in-flight account holds money between the platform and
the bank (suspense), and may run either way.
"""

from __future__ import annotations

from enum import IntEnum

from guardpay.domain.ledger.model import AccountFlags


class AccountCode(IntEnum):
    CUSTOMER_WALLET = 100
    MERCHANT_SETTLEMENT = 110
    ESCROW = 120
    RED_PACKET_HOLDING = 130
    COMPLIANCE_HOLD = 140  # a customer's money held from a case (pending transfers only)
    RESERVE = 200
    BANK_IN_FLIGHT = 210
    FEE_REVENUE = 300
    LOSS_RESERVE = 310


LIABILITIES = frozenset(
    {
        AccountCode.CUSTOMER_WALLET,
        AccountCode.MERCHANT_SETTLEMENT,
        AccountCode.ESCROW,
        AccountCode.RED_PACKET_HOLDING,
        AccountCode.COMPLIANCE_HOLD,
    }
)

_CREDIT_NORMAL = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.HISTORY
FLAGS: dict[AccountCode, AccountFlags] = {
    AccountCode.CUSTOMER_WALLET: _CREDIT_NORMAL,
    AccountCode.MERCHANT_SETTLEMENT: _CREDIT_NORMAL,
    AccountCode.ESCROW: _CREDIT_NORMAL,
    AccountCode.RED_PACKET_HOLDING: _CREDIT_NORMAL,
    AccountCode.COMPLIANCE_HOLD: _CREDIT_NORMAL,
    AccountCode.RESERVE: AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS | AccountFlags.HISTORY,
    AccountCode.BANK_IN_FLIGHT: AccountFlags.HISTORY,
    AccountCode.FEE_REVENUE: _CREDIT_NORMAL,
    AccountCode.LOSS_RESERVE: _CREDIT_NORMAL,
}


class TransferCode(IntEnum):
    """Why money moved; stored on every transfer."""

    TOP_UP = 1
    WITHDRAWAL = 2
    P2P = 3
    MERCHANT_PAYMENT = 4
    FEE = 5
    REFUND = 6
    ESCROW_HOLD = 7
    ESCROW_RELEASE = 8
    RED_PACKET = 9
    COMPENSATION = 10
    ADJUSTMENT = 11
    COMPLIANCE_HOLD = 12
