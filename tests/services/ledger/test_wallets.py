"""Wallets open on first use, once, on the chart of accounts; platform ids are fixed."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.ledger.model import AccountFlags, Transfer
from guardpay.domain.ledger.results import Result
from guardpay.security.keys import Keyring
from guardpay.services.ledger import books as ledger
from guardpay.services.ledger import wallets
from guardpay.services.platform.context import Context
from guardpay.storage.engine.db import Database
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


def test_two_requests_opening_one_wallet_at_once_both_use_one_account(db: Database) -> None:
    """Issue 15: the second of two racing openings was a 409 `wallet_race` (and a payment
    failed for it). Now it waits for the first's row and takes the first's account."""
    keyring = Keyring.generate()
    first_inserted, opened = threading.Event(), {}

    def first() -> None:
        with unit_of_work(db) as uow:
            opened["first"] = wallets.wallet(Context(uow, keyring), "user", "usr_bob", "CNY")
            first_inserted.set()
            time.sleep(0.5)  # the second is waiting on the row's key meanwhile

    def second() -> None:
        first_inserted.wait(10)
        with unit_of_work(db) as uow:
            opened["second"] = wallets.wallet(Context(uow, keyring), "user", "usr_bob", "CNY")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert opened["first"] == opened["second"]
    with unit_of_work(db) as uow:
        accounts = uow.conn.execute(
            text("SELECT count(*) FROM ledger_accounts WHERE code = :c"),
            {"c": int(AccountCode.CUSTOMER_WALLET)},
        ).scalar()
        report = ledger.verify(uow)
    assert accounts == 1  # no account opened for nobody
    assert report.ok, report.problems
