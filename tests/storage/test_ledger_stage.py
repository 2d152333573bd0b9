"""A unit of work's ledger steps are staged and written once, on both backends: each step
sees the ones before it, a savepoint rolled back takes its own steps only (written in
between or not), and what is written verifies and replays (storage/ledger_stage.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.model import NANOS_PER_SECOND, TransferFlags
from guardpay.domain.ledger.results import Result
from guardpay.services.ledger.books import Clock, execute, read_ahead, verify
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import UnitOfWork, read_only, unit_of_work
from tests.factories import account, transfer, wallet

BANK, ALICE, BOB = 1, 10, 11
SECOND = NANOS_PER_SECOND
T0 = 1_700_000_000 * SECOND
OK = Result.ok


def at(ns: int) -> Clock:
    return lambda: ns


def open_books(db: Database, *, alice: int = 10_000) -> None:
    """BANK (the reserve) and two wallets; ALICE holds `alice`."""
    with unit_of_work(db) as uow:
        opened = execute(
            uow, [account(BANK, code=AccountCode.RESERVE), wallet(ALICE), wallet(BOB)], clock=at(T0)
        )
        funded = execute(
            uow, [transfer(1, BANK, ALICE, alice, code=TransferCode.TOP_UP)], clock=at(T0)
        )
    assert opened == [OK] * 3
    assert funded == [OK]


def stored_transfers(uow: UnitOfWork) -> int:
    """Rows in the ledger's tables right now, read past the stage."""
    return int(uow.conn.execute(text("SELECT COUNT(*) FROM ledger_transfers")).scalar_one())


def balances(db: Database) -> dict[int, int]:
    with read_only(db) as uow:
        found = {i: uow.ledger_queries.account(i) for i in (ALICE, BOB)}
    return {i: a.balance for i, a in found.items() if a is not None}


def test_steps_are_staged_and_written_once_when_the_unit_ends(db: Database) -> None:
    open_books(db)
    with unit_of_work(db) as uow:
        assert execute(uow, [transfer(10, ALICE, BOB, 3_000)], clock=at(T0 + SECOND)) == [OK]
        assert execute(uow, [transfer(11, ALICE, BOB, 4_000)], clock=at(T0 + 2 * SECOND)) == [OK]
        assert stored_transfers(uow) == 1  # only the top-up: the two moves are staged
        alice = uow.ledger_account(ALICE)
        assert alice is not None
        assert alice.balance == 3_000  # the unit sees its staged steps
    assert balances(db) == {ALICE: 3_000, BOB: 7_000}
    with read_only(db) as uow:
        assert verify(uow).ok
        history = uow.ledger_queries.balance_history(ALICE).items
    # oldest first: every step's balance is kept, though the account row was written once
    assert [h.credits_posted - h.debits_posted for h in history] == [10_000, 7_000, 3_000]


def test_a_step_sees_what_the_steps_before_it_staged(db: Database) -> None:
    open_books(db, alice=5_000)
    with unit_of_work(db) as uow:
        first = execute(uow, [transfer(10, ALICE, BOB, 4_000)], clock=at(T0 + SECOND))
        overdraft = execute(uow, [transfer(11, ALICE, BOB, 4_000)], clock=at(T0 + SECOND))
        again = execute(uow, [transfer(10, ALICE, BOB, 4_000)], clock=at(T0 + SECOND))
    assert first == [OK]
    assert overdraft == [Result.exceeds_credits]
    assert again == [Result.exists]
    assert balances(db) == {ALICE: 1_000, BOB: 4_000}


def test_a_savepoint_rolled_back_takes_its_own_steps_only(db: Database) -> None:
    open_books(db)
    with unit_of_work(db) as uow:
        execute(uow, [transfer(10, ALICE, BOB, 1_000)], clock=at(T0 + SECOND))
        point = uow.savepoint()
        execute(uow, [transfer(11, ALICE, BOB, 2_000)], clock=at(T0 + SECOND))
        point.rollback()
        execute(uow, [transfer(12, ALICE, BOB, 4_000)], clock=at(T0 + SECOND))
    assert balances(db) == {ALICE: 5_000, BOB: 5_000}
    with read_only(db) as uow:
        assert uow.ledger_queries.transfer(11) is None
        assert verify(uow).ok


