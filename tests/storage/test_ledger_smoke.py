"""A first end-to-end ledger check on both backends: it reads like a ledger."""

from __future__ import annotations

from guardpay.domain.ledger.results import Result
from guardpay.services.ledger.books import execute, verify
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only, unit_of_work
from tests.factories import account, transfer, wallet

BANK, ALICE, BOB = 1, 10, 11


def test_money_moves_and_the_ledger_verifies(db: Database) -> None:
    with unit_of_work(db) as uow:
        opened = execute(uow, [account(BANK, code=200), wallet(ALICE), wallet(BOB)])
        topup = execute(uow, [transfer(1, BANK, ALICE, 50_000)])
        pay = execute(uow, [transfer(2, ALICE, BOB, 12_000)])
        overdraft = execute(uow, [transfer(3, ALICE, BOB, 100_000)])
    assert opened == [Result.ok] * 3
    assert (topup, pay, overdraft) == ([Result.ok], [Result.ok], [Result.exceeds_credits])
    with read_only(db) as uow:
        alice = uow.ledger_queries.account(ALICE)
        report = verify(uow)
    assert alice is not None
    assert alice.balance == 50_000 - 12_000
    assert report.ok, report.problems
    assert (report.accounts, report.transfers) == (3, 2)
