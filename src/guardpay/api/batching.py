"""Payments in micro-batches: the concurrent payment requests of a process run together
in one unit of work, one after another in one thread, and commit once.

Why: a payment's own work is a few milliseconds of SQL and Python, but each request
also paid for a trip to the thread pool, its turn at the database's write lock, and its
share of a commit. The payment endpoints are `async`: they parse and check what the
request carries on the event loop, then hand the batcher a function of a unit of work
(`run`). The batcher's thread takes everything queued (up to `max_batch`), opens one
unit of work, reads the rows the batch's requests will need, one statement per table
(services/payments/batch.py), runs each request in it as its own *member*
(storage/uow.py `member`: the commit policy of one request, at a savepoint) and
commits. A request refused while others pass is answered exactly as alone, with exactly
the rows it keeps: what it kept (`UnitOfWork.keep`) commits with the batch, anything else
is rolled back to its savepoint. Under load, requests queue while a batch runs, so
batches grow with the load and the per-request costs are shared.

Every answer is released only once its batch has committed and the commit is on disk,
so no client ever sees a payment that could still roll back or be lost; the batcher's
thread does not wait for the disk, though: it goes on to the next batch, and the answers
are released by the thread that syncs the WAL (storage/engine/group_commit.py). If the
commit fails, every request of the batch gets the error (503, retryable) and none of it
happened. A crash mid-batch loses only unanswered requests.

Each request runs in a copy of its own `contextvars` context, taken on the event loop,
so what its dependencies set (a payment password checked before the batch, the
request's log fields) travels with it into the batcher's thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from guardpay.errors import StorageError
from guardpay.services.payments import batch as batch_reads
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import UnitOfWork, member, unit_of_work

T = TypeVar("T")
log = structlog.get_logger("guardpay.api")

#: the endpoints whose requests run in micro-batches (api/routers/payments.py)
BATCHED = frozenset({("POST", "/v1/transfers"), ("POST", "/v1/payments/qr")})
#: the most requests one batch takes; under light load a batch is whatever is queued
MAX_BATCH = 64


@dataclass
class _Request:
    work: Callable[[UnitOfWork], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    ahead: object = None  # what `read_ahead` is told of it (None: nothing)
    context: contextvars.Context = field(default_factory=contextvars.copy_context)


@dataclass
class _Outcome:
    value: Any = None
    error: BaseException | None = None


_STOP = object()


class PaymentBatcher:
    """One per process and database: the thread that runs payment requests in batches."""

    def __init__(
        self,
        db: Database,
        max_batch: int = MAX_BATCH,
        read_ahead: Callable[[UnitOfWork, list[Any]], None] | None = None,
    ) -> None:
        self._db, self._max, self._read_ahead = db, max_batch, read_ahead
        self._queue: queue.SimpleQueue[_Request | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: batches run and the requests they took since start, and the largest batch
        #: (served on /metrics, api/metrics.py); the sizes of the latest batches
        self.batches = self.requests = self.largest = 0
        self.sizes: deque[int] = deque(maxlen=1000)

    async def run(self, work: Callable[[UnitOfWork], T], ahead: object = None) -> T:
        """`work` run in the next batch's unit of work; its value once that committed,
        or what it raised (a refusal raised as it would have been alone). `ahead` is
        what the batcher's `read_ahead` reads for it, with the rest of the batch, before
        any request of the batch runs (services/payments/batch.py)."""
        self._started()
        loop = asyncio.get_running_loop()
        request = _Request(work, loop, loop.create_future(), ahead)
        self._queue.put(request)
        outcome: _Outcome = await request.future
        if outcome.error is not None:
            raise outcome.error
        return outcome.value  # type: ignore[no-any-return]

    def queued(self) -> int:
        """How many requests wait for a batch (roughly: for tests and metrics)."""
        return self._queue.qsize()

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()

    def _started(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._loop, name="payment-batcher", daemon=True
                    )
                    self._thread.start()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            while len(batch) < self._max:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = _STOP in batch
            requests = [r for r in batch if isinstance(r, _Request)]
            if requests:
                self._run(requests)
            if stop:
                return

    def _run(self, requests: list[_Request]) -> None:
        """The batch, committed; its answers are released once the commit is on disk,
        told by the syncer while this thread goes on to the next batch."""
        outcomes: list[_Outcome] = []

        def durable(failure: str | None) -> None:
            if failure is not None:
                log.error("payment_batch_not_durable", size=len(requests))
            _release(requests, outcomes if failure is None else _failed(requests, synced=False))

        try:
            with unit_of_work(self._db, durable) as uow:
                self._read_rows_ahead(uow, requests)
                for request in requests:
                    outcomes.append(request.context.run(_one, uow, request.work))
        except Exception as exc:  # the commit (or the unit's begin) failed: none of it happened
            log.error("payment_batch_failed", size=len(requests), error=type(exc).__name__)
            _release(requests, _failed(requests))
        self.batches, self.requests = self.batches + 1, self.requests + len(requests)
        self.largest = max(self.largest, len(requests))
        self.sizes.append(len(requests))

    def _read_rows_ahead(self, uow: UnitOfWork, requests: list[_Request]) -> None:
        """The batch's rows, read before its requests run (at a savepoint: if it fails,
        nothing of it stays and each request reads its own rows, as alone)."""
        ahead = [r.ahead for r in requests if r.ahead is not None]
        if self._read_ahead is None or not ahead:
            return
        point = uow.savepoint()
        try:
            self._read_ahead(uow, ahead)
        except Exception as exc:  # only an optimisation: the batch goes on without it
            point.rollback()
            log.warning("payment_batch_read_ahead_failed", error=type(exc).__name__)
        else:
            point.release()


def _one(uow: UnitOfWork, work: Callable[[UnitOfWork], Any]) -> _Outcome:
    """One request of the batch, under the commit policy of one request (`member`)."""
    try:
        with member(uow):
            return _Outcome(value=work(uow))
    except Exception as exc:  # its answer; the member's savepoint decided what stays
        return _Outcome(error=exc)


def _failed(requests: list[_Request], synced: bool = True) -> list[_Outcome]:
    """Every request's answer when its batch failed: not committed (nothing happened),
    or committed but not known to be on disk (`synced` False: it may or may not have
    lasted, and a retry with the same Idempotency-Key tells which)."""
    if synced:
        failed = StorageError(
            "the payment could not be committed; nothing was charged, try again",
            code="batch_not_committed",
            retryable=True,
        )
    else:
        failed = StorageError(
            "the payment may not have been saved; retry with the same Idempotency-Key "
            "to learn whether it was",
            code="batch_not_durable",
            retryable=True,
        )
    return [_Outcome(error=failed) for _ in requests]


def _release(requests: list[_Request], outcomes: list[_Outcome]) -> None:
    """Each request's answer, handed to its event loop."""
    for request, outcome in zip(requests, outcomes, strict=True):
        request.loop.call_soon_threadsafe(_settle, request.future, outcome)


def _settle(future: asyncio.Future[Any], outcome: _Outcome) -> None:
    if not future.done():  # a client that went away cancelled it
        future.set_result(outcome)


_batchers_lock = threading.Lock()


def batcher_of(state: Any) -> PaymentBatcher:
    """The app's batcher, made on first use (the app's lifespan closes it)."""
    found = getattr(state, "payment_batcher", None)
    if found is None:
        with _batchers_lock:
            found = getattr(state, "payment_batcher", None)
            if found is None:

                def read_ahead(uow: UnitOfWork, ahead: list[Any]) -> None:
                    batch_reads.read_ahead(uow, ahead, state.clock(), state.risk)

                found = PaymentBatcher(state.db, read_ahead=read_ahead)
                state.payment_batcher = found
    assert isinstance(found, PaymentBatcher)
    return found