def test_a_rollback_after_the_stage_was_written_stages_the_earlier_steps_again(
    db: Database,
) -> None:
    """Reading the ledger's tables writes the stage; the savepoint taken before that
    write then undoes it in SQL, and the steps staged before the savepoint come back."""
    open_books(db)
    with unit_of_work(db) as uow:
        execute(uow, [transfer(10, ALICE, BOB, 1_000)], clock=at(T0 + SECOND))
        point = uow.savepoint()
        execute(uow, [transfer(11, ALICE, BOB, 2_000)], clock=at(T0 + SECOND))
        assert uow.ledger_queries.transfer(11) is not None  # written to be read
        point.rollback()
        assert stored_transfers(uow) == 1
        alice = uow.ledger_account(ALICE)
        assert alice is not None
        assert alice.balance == 9_000  # transfer 10 is staged again
    assert balances(db) == {ALICE: 9_000, BOB: 1_000}
    with read_only(db) as uow:
        assert uow.ledger_queries.transfer(10) is not None
        assert uow.ledger_queries.transfer(11) is None
        assert verify(uow).ok


@pytest.mark.parametrize("written_between", [False, True])
def test_an_expired_hold_is_voided_once_however_many_steps_follow(
    db: Database, written_between: bool
) -> None:
    """Staged steps meet the void their first step staged; a stage written meanwhile
    leaves them the void as stored."""
    open_books(db)
    with unit_of_work(db) as uow:
        held = execute(
            uow,
            [transfer(10, ALICE, BOB, 6_000, flags=TransferFlags.PENDING, timeout=1)],
            clock=at(T0 + SECOND),
        )
    assert held == [OK]
    later = T0 + 10 * SECOND
    with unit_of_work(db) as uow:
        assert execute(uow, [transfer(11, ALICE, BOB, 1_000)], clock=at(later)) == [OK]
        if written_between:
            uow.ledger_queries.account(ALICE)  # writes the stage: the void is stored
        assert execute(uow, [transfer(12, ALICE, BOB, 1_000)], clock=at(later)) == [OK]
        assert execute(uow, [transfer(13, ALICE, BOB, 1_000)], clock=at(later)) == [OK]
    assert balances(db) == {ALICE: 7_000, BOB: 3_000}
    with read_only(db) as uow:
        assert verify(uow).ok
        alice = uow.ledger_queries.account(ALICE)
    assert alice is not None
    assert alice.debits_pending == 0


def _rewrite_alice(uow: UnitOfWork, credits: int) -> None:
    """ALICE's stored row changed behind the ledger's back (the clock left as it is)."""
    uow.conn.exec_driver_sql(
        f"UPDATE ledger_accounts SET credits_posted = {credits} WHERE id = {ALICE}"
    )


def test_accounts_read_ahead_serve_the_steps_while_the_clock_stands(db: Database) -> None:
    """Read ahead before the lock, they are what the first step reads: a row changed
    afterwards without moving the clock (which no writer can do) goes unseen."""
    open_books(db)
    with unit_of_work(db) as uow:
        read_ahead(uow, [ALICE, BOB])
        _rewrite_alice(uow, 1)
        assert execute(uow, [transfer(10, ALICE, BOB, 2_500)], clock=at(T0 + SECOND)) == [OK]
        assert set(uow.ledger_stage.stored) == {ALICE, BOB}
        alice = uow.ledger_account(ALICE)
        assert alice is not None
        assert alice.balance == 7_500


def test_accounts_read_ahead_are_dropped_when_the_clock_moved(db: Database) -> None:
    """Another writer moved the ledger between the read-ahead and the lock: the step
    reads the accounts again."""
    open_books(db)
    with unit_of_work(db) as uow:
        read_ahead(uow, [ALICE, BOB])
        _rewrite_alice(uow, 20_000)
        uow.conn.exec_driver_sql("UPDATE ledger_clock SET last_timestamp = last_timestamp + 1")
        assert execute(uow, [transfer(10, ALICE, BOB, 12_000)], clock=at(T0 + SECOND)) == [OK]
        alice = uow.ledger_account(ALICE)
        assert alice is not None
        assert alice.balance == 8_000
