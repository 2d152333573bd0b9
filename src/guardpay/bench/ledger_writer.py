"""The single ledger writer: concurrent callers' requests, coalesced into batches.

Each database has one writer per process. Callers (threads, or asyncio tasks through
`apply_async`) hand it their events and wait; the writer takes everything queued, up to
8,190 events, and commits it as one batch in one transaction. Under load the queue fills
while a commit is in flight, so batches grow and the cost of a commit is shared: the
throughput rises with load instead of collapsing under lock contention.

Pipelining. While batch N is written and committed (by a worker process or an I/O
thread, see `ledger_io.py`), the writer already computes batch N+1 on a read connection,
against the stored state with the in-flight batches' outcomes laid over it
(`storage.ledger.InFlight`) and the writer's account cache, and hands it over at once, so
it is queued when N commits. That speculation is checked when N+1 is written: under the
ledger lock the clock must still read what N+1 was computed against, and N must have been
written (`ledger_io.Persister`). If N failed, or another process wrote in between, N+1 is
recomputed under the lock, the classic way. Nothing speculative ever reaches a caller: a
caller's result is set only after its own batch has committed, so `ok` means durable. If
a commit fails, every request in that batch gets the exception and none of it is applied.

Across processes the writers are serialised by the ledger clock lock (storage/ledger.py);
that module also describes how the ledger is partitioned beyond one database.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from sqlalchemy.exc import OperationalError

from guardpay.bench.ledger_io import BatchSink, ProcessSink, ThreadSink, collector_paused
from guardpay.domain.ledger.engine import apply_batch
from guardpay.domain.ledger.model import Event
from guardpay.domain.ledger.results import Result
from guardpay.domain.ledger.work import BatchOutcome, LedgerView
from guardpay.services.ledger.books import (
    MAX_BATCH,
    Clock,
    apply_requests,
    fold,
    system_clock,
)
from guardpay.storage.engine.db import Database
from guardpay.storage.ledger import AccountCache
from guardpay.storage.ledger_stage import InFlight
from guardpay.storage.uow import read_only, unit_of_work

_RETRIES = 3
#: transfers written between two folds of the account rows (storage/ledger.py)
FOLD_EVERY = 1_000_000
#: Batches handed to the database at once. With two, the next batch is already queued
#: when one commits, so the write side never waits for the compute side (measured: the
#: worker idled a third of each cycle with one).
DEPTH = 2


@dataclass
class _Job:
    events: Sequence[Event]
    future: Future[list[Result]] = field(default_factory=Future)


class LedgerWriter:
    def __init__(
        self,
        db: Database,
        *,
        clock: Clock = system_clock,
        max_batch: int = MAX_BATCH,
        io: str = "thread",
        fold_every: int = FOLD_EVERY,
    ) -> None:
        """Where batches are written (`ledger_io.py`): "thread" (the default, for tests and
        small tools), "process" (a worker process: two cores for one writer), or "auto":
        a process on SQLite, whose row binding holds the GIL, and a thread on PostgreSQL,
        whose server works in its own process (measured: 105k against 42k transfers/s on
        SQLite with the process; 39k against 24k on PostgreSQL with the thread).

        `fold_every`: the rows of the accounts its transfers move are left behind and
        folded in every that many transfers, and when the writer closes (0: written with
        every batch). Storage/ledger.py, "Deferred accounts", says why."""
        self.db = db
        self.clock = clock
        self.max_batch = max_batch
        self.batches = 0
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._carry: _Job | None = None
        self._cache = AccountCache()
        if io == "auto":
            io = "process" if db.backend == "sqlite" else "thread"
        self.io = io
        self.fold_every = fold_every
        sink = ProcessSink if io == "process" else ThreadSink
        self._io: BatchSink = sink(db, fold_every)
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
            if self.fold_every:
                with unit_of_work(self.db) as uow:
                    fold(uow)

    def __enter__(self) -> LedgerWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        flying: deque[_Flying] = deque()
        while True:
            jobs, stop = self._next_batch(block=not flying)
            if jobs:
                self._take(jobs, flying)
            else:
                self._settle(flying, keep=0)
            if stop:
                self._settle(flying, keep=0)
                self._io.close()
                return

    def _take(self, jobs: list[_Job], flying: deque[_Flying]) -> None:
        """Compute a batch on top of those in flight and hand it over; then wait until
        at most DEPTH - 1 are left, so one is always queued while another is written."""
        batch = self._try_speculate(jobs, [b for b, _ in flying])
        handed = self._hand_over(batch) if batch is not None else None
        if handed is None:  # could not read or hand over: the classic way, in order
            self._settle(flying, keep=0)
            with collector_paused():
                self._commit_batch(jobs)
            return
        flying.append(handed)
        self._settle(flying, keep=DEPTH - 1)

    def _settle(self, flying: deque[_Flying], keep: int) -> None:
        """Answer the oldest batches until `keep` are in flight. After a failure every
        batch still in flight was computed on sand: each is redone, in order."""
        while len(flying) > keep:
            if not self._finish(*flying.popleft()):
                keep = 0

    def _hand_over(self, batch: _Batch) -> _Flying | None:
        self._cache.committed(batch.view, batch.outcome)
        try:
            return batch, self._io.submit(batch.outcome, batch.now, batch.view.last_timestamp)
        except Exception:
            self._cache.reset()
            return None

    def _try_speculate(self, jobs: list[_Job], flying: list[_Batch]) -> _Batch | None:
        try:
            with collector_paused():
                return self._speculate(jobs, flying)
        except Exception:
            self._cache.reset()
            return None

    def _speculate(self, jobs: list[_Job], flying: list[_Batch]) -> _Batch:
        """Compute a batch without the lock, on top of the batches still in flight."""
        requests = [j.events for j in jobs]
        now = self.clock()
        with read_only(self.db) as uow:
            repo = uow.ledger
            last = flying[-1].outcome.last_timestamp if flying else repo.read_clock()
            overlay = InFlight.of([b.outcome for b in flying]) if flying else None
            view = repo.read_view(requests, now, last, self._cache, overlay)
        return _Batch(jobs, now, view, apply_batch(view, requests))

    def _finish(self, batch: _Batch, written: Future[None]) -> bool:
        """Wait for a batch's commit and answer its callers; on failure, redo it locked."""
        try:
            written.result()
        except Exception:
            self._cache.reset()
            with collector_paused():
                self._commit_batch(batch.jobs)
            return False
        self.batches += 1
        for job, results in zip(batch.jobs, batch.outcome.results, strict=True):
            job.future.set_result(results)
        return True

    def _next_batch(self, block: bool) -> tuple[list[_Job], bool]:
        first = self._carry
        self._carry = None
        if first is None:
            try:
                first = self._queue.get(block=block)
            except queue.Empty:
                return [], False
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

    def _commit_batch(self, jobs: list[_Job]) -> None:
        """The classic path: read, decide and write under the lock, in one transaction."""
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


@dataclass
class _Batch:
    jobs: list[_Job]
    now: int
    view: LedgerView
    outcome: BatchOutcome


_Flying = tuple[_Batch, "Future[None]"]


def _fail(jobs: list[_Job], exc: BaseException) -> None:
    for job in jobs:
        job.future.set_exception(exc)
