"""Bad input through the storage path: one result code each, no exception, nothing changed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from guardpay.bench.ledger_writer import LedgerWriter
from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.ledger.model import AccountFlags, AccountFlagsChange, Event, TransferFlags
from guardpay.domain.ledger.results import TRANSIENT, Result
from guardpay.services.ledger.books import execute, verify
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only, unit_of_work
from tests.factories import USD, account, post, transfer, void, wallet

BANK, BANK_USD, ALICE, BOB, ALICE_USD, NOBODY = 1, 2, 10, 11, 20, 404
PAID, HELD, POSTED_HOLD = 1, 2, 3  # transfers already on the books
OK = Result.ok
Snapshot = dict[str, list[tuple[object, ...]]]

BAD_INPUT: dict[str, tuple[list[Event], list[Result]]] = {
    "unknown debit account": (
        [transfer(100, NOBODY, ALICE, 500)],
        [Result.debit_account_not_found],
    ),
    "unknown credit account": (
        [transfer(100, ALICE, NOBODY, 500)],
        [Result.credit_account_not_found],
    ),
    "zero amount": ([transfer(100, ALICE, BOB, 0)], [Result.amount_must_not_be_zero]),
    "accounts on different ledgers": (
        [transfer(100, ALICE, ALICE_USD, 500)],
        [Result.accounts_must_have_the_same_ledger],
    ),
    "transfer on another ledger than its accounts": (
        [transfer(100, ALICE, BOB, 500, ledger=USD)],
        [Result.transfer_must_have_the_same_ledger_as_accounts],
    ),
    "same debit and credit account": (
        [transfer(100, ALICE, ALICE, 500)],
        [Result.accounts_must_be_different],
    ),
    "posting a transfer that is not pending": (
        [post(100, PAID)],
        [Result.pending_transfer_not_pending],
    ),
    "voiding a transfer that is not pending": (
        [void(100, PAID)],
        [Result.pending_transfer_not_pending],
    ),
    "posting an unknown hold": ([post(100, NOBODY)], [Result.pending_transfer_not_found]),
    "posting a hold that was already posted": (
        [post(100, POSTED_HOLD)],
        [Result.pending_transfer_already_posted],
    ),
    "posting more than the hold": (
        [post(100, HELD, 3_001)],
        [Result.exceeds_pending_transfer_amount],
    ),
    "overdraft": ([transfer(100, ALICE, BOB, 1_000_000)], [Result.exceeds_credits]),
    "id zero": ([transfer(0, ALICE, BOB, 500)], [Result.id_must_not_be_zero]),
    "negative amount": ([transfer(100, ALICE, BOB, -5)], [Result.amount_out_of_range]),
    "an id reused with another amount": (
        [transfer(PAID, BANK, ALICE, 1)],
        [Result.exists_with_different_amount],
    ),
    "freezing an unknown account": (
        [AccountFlagsChange(NOBODY, set_flags=AccountFlags.DEBITS_FROZEN)],
        [Result.account_not_found],
    ),
    "closing an account that holds money": (
        [AccountFlagsChange(ALICE, set_flags=AccountFlags.CLOSED)],
        [Result.account_balance_not_zero],
    ),
    "an account on ledger zero": (
        [account(30, ledger=0)],
        [Result.ledger_must_not_be_zero],
    ),
    "a chain whose last leg is bad": (
        [
            transfer(100, BANK, ALICE, 500, flags=TransferFlags.LINKED),
            transfer(101, ALICE, BOB, 500, flags=TransferFlags.LINKED),
            transfer(102, BOB, BOB, 500),
        ],
        [Result.linked_event_failed, Result.linked_event_failed, Result.accounts_must_be_different],
    ),
    "a chain that never closes": (
        [transfer(100, BANK, ALICE, 500, flags=TransferFlags.LINKED)],
        [Result.linked_event_chain_open],
    ),
}


def open_books(db: Database) -> None:
    with unit_of_work(db) as uow:
        results = execute(
            uow,
            [
                account(BANK, code=AccountCode.RESERVE),
                account(BANK_USD, ledger=USD, code=AccountCode.RESERVE),
                wallet(ALICE),
                wallet(BOB),
                wallet(ALICE_USD, ledger=USD),
            ],
        )
        results += execute(
            uow,
            [
                transfer(PAID, BANK, ALICE, 10_000),
                transfer(HELD, ALICE, BOB, 3_000, flags=TransferFlags.PENDING),
                transfer(POSTED_HOLD, ALICE, BOB, 1_000, flags=TransferFlags.PENDING),
                post(4, POSTED_HOLD),
            ],
        )
    assert results == [OK] * 9


def snapshot(db: Database) -> Snapshot:
    """Everything the ledger holds, except the memory of failed ids."""
    queries = {
        "accounts": "SELECT * FROM ledger_accounts ORDER BY id",
        "transfers": "SELECT * FROM ledger_transfers ORDER BY id",
        "holds": "SELECT * FROM ledger_pending ORDER BY transfer_id",
        "history": "SELECT * FROM ledger_balances ORDER BY account_id, timestamp",
        "flag changes": "SELECT * FROM ledger_flag_changes ORDER BY timestamp",
    }
    with read_only(db) as uow:
        return {
            name: [tuple(row) for row in uow.conn.execute(text(sql)).all()]
            for name, sql in queries.items()
        }


def failed_ids(db: Database) -> dict[int, str]:
    with read_only(db) as uow:
        rows = uow.conn.execute(text("SELECT id, result FROM ledger_failed")).all()
    return {int(i): str(r) for i, r in rows}


def through_execute(db: Database, events: list[Event]) -> list[Result]:
    with unit_of_work(db) as uow:
        return execute(uow, events)


def through_the_writer(db: Database, events: list[Event]) -> list[Result]:
    with LedgerWriter(db) as writer:
        return writer.apply(events)


PATHS: dict[str, Callable[[Database, list[Event]], list[Result]]] = {
    "execute": through_execute,
    "writer": through_the_writer,
}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_gets_a_result_and_changes_nothing(db: Database, case: str, path: str) -> None:
    events, expected = BAD_INPUT[case]
    apply = PATHS[path]
    open_books(db)
    before = snapshot(db)
    assert len(before["transfers"]) == 4

    first = apply(db, events)
    assert first == expected
    assert snapshot(db) == before

    # Sent again, it gets the same answer, or for a failure that depended on the state of
    # the ledger, the answer that the id already failed; either way nothing changes.
    again = apply(db, events)
    remembered = [
        Result.id_already_failed if r in TRANSIENT and not isinstance(e, AccountFlagsChange) else r
        for e, r in zip(events, expected, strict=True)
    ]
    assert again == remembered
    assert snapshot(db) == before
    assert failed_ids(db) == {
        e.id: r.value
        for e, r in zip(events, expected, strict=True)
        if r in TRANSIENT and not isinstance(e, AccountFlagsChange)
    }
    with read_only(db) as uow:
        report = verify(uow)
    assert report.ok, report.problems
