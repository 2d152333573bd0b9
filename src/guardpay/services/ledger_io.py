"""Where the ledger writer's batches are written: on a thread, or in a worker process.

The writer computes a batch while the previous one is written (see ledger_writer.py).
On a thread that overlap is limited by the GIL, since binding rows for SQLite holds it;
a worker process has its own interpreter, so computing and writing use two cores. The
worker is spawned once per writer with its own connection; if it dies, the pool is
rebuilt and the batch it held is redone by the writer under the lock.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

from guardpay.domain.ledger.work import BatchOutcome
from guardpay.storage.db import Database
from guardpay.storage.uow import unit_of_work


class StaleBatch(Exception):
    """The ledger clock moved after the batch was computed: someone else wrote."""


def persist(db: Database, outcome: BatchOutcome, now: int, expected_clock: int) -> None:
    """Write the batch if the ledger is still where it was computed, in one transaction."""
    with unit_of_work(db) as uow:
        if uow.ledger.lock_clock() != expected_clock:
            raise StaleBatch("another writer moved the ledger on")
        uow.ledger.write(outcome, now)


class BatchSink(Protocol):
    def submit(self, outcome: BatchOutcome, now: int, expected_clock: int) -> Future[None]: ...

    def close(self) -> None: ...


class ThreadSink:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-io")

    def submit(self, outcome: BatchOutcome, now: int, expected_clock: int) -> Future[None]:
        return self._pool.submit(persist, self.db, outcome, now, expected_clock)

    def close(self) -> None:
        self._pool.shutdown()


_worker_db: Database | None = None


def _start_worker(url: str) -> None:
    global _worker_db
    _worker_db = Database(url)


def _persist_in_worker(outcome: BatchOutcome, now: int, expected_clock: int) -> None:
    assert _worker_db is not None, "the worker was started with a database"
    persist(_worker_db, outcome, now, expected_clock)


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
        lean = dataclasses.replace(outcome, results=[])  # callers' results stay here
        try:
            return self._pool.submit(_persist_in_worker, lean, now, expected_clock)
        except BrokenProcessPool:
            self._pool = self._new_pool()
            return self._pool.submit(_persist_in_worker, lean, now, expected_clock)

    def close(self) -> None:
        self._pool.shutdown()
