"""The single ledger writer: concurrent callers' requests, coalesced into batches.

Each database has one writer per process. Callers (threads, or asyncio tasks through
`apply_async`) hand it their events and wait; the writer takes everything queued, up to
8,190 events, and commits it as one batch in one transaction. Under load the queue fills
while a commit is in flight, so batches grow and the cost of a commit is shared: the
throughput rises with load instead of collapsing under lock contention.

Across processes the writers are serialised by the ledger clock lock (storage/ledger.py);
that module also describes how the ledger is partitioned beyond one database.

A caller's result arrives only after its batch is committed, so `ok` means durable. If a
commit fails, every request in that batch gets the exception and none of it is applied.
"""

from __future__ import annotations

import asyncio
import gc
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from sqlalchemy.exc import OperationalError

from guardpay.domain.ledger.model import Event
from guardpay.domain.ledger.results import Result
from guardpay.services.ledger import MAX_BATCH, Clock, apply_requests, system_clock
from guardpay.storage.db import Database
from guardpay.storage.ledger import AccountCache
from guardpay.storage.uow import unit_of_work

_RETRIES = 3


@dataclass
class _Job:
    events: Sequence[Event]
    future: Future[list[Result]] = field(default_factory=Future)


class LedgerWriter:
    def __init__(
        self, db: Database, *, clock: Clock = system_clock, max_batch: int = MAX_BATCH
    ) -> None:
        self.db = db
        self.clock = clock
        self.max_batch = max_batch
        self.batches = 0
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._carry: _Job | None = None
        self._cache = AccountCache()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._thread.start()

    def submit(self, events: Sequence[Event]) -> Future[list[Result]]:
        if self._closed:
            raise RuntimeError("the ledger writer is closed")
        if not 0 < len(events) <= self.max_batch:
            raise ValueError(f"a request holds 1 to {self.max_batch} events, got {len(events)}")
        job = _Job(events)
        self._queue.put(job)
        return job.future

    def apply(self, events: Sequence[Event]) -> list[Result]:
        """Submit and wait for the committed results."""
        return self.submit(events).result()

    async def apply_async(self, events: Sequence[Event]) -> list[Result]:
        return await asyncio.wrap_future(self.submit(events))

    def close(self) -> None:
        """Finish what is queued, then stop."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def __enter__(self) -> LedgerWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        while True:
            jobs, stop = self._next_batch()
            if jobs:
                self._commit(jobs)
            if stop:
                return

    def _next_batch(self) -> tuple[list[_Job], bool]:
        first = self._carry if self._carry is not None else self._queue.get()
        self._carry = None
        if first is None:
            return [], True
        jobs, size = [first], len(first.events)
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return jobs, False
            if job is None:
                return jobs, True
            if size + len(job.events) > self.max_batch:
                self._carry = job
                return jobs, False
            jobs.append(job)
            size += len(job.events)

    def _commit(self, jobs: list[_Job]) -> None:
        # A batch allocates tens of thousands of short-lived objects; letting the cyclic
        # collector scan the heap mid-batch costs more than the batch. It runs after.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._commit_batch(jobs)
        finally:
            if collecting:
                gc.enable()

    def _commit_batch(self, jobs: list[_Job]) -> None:
        for attempt in range(_RETRIES):
            try:
                with unit_of_work(self.db) as uow:
                    requests = [j.events for j in jobs]
                    view, outcome = apply_requests(uow, requests, self.clock(), self._cache)
                break
            except OperationalError as exc:  # e.g. a lost connection: the batch was rolled back
                self._cache.reset()
                if attempt == _RETRIES - 1:
                    return _fail(jobs, exc)
            except Exception as exc:
                self._cache.reset()
                return _fail(jobs, exc)
        self._cache.committed(view, outcome)
        self.batches += 1
        for job, results in zip(jobs, outcome.results, strict=True):
            job.future.set_result(results)


def _fail(jobs: list[_Job], exc: BaseException) -> None:
    for job in jobs:
        job.future.set_exception(exc)
