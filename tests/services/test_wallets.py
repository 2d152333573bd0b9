"""Wallets open on first use, once, on the chart of accounts; platform ids are fixed."""

from __future__ import annotations

from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.ledger.model import AccountFlags, Transfer
from guardpay.domain.ledger.results import Result
from guardpay.security.keys import Keyring
from guardpay.services import ledger, wallets
from guardpay.services.context import Context
from guardpay.storage.db import Database
from guardpay.storage.uow import unit_of_work

CNY = 156


def test_platform_accounts_have_fixed_ids_and_open_once(db: Database) -> None:
    keyring = Keyring.generate()
    for _ in range(2):
        with unit_of_work(db) as uow:
            ids = wallets.open_platform_accounts(Context(uow, keyring), "CNY")
    assert ids[AccountCode.RESERVE] == 200_000_156
    assert ids[AccountCode.FEE_REVENUE] == 300_000_156
    with unit_of_work(db) as uow:
        reserve = uow.ledger_queries.account(ids[AccountCode.RESERVE])
    assert reserve is not None
    assert reserve.flags & AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS


def test_a_wallet_opens_once_and_holds_money(db: Database) -> None:
    keyring = Keyring.generate()
    with unit_of_work(db) as uow:
        ctx = Context(uow, keyring)
        reserve = wallets.open_platform_accounts(ctx, "CNY")[AccountCode.RESERVE]
        alice = wallets.wallet(ctx, "user", "usr_alice", "CNY")
        assert wallets.wallet(ctx, "user", "usr_alice", "CNY") == alice
        assert wallets.wallet(ctx, "user", "usr_alice", "USD") != alice
        topped = ledger.execute(uow, [Transfer(1, reserve, alice, 50_000, ledger=CNY, code=1)])
        overdraft = ledger.execute(uow, [Transfer(2, alice, reserve, 50_001, ledger=CNY, code=2)])
        assert (topped, overdraft) == ([Result.ok], [Result.exceeds_credits])
        assert str(wallets.balance(ctx, alice, "CNY")) == "500.00 CNY"
    assert alice > 2**40
    with unit_of_work(db) as uow:
        assert wallets.wallet(Context(uow, keyring), "user", "usr_alice", "CNY") == alice
