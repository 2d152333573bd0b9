"""Typed factories with keyword defaults: a test names only what it is about."""

from __future__ import annotations

from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.model import Account, AccountFlags, Transfer, TransferFlags

CNY = 156
USD = 840
WALLET_FLAGS = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.HISTORY


def account(
    id: int,
    *,
    ledger: int = CNY,
    code: int = AccountCode.CUSTOMER_WALLET,
    flags: int = 0,
    user_data_64: int = 0,
    user_data_32: int = 0,
) -> Account:
    return Account(id, ledger, code, flags, user_data_64, user_data_32)


def wallet(id: int, *, ledger: int = CNY) -> Account:
    """A customer wallet: may never go below zero, keeps balance history."""
    return account(id, ledger=ledger, flags=WALLET_FLAGS)


def transfer(
    id: int,
    debit: int = 0,
    credit: int = 0,
    amount: int = 100,
    *,
    ledger: int = CNY,
    code: int = TransferCode.P2P,
    flags: int = 0,
    pending_id: int = 0,
    timeout: int = 0,
    user_data_64: int = 0,
    user_data_32: int = 0,
) -> Transfer:
    return Transfer(
        id,
        debit,
        credit,
        amount,
        pending_id,
        user_data_64,
        user_data_32,
        timeout,
        ledger,
        code,
        flags,
    )


def post(id: int, pending_id: int, amount: int = 0, *, flags: int = 0) -> Transfer:
    """Post a hold; amount 0 posts all of it."""
    return Transfer(
        id, amount=amount, pending_id=pending_id, flags=flags | TransferFlags.POST_PENDING
    )


def void(id: int, pending_id: int, *, flags: int = 0) -> Transfer:
    return Transfer(id, pending_id=pending_id, flags=flags | TransferFlags.VOID_PENDING)
