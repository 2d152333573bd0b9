"""Transfers in time partitions (storage/ledger_parts.py), on both backends, with parts of
two transfers: a full part is sealed by the next batch; ids stay unique, holds resolve,
pages, lookups, lagging rows and `ledger verify` work across parts; downgrading puts every
part back into one table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.ledger.model import Event, TransferFlags
from guardpay.domain.ledger.results import Result
from guardpay.services.ledger.books import execute, verify
from guardpay.storage import ledger_parts
from guardpay.storage.engine.db import Database
from guardpay.storage.engine.migrate import alembic_config, upgrade
from guardpay.storage.ledger import TRANSFER_COLS
from guardpay.storage.ledger_parts import Part
from guardpay.storage.ledger_queries import Page
from guardpay.storage.uow import read_only, unit_of_work
from tests.factories import account, post, transfer, void, wallet
from tests.storage.test_deferred_accounts import write_deferred

BANK, ALICE, BOB = 1, 10, 11
OK = Result.ok
HOLD = TransferFlags.PENDING
T = TypeVar("T")


@pytest.fixture(autouse=True)
def two_a_part(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_parts, "TRANSFERS_PER_PART", 2)


def run(db: Database, events: list[Event]) -> list[Result]:
    with unit_of_work(db) as uow:
        return execute(uow, events)


def parts_of(db: Database) -> list[Part]:
    with read_only(db) as uow:
        return uow.ledger.parts.all()


def open_books(db: Database) -> None:
    """Part 0: the bank paid Alice 1,000 and Bob 500."""
    events: list[Event] = [account(BANK, code=AccountCode.RESERVE), wallet(ALICE), wallet(BOB)]
    events += [transfer(1, BANK, ALICE, 1_000), transfer(2, BANK, BOB, 500)]
    assert run(db, events) == [OK] * 5


def five_parts(db: Database) -> None:
    """Transfers 1 to 9, one batch each after the books open: parts of 2, 2, 2, 2, 1."""
    open_books(db)
    for tid in range(3, 10):
        assert run(db, [transfer(tid, ALICE if tid % 2 else BOB, BOB if tid % 2 else ALICE, tid)])


def test_a_full_part_is_sealed_by_the_next_batch(db: Database) -> None:
    five_parts(db)

    parts = parts_of(db)
    assert [(p.name, p.rows, p.sealed) for p in parts] == [
        ("ledger_transfers", 2, True),
        ("ledger_transfers_p0001", 2, True),
        ("ledger_transfers_p0002", 2, True),
        ("ledger_transfers_p0003", 2, True),
        ("ledger_transfers_p0004", 1, False),
    ]
    firsts = [p.first_timestamp for p in parts]
    assert firsts == sorted(firsts)
    with read_only(db) as uow:
        sealed = parts[1]
        assert sorted(uow.ledger.parts.filter(sealed).maybe([3, 4])) == [3, 4]
        report = verify(uow)
    assert report.ok, report.problems
    assert (report.accounts, report.transfers) == (3, 9)


@pytest.mark.parametrize(
    "statement",
    ["UPDATE ledger_transfers_p0001 SET amount = 1", "DELETE FROM ledger_transfers_p0002"],
)
def test_a_later_part_refuses_changes_as_the_first_does(db: Database, statement: str) -> None:
    five_parts(db)

    with pytest.raises(DBAPIError, match="immutable"), db.begin() as conn:
        conn.execute(text(statement))


def test_an_id_in_a_sealed_part_is_not_written_again(db: Database) -> None:
    five_parts(db)

    again = run(db, [transfer(1, BANK, ALICE, 1_000), transfer(4, BOB, ALICE, 5)])

    assert again == [Result.exists, Result.exists_with_different_amount]
    with read_only(db) as uow:
        assert verify(uow).transfers == 9


def test_holds_in_a_sealed_part_post_and_void_from_a_later_one(db: Database) -> None:
    open_books(db)
    assert run(db, [transfer(3, ALICE, BOB, 300, flags=HOLD), transfer(4, BOB, ALICE, 50)]) == [
        OK,
        OK,
    ]
    assert run(db, [transfer(5, ALICE, BOB, 200, flags=HOLD), transfer(6, BOB, ALICE, 5)]) == [
        OK,
        OK,
    ]

    assert run(db, [post(7, 3, 250), void(8, 5)]) == [OK, OK]

    with read_only(db) as uow:
        alice = uow.ledger_queries.account(ALICE)
        report = verify(uow)
    assert report.ok, report.problems
    assert alice is not None
    assert (alice.debits_pending, alice.debits_posted, alice.credits_posted) == (0, 250, 1_055)
    assert len(parts_of(db)) == 4


def test_account_pages_walk_the_parts_newest_first(db: Database) -> None:
    five_parts(db)

    with read_only(db) as uow:
        q = uow.ledger_queries
        newest = list(_pages(lambda c: q.account_transfers(ALICE, cursor=c, limit=2)))
        oldest = list(
            _pages(lambda c: q.account_transfers(ALICE, cursor=c, limit=3, newest_first=False))
        )
        history = list(_pages(lambda c: q.account_history(ALICE, before=c, limit=4)))
        found = [q.transfer(tid) for tid in range(1, 10)]

    assert [t.id for t in newest] == [9, 8, 7, 6, 5, 4, 3, 1]
    assert [t.id for t in oldest] == [1, 3, 4, 5, 6, 7, 8, 9]
    assert [h.transfer.id for h in history] == [9, 8, 7, 6, 5, 4, 3, 1]
    after_8 = 1_000 - 3 + 4 - 5 + 6 - 7 + 8  # odd ids: Alice pays Bob; even: Bob pays Alice
    assert [h.balance_after for h in history[:2]] == [after_8 - 9, after_8]
    assert [t.id if t else None for t in found] == list(range(1, 10))


def _pages(read: Callable[[int | None], Page[T]]) -> Iterator[T]:
    cursor = None
    while True:
        page = read(cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def test_rows_left_behind_over_several_parts_read_as_of_now(db: Database) -> None:
    open_books(db)
    for tid in range(3, 8):  # parts 1, 2 and 3, each batch leaving the rows behind
        assert write_deferred(db, [transfer(tid, ALICE, BOB, 10)]) == [OK]
    assert write_deferred(db, [transfer(8, BANK, ALICE, 1)]) == [OK]

    with read_only(db) as uow:
        alice, bob = uow.ledger.accounts_by_id([ALICE, BOB]).values()
        report = verify(uow)
    assert report.ok, report.problems
    assert (alice.debits_posted, alice.credits_posted) == (50, 1_001)
    assert (bob.debits_posted, bob.credits_posted) == (0, 550)
    with unit_of_work(db) as uow:
        uow.ledger.lock_clock()
        assert uow.ledger.fold() == 3
    with read_only(db) as uow:
        assert uow.ledger.lag() == 0
        assert verify(uow).ok


def test_verify_names_a_later_part_that_lost_its_guard(db: Database) -> None:
    five_parts(db)
    with db.begin() as conn:
        if db.backend == "sqlite":
            conn.execute(text("DROP TRIGGER ledger_transfers_p0002_no_delete"))
        else:
            conn.execute(
                text("DROP TRIGGER ledger_transfers_p0002_immutable ON ledger_transfers_p0002")
            )

    with read_only(db) as uow:
        problems = verify(uow).problems

    assert [(p.check, p.message) for p in problems] == [
        (
            "immutable",
            "the triggers that forbid changing transfers are missing on ['ledger_transfers_p0002']",
        )
    ]


def test_downgrading_puts_every_part_back_into_one_table(database_url: str) -> None:
    db = Database(database_url)
    try:
        upgrade(db)
        five_parts(db)
        assert run(db, [transfer(10, ALICE, BOB, 300, flags=HOLD)]) == [OK]

        command.downgrade(alembic_config(db), "0015_deferred_accounts")
        with db.read() as conn:
            ids = conn.execute(text("SELECT id FROM ledger_transfers ORDER BY timestamp")).all()
        assert [r[0] for r in ids] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]

        upgrade(db)
        assert [(p.name, p.rows) for p in parts_of(db)] == [("ledger_transfers", 10)]
        assert run(db, [post(11, 10), transfer(12, BOB, ALICE, 1)]) == [OK, OK]
        with read_only(db) as uow:
            report = verify(uow)
        assert report.ok, report.problems
        assert report.transfers == 12
        assert [p.name for p in parts_of(db)] == ["ledger_transfers", "ledger_transfers_p0001"]
    finally:
        db.dispose()


def _copy_transfer(db: Database, tid: int, into: str, *, new_id: int | None = None) -> None:
    """Plant, by hand, a copy of transfer `tid` at a new time in table `into`."""
    cols = TRANSFER_COLS.replace("timestamp", "timestamp + 1000")
    if new_id is not None:
        cols = cols.replace("id,", f"{new_id},", 1)
    table = next(p.name for p in parts_of(db) if p.sealed and tid in _ids(db, p.name))
    with db.begin() as conn:
        conn.execute(
            text(f"INSERT INTO {into} ({TRANSFER_COLS}) SELECT {cols} FROM {table} WHERE id = :t"),
            {"t": tid},
        )


def _ids(db: Database, table: str) -> set[int]:
    with db.read() as conn:
        return {r[0] for r in conn.execute(text(f"SELECT id FROM {table}"))}


def parts_problems(db: Database) -> list[str]:
    with read_only(db) as uow:
        return [p.message for p in verify(uow).problems if p.check == "parts"]


def test_verify_sees_a_row_planted_in_a_sealed_part(db: Database) -> None:
    five_parts(db)

    _copy_transfer(db, 3, "ledger_transfers_p0001", new_id=99)

    assert parts_problems(db) == [
        "ledger_transfers_p0001 holds 3 transfers, sealed with 2",
        "ledger_transfers_p0001's ids are not those its filter was built from",
    ]


def test_verify_sees_an_id_held_twice_across_parts(db: Database) -> None:
    five_parts(db)

    _copy_transfer(db, 3, "ledger_transfers_p0004")

    assert parts_problems(db) == ["1 transfer ids are held twice, e.g. [3]"]


def test_verify_sees_a_part_the_registry_lost(db: Database) -> None:
    five_parts(db)
    with db.begin() as conn:
        conn.execute(text("DELETE FROM ledger_parts WHERE part = 4"))

    assert parts_problems(db) == [
        "transfer tables missing from ledger_parts: ['ledger_transfers_p0004']"
    ]
