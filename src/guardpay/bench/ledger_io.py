"""Where the ledger writer's batches are written: on a thread, or in a worker process.

The writer computes a batch while the previous one is written (see ledger_writer.py).
On a thread that overlap is limited by the GIL, since binding rows for SQLite holds it;
a worker process has its own interpreter, so computing and writing use two cores. The
worker is spawned once per writer with its own connection; if it dies, the pool is
rebuilt and the batch it held is redone by the writer under the lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import itertools
import multiprocessing
from array import array
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Protocol, TypeVar, cast

from guardpay.domain.ledger.model import Account, Transfer
from guardpay.domain.ledger.verify import Counters
from guardpay.domain.ledger.work import After, BatchOutcome
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import unit_of_work


@contextmanager
def collector_paused() -> Iterator[None]:
    """A batch allocates tens of thousands of short-lived objects; letting the cyclic
    collector scan the heap mid-batch costs more than the batch. It runs after."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


_Row = TypeVar("_Row", Account, Transfer)


class StaleBatch(Exception):
    """The batch was computed on a state the ledger is not in: someone else wrote, or the
    batch it was computed on top of was never written."""


#: A batch leaves account rows behind only when it moves at least this many accounts.
#: Fewer rows are few pages to rewrite, and carrying balances costs every transfer
#: eight more values: measured with `bench ledger`, deferring made 10,000 accounts 0.8x
#: as fast (a batch moves ~5,600 of them) and a million 1.2-1.5x as fast (~16,000).
DEFER_FROM = 8_192


def leaves_rows(out: BatchOutcome) -> bool:
    """Whether a deferring writer leaves this batch's account rows behind."""
    return len(out.accounts_updated) >= DEFER_FROM


class Persister:
    """Writes batches in the order they are handed over, each in one transaction.

    The writer hands over batch N+1 before N has committed (N+1 was computed on N's
    outcome). So a batch is written only if the ledger clock still reads what it was
    computed against and the batch under it was written: once a batch fails, every batch
    computed on top of it is refused too, whatever the clock says (a redo of the failed
    batch could end at the same clock value with different content).
    """

    def __init__(self, db: Database, fold_every: int = 0) -> None:
        """`fold_every` > 0: account rows are left behind (storage/ledger.py, "Deferred
        accounts") and folded in once that many transfers were written since the last
        fold, in the transaction of the batch that reached it."""
        self.db = db
        self.fold_every = fold_every
        self._since_fold = 0
        #: the rows this persister left behind: id -> (as of, counters); None while rows
        #: it did not leave may lag too (a writer before it died unfolded)
        self._owed: dict[int, tuple[int, Counters]] | None = None
        self._refused: set[int] = set()  # end clocks of batches that were never written

    def persist(self, outcome: BatchOutcome, now: int, expected_clock: int) -> None:
        try:
            if expected_clock in self._refused:
                raise StaleBatch("the batch under this one was not written")
            written = self._since_fold + len(outcome.transfers)
            fold = bool(self.fold_every) and written >= self.fold_every
            with unit_of_work(self.db) as uow:
                repo = uow.ledger
                if repo.lock_clock() != expected_clock:
                    raise StaleBatch("another writer moved the ledger on")
                owed = self._owed
                if owed is None and not repo.lag():
                    owed = {}
                defer = bool(self.fold_every) and leaves_rows(outcome)
                behind = repo.write(outcome, now, defer=defer)
                if owed is not None:  # updated in place: on failure it is dropped below
                    at = outcome.last_timestamp
                    for a in behind:
                        owed[a.id] = (at, _counters(a))
                if fold:
                    repo.fold(owed)
            self._owed = {} if fold else owed
            self._since_fold = 0 if fold else written
        except BaseException:
            self._owed = None  # it may hold what did not commit: fold from the transfers
            if len(self._refused) > 1_000:  # only in-flight batches can build on these
                self._refused.clear()
            self._refused.add(outcome.last_timestamp)
            raise

    def fold(self) -> None:
        """Fold what this persister left behind (as the writer closes)."""
        if self.fold_every:
            with unit_of_work(self.db) as uow:
                uow.ledger.lock_clock()
                uow.ledger.fold(self._owed)
            self._owed, self._since_fold = {}, 0


