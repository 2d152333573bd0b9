"""The ledger repository and queries on both backends: what a batch writes is what is read."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.model import (
    INT64_MAX,
    NANOS_PER_SECOND,
    Account,
    PendingState,
    PendingStatus,
    Transfer,
    TransferFlags,
)
from guardpay.domain.ledger.results import Result
from guardpay.services.ledger.books import Clock, execute, verify
from guardpay.storage.engine.db import Database
from guardpay.storage.ledger_queries import BalanceRow
from guardpay.storage.uow import read_only, unit_of_work
from tests.factories import CNY, WALLET_FLAGS, account, post, transfer, wallet

BANK, ALICE, BOB, CAROL = 1, 10, 11, 12
SECOND = NANOS_PER_SECOND
T0 = 1_700_000_000 * SECOND  # a fixed "now" for tests that move time by hand
OK = Result.ok


def at(ns: int) -> Clock:
    return lambda: ns


def open_books(db: Database, *, clock: Clock | None = None) -> None:
    """BANK (the reserve: may run negative) and three wallets."""
    with unit_of_work(db) as uow:
        opened = execute(
            uow,
            [account(BANK, code=AccountCode.RESERVE), wallet(ALICE), wallet(BOB), wallet(CAROL)],
            clock=clock or at(T0),
        )
    assert opened == [OK] * 4


def account_of(db: Database, account_id: int) -> Account:
    with read_only(db) as uow:
        found = uow.ledger_queries.account(account_id)
    assert found is not None
    return found


def test_a_batch_round_trips_through_the_repository(db: Database) -> None:
    with unit_of_work(db) as uow:
        opened = execute(
            uow,
            [
                account(BANK, code=AccountCode.RESERVE, user_data_64=7, user_data_32=3),
                wallet(ALICE),
                wallet(BOB),
            ],
            clock=at(T0),
        )
        moved = execute(
            uow,
            [
                transfer(1, BANK, ALICE, 50_000, code=TransferCode.TOP_UP, user_data_64=42),
                transfer(2, ALICE, BOB, 2_000, flags=TransferFlags.PENDING, timeout=60),
                transfer(3, ALICE, BOB, 999_999),
            ],
            clock=at(T0 + SECOND),
        )
    assert opened == [OK] * 3
    assert moved == [OK, OK, Result.exceeds_credits]

    # Accounts are stamped in order from the clock; transfers continue from the clock.
    topup_ts, hold_ts = T0 + SECOND + 1, T0 + SECOND + 2
    stored_topup = transfer(1, BANK, ALICE, 50_000, code=TransferCode.TOP_UP, user_data_64=42)
    stored_hold = transfer(2, ALICE, BOB, 2_000, flags=TransferFlags.PENDING, timeout=60)
    alice = Account(
        ALICE,
        CNY,
        AccountCode.CUSTOMER_WALLET,
        WALLET_FLAGS,
        debits_pending=2_000,
        credits_posted=50_000,
        timestamp=T0 + 2,
    )

    with unit_of_work(db) as uow:
        view = uow.ledger.load_view(
            [[transfer(1, BANK, ALICE, 50_000), post(4, 2), transfer(3, ALICE, BOB, 1)]],
            T0 + 2 * SECOND,
        )
    assert view.last_timestamp == hold_ts
    assert view.now == T0 + 2 * SECOND
    assert view.accounts.keys() == {BANK, ALICE, BOB}
    assert view.accounts[ALICE] == alice
    assert view.accounts[BANK] == Account(
        BANK, CNY, AccountCode.RESERVE, 0, 7, 3, debits_posted=50_000, timestamp=T0 + 1
    )
    assert view.transfers == {
        1: stored_topup._replace(timestamp=topup_ts),
        2: stored_hold._replace(timestamp=hold_ts),
    }
    assert view.pending == {2: PendingState(2, PendingStatus.PENDING, hold_ts + 60 * SECOND)}
    assert view.failed == {3: Result.exceeds_credits}
    assert list(view.expiring) == []

    with read_only(db) as uow:
        assert uow.ledger_queries.account(ALICE) == alice
        assert uow.ledger_queries.transfer(1) == stored_topup._replace(timestamp=topup_ts)
        assert uow.ledger_queries.transfer(3) is None  # a failed transfer is not a fact
        assert uow.ledger_queries.account(404) is None
        assert uow.ledger_queries.transfer(404) is None
        assert verify(uow).ok


def test_a_unit_of_work_that_fails_leaves_no_ledger_trace(db: Database) -> None:
    open_books(db)

    def top_up_then_fail() -> None:
        with unit_of_work(db) as uow:
            assert execute(uow, [transfer(1, BANK, ALICE, 10_000)]) == [OK]
            raise RuntimeError("the payment row failed")

    with pytest.raises(RuntimeError, match="the payment row failed"):
        top_up_then_fail()
    with read_only(db) as uow:
        assert uow.ledger_queries.transfer(1) is None
        assert uow.ledger_queries.counts() == (4, 0)
    assert account_of(db, ALICE).balance == 0
    with unit_of_work(db) as uow:  # the id was never used, so it may be sent again
        assert execute(uow, [transfer(1, BANK, ALICE, 10_000)]) == [OK]
    assert account_of(db, ALICE).balance == 10_000


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_transfers SET amount = 1 WHERE id = 1",
        "UPDATE ledger_transfers SET credit_account_id = 11 WHERE id = 1",
        "DELETE FROM ledger_transfers WHERE id = 1",
        "DELETE FROM ledger_transfers",
    ],
)
def test_transfers_are_immutable(db: Database, statement: str) -> None:
    open_books(db)
    with unit_of_work(db) as uow:
        assert execute(uow, [transfer(1, BANK, ALICE, 10_000)]) == [OK]
    with read_only(db) as uow:
        before = uow.ledger_queries.transfer(1)

    with pytest.raises(DBAPIError, match="ledger transfers are immutable"), db.begin() as conn:
        conn.execute(text(statement))

    with read_only(db) as uow:
        assert uow.ledger_queries.transfer(1) == before
        assert before is not None
        assert before.amount == 10_000


def test_accounts_page_in_creation_order(db: Database) -> None:
    ids = [BANK, *range(100, 107)]
    with unit_of_work(db) as uow:
        opened = execute(uow, [account(BANK, code=AccountCode.RESERVE)])
        opened += execute(uow, [wallet(i) for i in ids[1:]])
    assert opened == [OK] * len(ids)

    pages: list[list[int]] = []
    cursor = 0
    with read_only(db) as uow:
        while True:
            page = uow.ledger_queries.accounts(after=cursor, limit=3)
            pages.append([a.id for a in page.items])
            if page.next_cursor is None:
                break
            assert page.next_cursor == page.items[-1].timestamp
            cursor = page.next_cursor
        everything = uow.ledger_queries.accounts(limit=len(ids))
    assert pages == [ids[0:3], ids[3:6], ids[6:8]]
    assert [a.id for a in everything.items] == ids
    assert everything.next_cursor is None


@pytest.mark.parametrize("limit", [1, 4, 7])
def test_account_transfers_page_newest_first_without_gaps(db: Database, limit: int) -> None:
    open_books(db)
    with unit_of_work(db) as uow:
        funded = execute(uow, [transfer(1, BANK, ALICE, 10**6), transfer(2, BANK, BOB, 10**6)])
    assert funded == [OK, OK]
    # Alice pays, is paid and is topped up, in several batches; Bob and Carol trade beside her.
    pairs = ((ALICE, BOB), (BOB, ALICE), (BOB, CAROL), (BANK, ALICE), (ALICE, CAROL))
    touching_alice = [1]
    next_id = 3
    for _ in range(5):
        batch: list[Transfer] = []
        for debit, credit in pairs:
            batch.append(transfer(next_id, debit, credit, 100 + next_id))
            if ALICE in (debit, credit):
                touching_alice.append(next_id)
            next_id += 1
        with unit_of_work(db) as uow:
            assert execute(uow, batch) == [OK] * len(batch)
    newest_first = touching_alice[::-1]

    seen: list[int] = []
    pages = 0
    cursor: int | None = None
    with read_only(db) as uow:
        while True:
            page = uow.ledger_queries.account_transfers(ALICE, cursor=cursor, limit=limit)
            pages += 1
            assert 0 < len(page.items) <= limit
            assert all(ALICE in (t.debit_account_id, t.credit_account_id) for t in page.items)
            seen.extend(t.id for t in page.items)
            if page.next_cursor is None:
                break
            assert len(page.items) == limit
            cursor = page.next_cursor
        oldest_first = uow.ledger_queries.account_transfers(
            ALICE, limit=len(touching_alice), newest_first=False
        )
    assert seen == newest_first  # no duplicates, no gaps, newest first
    assert pages == -(-len(touching_alice) // limit)
    assert pages > 2
    assert [t.id for t in oldest_first.items] == touching_alice
    assert oldest_first.next_cursor is None


def test_account_transfers_page_oldest_first_with_a_cursor(db: Database) -> None:
    open_books(db)
    with unit_of_work(db) as uow:
        events = [transfer(i, BANK, ALICE, 100) for i in range(1, 6)]
        events += [transfer(i, ALICE, BOB, 10) for i in range(6, 11)]
        assert execute(uow, events) == [OK] * 10
    seen: list[int] = []
    cursor: int | None = None
    with read_only(db) as uow:
        while True:
            page = uow.ledger_queries.account_transfers(
                ALICE, cursor=cursor, limit=3, newest_first=False
            )
            seen.extend(t.id for t in page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert seen == list(range(1, 11))


def test_balance_history_records_every_change_of_a_history_account(db: Database) -> None:
    open_books(db)
    hold = TransferFlags.PENDING
    with unit_of_work(db) as uow:
        results = execute(uow, [transfer(1, BANK, ALICE, 10_000)])
        results += execute(uow, [transfer(2, ALICE, BOB, 3_000)])
        results += execute(uow, [transfer(3, ALICE, CAROL, 2_000, flags=hold)])
        results += execute(uow, [post(4, 3, 1_500)])
        results += execute(uow, [transfer(5, ALICE, BOB, 999_999)])  # refused: no history row
    assert results == [OK, OK, OK, OK, Result.exceeds_credits]

    with read_only(db) as uow:
        q = uow.ledger_queries
        stamps = [t.timestamp for t in (q.transfer(i) for i in range(1, 5)) if t is not None]
        first = q.balance_history(ALICE, limit=2)
        assert first.next_cursor is not None
        rest = q.balance_history(ALICE, cursor=first.next_cursor, limit=2)
        bank = q.balance_history(BANK)
        carol = q.balance_history(CAROL)
    assert len(stamps) == 4
    #          timestamp  debits_pending debits_posted credits_pending credits_posted
    assert first.items + rest.items == [
        BalanceRow(stamps[0], 0, 0, 0, 10_000),
        BalanceRow(stamps[1], 0, 3_000, 0, 10_000),
        BalanceRow(stamps[2], 2_000, 3_000, 0, 10_000),
        BalanceRow(stamps[3], 0, 4_500, 0, 10_000),
    ]
    assert rest.next_cursor is None
    assert carol.items == [
        BalanceRow(stamps[2], 0, 0, 2_000, 0),
        BalanceRow(stamps[3], 0, 0, 0, 1_500),
    ]
    assert bank.items == []  # the reserve was opened without the history flag


def test_a_timed_out_hold_is_released_by_the_next_batch(db: Database) -> None:
    open_books(db, clock=at(T0))
    with unit_of_work(db) as uow:
        held = execute(
            uow,
            [
                transfer(1, BANK, ALICE, 10_000),
                transfer(2, ALICE, BOB, 4_000, flags=TransferFlags.PENDING, timeout=30),
            ],
            clock=at(T0 + SECOND),
        )
    assert held == [OK, OK]
    hold_ts = T0 + SECOND + 2
    assert account_of(db, ALICE).available == 6_000

    # 29 seconds on, the hold still stands: a batch passes it by.
    with unit_of_work(db) as uow:
        assert execute(uow, [transfer(3, BANK, CAROL, 1)], clock=at(hold_ts + 29 * SECOND)) == [OK]
    assert account_of(db, ALICE).debits_pending == 4_000
    assert account_of(db, BOB).credits_pending == 4_000

    # At 30 seconds it has expired, and the next batch (whatever it is about) releases it.
    with unit_of_work(db) as uow:
        assert execute(uow, [transfer(4, BANK, CAROL, 1)], clock=at(hold_ts + 30 * SECOND)) == [OK]
    alice, bob = account_of(db, ALICE), account_of(db, BOB)
    assert (alice.debits_pending, alice.debits_posted, alice.available) == (0, 0, 10_000)
    assert (bob.credits_pending, bob.credits_posted) == (0, 0)
    with read_only(db) as uow:
        status = uow.conn.execute(
            text("SELECT status FROM ledger_pending WHERE transfer_id = 2")
        ).scalar_one()
        history = uow.ledger_queries.balance_history(ALICE).items
        assert verify(uow).ok
    assert status == PendingStatus.EXPIRED
    assert history[-1].debits_pending == 0
    assert history[-1].timestamp > hold_ts + 30 * SECOND - 1

    # An expired hold can be neither posted nor voided.
    with unit_of_work(db) as uow:
        late = execute(uow, [post(5, 2)], clock=at(hold_ts + 31 * SECOND))
    assert late == [Result.pending_transfer_expired]
    assert account_of(db, BOB).credits_posted == 0


def test_a_hold_posted_before_its_timeout_is_not_expired_later(db: Database) -> None:
    open_books(db, clock=at(T0))
    with unit_of_work(db) as uow:
        results = execute(
            uow,
            [
                transfer(1, BANK, ALICE, 10_000),
                transfer(2, ALICE, BOB, 4_000, flags=TransferFlags.PENDING, timeout=30),
            ],
            clock=at(T0 + SECOND),
        )
        results += execute(uow, [post(3, 2)], clock=at(T0 + 10 * SECOND))
        results += execute(uow, [transfer(4, BANK, CAROL, 1)], clock=at(T0 + 100 * SECOND))
    assert results == [OK, OK, OK, OK]
    alice = account_of(db, ALICE)
    assert (alice.debits_pending, alice.debits_posted) == (0, 4_000)
    assert account_of(db, BOB).balance == 4_000
    with read_only(db) as uow:
        assert verify(uow).ok


def test_a_failed_id_stays_failed_across_transactions(db: Database) -> None:
    open_books(db)
    with unit_of_work(db) as uow:
        first = execute(uow, [transfer(7, ALICE, BOB, 5_000)])
    assert first == [Result.exceeds_credits]
    with unit_of_work(db) as uow:  # Alice is topped up: the same payment would now fit
        assert execute(uow, [transfer(1, BANK, ALICE, 50_000)]) == [OK]

    other = Database(db.url)  # a different engine: the memory is in the database
    try:
        with unit_of_work(other) as uow:
            retried = execute(uow, [transfer(7, ALICE, BOB, 5_000)])
            elsewhere = execute(uow, [transfer(7, ALICE, CAROL, 1)])
        with unit_of_work(other) as uow:
            fresh = execute(uow, [transfer(8, ALICE, BOB, 5_000)])
    finally:
        other.dispose()
    assert retried == [Result.id_already_failed]
    assert elsewhere == [Result.id_already_failed]
    assert fresh == [OK]
    assert account_of(db, BOB).balance == 5_000
    with read_only(db) as uow:
        assert uow.ledger_queries.transfer(7) is None


@pytest.mark.parametrize("payees", [64, 65, 300])
def test_a_large_batch_is_written_exactly(db: Database, payees: int) -> None:
    """Past 64 rows PostgreSQL takes the bulk path (COPY, unnest): the rows must not change."""
    first = 1_000
    ids = range(first, first + payees)
    with unit_of_work(db) as uow:
        opened = execute(uow, [account(BANK, code=AccountCode.RESERVE), wallet(ALICE)])
        opened += execute(uow, [wallet(i) for i in ids])
        funded = execute(uow, [transfer(1, BANK, ALICE, 10**9, code=TransferCode.TOP_UP)])
    assert opened == [OK] * (2 + payees)
    assert funded == [OK]

    def payment(i: int) -> Transfer:  # every third one is a hold
        held = i % 3 == 0
        return transfer(
            10_000 + i,
            ALICE,
            i,
            100 + i,
            flags=TransferFlags.PENDING if held else 0,
            timeout=60 if held else 0,
            user_data_64=2**62 + i,
            user_data_32=i,
            code=TransferCode.MERCHANT_PAYMENT,
        )

    batch = [payment(i) for i in ids]
    with unit_of_work(db) as uow:
        assert execute(uow, batch) == [OK] * payees

    with read_only(db) as uow:
        q = uow.ledger_queries
        stored = [q.transfer(t.id) for t in batch]
        accounts = {i: q.account(i) for i in ids}
        alice = q.account(ALICE)
        assert verify(uow).ok
    stamps = [s.timestamp for s in stored if s is not None]
    assert len(stamps) == payees
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == payees
    assert [s._replace(timestamp=0) for s in stored if s is not None] == batch
    for i, found in accounts.items():
        assert found is not None
        held = i % 3 == 0
        expected = (100 + i, 0) if held else (0, 100 + i)
        assert (found.credits_pending, found.credits_posted) == expected, i
    held_total = sum(100 + i for i in ids if i % 3 == 0)
    paid_total = sum(100 + i for i in ids if i % 3)
    assert alice is not None
    assert (alice.debits_pending, alice.debits_posted) == (held_total, paid_total)


def test_64_bit_ids_and_amounts_round_trip(db: Database) -> None:
    biggest = INT64_MAX - 1  # INT64_MAX itself is reserved
    whale, hold_id = biggest, biggest - 1
    with unit_of_work(db) as uow:
        results = execute(
            uow,
            [
                account(BANK, code=AccountCode.RESERVE, user_data_64=INT64_MAX),
                wallet(whale),
                wallet(ALICE),
            ],
        )
        results += execute(uow, [transfer(biggest, BANK, whale, INT64_MAX - 10)])
        results += execute(
            uow, [transfer(hold_id, whale, ALICE, 10**18, flags=TransferFlags.PENDING)]
        )
        results += execute(uow, [post(biggest - 2, hold_id)])
        results += execute(uow, [transfer(biggest - 3, BANK, whale, 11)])
    assert results == [OK] * 6 + [Result.overflows_debits_posted]

    with read_only(db) as uow:
        q = uow.ledger_queries
        rich = q.account(whale)
        bank = q.account(BANK)
        first = q.transfer(biggest)
        history = q.account_transfers(whale).items
        report = verify(uow)
    assert rich is not None
    assert bank is not None
    assert first is not None
    assert (rich.credits_posted, rich.debits_posted) == (INT64_MAX - 10, 10**18)
    assert (bank.debits_posted, bank.user_data_64) == (INT64_MAX - 10, INT64_MAX)
    assert (first.id, first.amount) == (biggest, INT64_MAX - 10)
    assert [t.id for t in history] == [biggest - 2, hold_id, biggest]
    assert report.ok, report.problems
