"""Where the ledger writer's batches are written: on a thread, or in a worker process.

The writer computes a batch while the previous one is written (see ledger_writer.py).
On a thread that overlap is limited by the GIL, since binding rows for SQLite holds it;
a worker process has its own interpreter, so computing and writing use two cores. The
worker is spawned once per writer with its own connection; if it dies, the pool is
rebuilt and the batch it held is redone by the writer under the lock.
"""

from __future__ import annotations

import dataclasses
import gc
import itertools
import multiprocessing
from array import array
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Protocol, TypeVar

from guardpay.domain.ledger.model import Account, Transfer
from guardpay.domain.ledger.work import BatchOutcome
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


class Persister:
    """Writes batches in the order they are handed over, each in one transaction.

    The writer hands over batch N+1 before N has committed (N+1 was computed on N's
    outcome). So a batch is written only if the ledger clock still reads what it was
    computed against and the batch under it was written: once a batch fails, every batch
    computed on top of it is refused too, whatever the clock says (a redo of the failed
    batch could end at the same clock value with different content).
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._refused: set[int] = set()  # end clocks of batches that were never written

    def persist(self, outcome: BatchOutcome, now: int, expected_clock: int) -> None:
        try:
            if expected_clock in self._refused:
                raise StaleBatch("the batch under this one was not written")
            with unit_of_work(self.db) as uow:
                if uow.ledger.lock_clock() != expected_clock:
                    raise StaleBatch("another writer moved the ledger on")
                uow.ledger.write(outcome, now)
        except BaseException:
            if len(self._refused) > 1_000:  # only in-flight batches can build on these
                self._refused.clear()
            self._refused.add(outcome.last_timestamp)
            raise


class BatchSink(Protocol):
    def submit(self, outcome: BatchOutcome, now: int, expected_clock: int) -> Future[None]: ...

    def close(self) -> None: ...


class ThreadSink:
    def __init__(self, db: Database) -> None:
        self._persister = Persister(db)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-io")

    def submit(self, outcome: BatchOutcome, now: int, expected_clock: int) -> Future[None]:
        return self._pool.submit(self._persister.persist, outcome, now, expected_clock)

    def close(self) -> None:
        self._pool.shutdown()


_worker: Persister | None = None


def _start_worker(url: str) -> None:
    global _worker
    _worker = Persister(Database(url))


@dataclasses.dataclass(frozen=True)
class Packed:
    """A batch outcome on its way to the worker process. Its two big parts, transfers and
    updated accounts, travel as flat int64 arrays: pickling 8,190 named tuples cost more
    than writing them (20 ms against 3 ms per batch, measured), and every field of both
    is an integer the engine has already checked to fit in 64 bits."""

    transfers: array[int]
    accounts_updated: array[int]
    rest: BatchOutcome

    @classmethod
    def of(cls, out: BatchOutcome) -> Packed:
        flat = itertools.chain.from_iterable
        return cls(
            array("q", flat(out.transfers)),
            array("q", flat(out.accounts_updated)),
            dataclasses.replace(out, results=[], transfers=[], accounts_updated=[]),
        )

    def unpack(self) -> BatchOutcome:
        return dataclasses.replace(
            self.rest,
            transfers=_rows(Transfer, self.transfers),
            accounts_updated=_rows(Account, self.accounts_updated),
        )


def _rows(kind: type[_Row], flat: array[int]) -> list[_Row]:
    width = len(kind._fields)
    columns = [iter(flat)] * width  # one iterator `width` times: zip cuts it into rows
    return list(map(tuple.__new__, itertools.repeat(kind), zip(*columns, strict=True)))


def _persist_in_worker(packed: Packed, now: int, expected_clock: int) -> None:
    assert _worker is not None, "the worker was started with a database"
    with collector_paused():
        _worker.persist(packed.unpack(), now, expected_clock)


class ProcessSink:
    def __init__(self, db: Database) -> None:
        self.url = db.url
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.url,),
        )

    def submit(self, outcome: BatchOutcome, now: int, expected_clock: int) -> Future[None]:
        lean = Packed.of(outcome)  # callers' results stay here
        try:
            return self._pool.submit(_persist_in_worker, lean, now, expected_clock)
        except BrokenProcessPool:
            self._pool = self._new_pool()
            return self._pool.submit(_persist_in_worker, lean, now, expected_clock)

    def close(self) -> None:
        self._pool.shutdown()