def _counters(a: Account) -> Counters:
    return a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted


class BatchSink(Protocol):
    def submit(self, outcome: BatchOutcome, now: int, expected_clock: int) -> Future[None]: ...

    def close(self) -> None: ...


class ThreadSink:
    def __init__(self, db: Database, fold_every: int = 0) -> None:
        self._persister = Persister(db, fold_every)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-io")

    def submit(self, outcome: BatchOutcome, now: int, expected_clock: int) -> Future[None]:
        return self._pool.submit(self._persister.persist, outcome, now, expected_clock)

    def close(self) -> None:
        self._pool.submit(self._persister.fold).result()
        self._pool.shutdown()


_worker: Persister | None = None


def _start_worker(url: str, fold_every: int) -> None:
    global _worker
    _worker = Persister(Database(url), fold_every)


@dataclasses.dataclass(frozen=True)
class Packed:
    """A batch outcome on its way to the worker process. Its two big parts, transfers and
    updated accounts, travel as flat int64 arrays: pickling 8,190 named tuples cost more
    than writing them (20 ms against 3 ms per batch, measured), and every field of both
    is an integer the engine has already checked to fit in 64 bits."""

    transfers: array[int]
    accounts_updated: array[int]
    after: array[int]
    rest: BatchOutcome

    @classmethod
    def of(cls, out: BatchOutcome) -> Packed:
        flat = itertools.chain.from_iterable
        return cls(
            array("q", flat(out.transfers)),
            array("q", flat(out.accounts_updated)),
            array("q", flat(out.after) if leaves_rows(out) else ()),  # else never written
            dataclasses.replace(out, results=[], transfers=[], accounts_updated=[], after=[]),
        )

    def unpack(self) -> BatchOutcome:
        return dataclasses.replace(
            self.rest,
            transfers=_rows(Transfer, self.transfers),
            accounts_updated=_rows(Account, self.accounts_updated),
            after=cast("list[After]", list(_cut(self.after, 8))),
        )


def _cut(flat: array[int], width: int) -> Iterator[tuple[int, ...]]:
    columns = [iter(flat)] * width  # one iterator `width` times: zip cuts it into rows
    return zip(*columns, strict=True)


def _rows(kind: type[_Row], flat: array[int]) -> list[_Row]:
    width = len(kind._fields)
    return list(map(tuple.__new__, itertools.repeat(kind), _cut(flat, width)))


def _fold_in_worker() -> None:
    assert _worker is not None, "the worker was started with a database"
    _worker.fold()


def _persist_in_worker(packed: Packed, now: int, expected_clock: int) -> None:
    assert _worker is not None, "the worker was started with a database"
    with collector_paused():
        _worker.persist(packed.unpack(), now, expected_clock)


class ProcessSink:
    def __init__(self, db: Database, fold_every: int = 0) -> None:
        self.url, self.fold_every = db.url, fold_every
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.url, self.fold_every),
        )

    def submit(self, outcome: BatchOutcome, now: int, expected_clock: int) -> Future[None]:
        lean = Packed.of(outcome)  # callers' results stay here
        try:
            return self._pool.submit(_persist_in_worker, lean, now, expected_clock)
        except BrokenProcessPool:
            self._pool = self._new_pool()
            return self._pool.submit(_persist_in_worker, lean, now, expected_clock)

    def close(self) -> None:
        # if the worker died, its rows stay behind and the writer folds from the transfers
        with contextlib.suppress(BrokenProcessPool):
            self._pool.submit(_fold_in_worker).result()
        self._pool.shutdown()
