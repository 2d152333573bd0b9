"""Where the writer's batches are written: a batch built on one that failed is refused,
and the packed form a worker process receives is the outcome, field for field."""

from __future__ import annotations

import pickle

import pytest
from sqlalchemy import text

from guardpay.bench import ledger_io
from guardpay.bench.ledger_io import Packed, Persister, StaleBatch
from guardpay.domain.ledger.engine import apply_batch
from guardpay.domain.ledger.model import Event
from guardpay.domain.ledger.results import Result
from guardpay.domain.ledger.work import BatchOutcome
from guardpay.services.ledger.books import execute
from guardpay.storage.engine.db import Database
from guardpay.storage.ledger import InFlight, LedgerRepository
from guardpay.storage.uow import read_only, unit_of_work
from tests.factories import account, transfer, wallet

BANK, ALICE, BOB = 1, 10, 11


@pytest.fixture
def books(db: Database) -> Database:
    with unit_of_work(db) as uow:
        assert (
            execute(uow, [account(BANK, code=200), wallet(ALICE), wallet(BOB)]) == [Result.ok] * 3
        )
    return db


def compute(db: Database, events: list[Event], on: BatchOutcome | None = None) -> BatchOutcome:
    """What the writer does before handing a batch over: compute it without the lock,
    on top of a batch that is still in flight."""
    with read_only(db) as uow:
        last = on.last_timestamp if on else uow.ledger.read_clock()
        view = uow.ledger.read_view([events], 0, last, None, InFlight.of([on]) if on else None)
    return apply_batch(view, [events])


def test_a_batch_built_on_a_failed_one_is_refused_even_if_the_clock_agrees(
    books: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = compute(books, [transfer(1, BANK, ALICE, 500)])
    second = compute(books, [transfer(2, ALICE, BOB, 400)], on=first)  # spends the 500
    persister = Persister(books)
    start = _clock(books)
    with monkeypatch.context() as m:
        m.setattr(LedgerRepository, "write", _disk_full)
        with pytest.raises(OSError, match="disk full"):
            persister.persist(first, 0, start)
    # Something else moves the clock to exactly where `first` would have left it, without
    # the 500: the clock check alone would now let `second` overdraw Alice.
    with books.begin() as conn:
        conn.execute(
            text("UPDATE ledger_clock SET last_timestamp = :t"), {"t": first.last_timestamp}
        )
    with pytest.raises(StaleBatch, match="not written"):
        persister.persist(second, 0, first.last_timestamp)
    with read_only(books) as uow:
        assert uow.ledger_queries.transfer(2) is None
        alice = uow.ledger_queries.account(ALICE)
    assert alice is not None
    assert alice.balance == 0


def test_a_batch_is_refused_when_another_writer_moved_the_ledger(books: Database) -> None:
    batch = compute(books, [transfer(1, BANK, ALICE, 500)])
    start = _clock(books)
    with unit_of_work(books) as uow:  # another process writes first
        assert execute(uow, [transfer(9, BANK, BOB, 1)]) == [Result.ok]
    with pytest.raises(StaleBatch, match="moved the ledger on"):
        Persister(books).persist(batch, 0, start)
    Persister(books).persist(compute(books, [transfer(1, BANK, ALICE, 500)]), 0, _clock(books))
    with read_only(books) as uow:
        alice = uow.ledger_queries.account(ALICE)
    assert alice is not None
    assert alice.balance == 500


def test_a_packed_outcome_unpacks_to_the_same_rows(
    books: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = compute(books, [transfer(i, BANK, ALICE if i % 2 else BOB, i) for i in range(1, 50)])
    assert Packed.of(out).unpack().after == []  # two accounts: the rows are written, no need
    monkeypatch.setattr(ledger_io, "DEFER_FROM", 1)
    wire = pickle.loads(pickle.dumps(Packed.of(out)))
    back = wire.unpack()
    assert back.transfers == out.transfers
    assert back.accounts_updated == out.accounts_updated
    assert back.after == out.after
    assert [type(t).__name__ for t in back.transfers[:1]] == ["Transfer"]
    assert back.last_timestamp == out.last_timestamp
    assert back.results == []  # the callers' results never leave the writer


def _row(db: Database, account_id: int) -> tuple[int, int]:
    """Credits posted as the account's row holds them, and since when rows lag."""
    with db.read() as conn:
        credits = conn.execute(
            text("SELECT credits_posted FROM ledger_accounts WHERE id = :i"), {"i": account_id}
        ).scalar_one()
        lag = conn.execute(text("SELECT accounts_behind_since FROM ledger_clock")).scalar_one()
    return int(credits), int(lag)


def test_a_batch_moving_few_accounts_writes_their_rows_at_once(books: Database) -> None:
    persister = Persister(books, fold_every=1_000_000)

    persister.persist(compute(books, [transfer(1, BANK, ALICE, 500)]), 0, _clock(books))

    assert _row(books, ALICE) == (500, 0)


def test_a_batch_moving_many_accounts_leaves_them_behind_until_the_fold(
    books: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_io, "DEFER_FROM", 1)
    persister = Persister(books, fold_every=3)

    persister.persist(compute(books, [transfer(1, BANK, ALICE, 500)]), 0, _clock(books))
    behind = _row(books, ALICE)
    persister.persist(compute(books, [transfer(2, BANK, ALICE, 20)]), 0, _clock(books))
    persister.persist(compute(books, [transfer(3, BANK, BOB, 7)]), 0, _clock(books))

    assert behind[0] == 0  # the row lags ...
    assert behind[1] > 0  # ... and the clock row says so
    assert _row(books, ALICE) == (520, 0)  # folded at the third transfer, from memory
    assert _row(books, BOB) == (7, 0)


def _disk_full(*_: object, **__: object) -> None:
    raise OSError("disk full")


def _clock(db: Database) -> int:
    with read_only(db) as uow:
        return uow.ledger.read_clock()
