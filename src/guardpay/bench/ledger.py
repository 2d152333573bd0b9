"""`guardpay bench ledger`: transfers per second through the real writer path.

Setup (not timed): M wallet-like accounts that may not go below zero, each funded from
a source account. Timed: N random transfers between them, pre-generated with a fixed
seed, applied through `LedgerWriter` in full batches of 8,190, with WINDOW batches
outstanding (as concurrent callers keep them) so the writer's pipeline is used. The
baseline, measured in the same run on the same database, is a bare executemany of the
same rows into a table with no ledger logic: the ratio says what the ledger costs.

Given a database URL, the backend is its scheme's (`resolve_backend`); a `--backend` that
says otherwise is refused before anything connects.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from guardpay.bench.ledger_writer import LedgerWriter
from guardpay.domain.ledger.model import Account, AccountFlags, Event, Transfer
from guardpay.domain.ledger.results import Result
from guardpay.errors import InvalidRequest
from guardpay.services.ledger.books import MAX_BATCH
from guardpay.storage.engine.db import Database
from guardpay.storage.engine.migrate import current_revision, head_revision, upgrade
from guardpay.storage.engine.scratch import (
    DEFAULT_POSTGRES_URL,
    baseline_insert,
    throwaway_database,
)

LEDGER, CODE = 156, 100
#: transfers per reported rate (`segments`)
SEGMENT = 1_000_000
SOURCE = 1
#: Full batches outstanding at once, as concurrent callers would keep them: the writer
#: computes one while two are handed to the database (one committing, one queued) and
#: the next is already waiting in its queue.
WINDOW = 4


def _setup(writer: LedgerWriter, accounts: int, history: bool) -> None:
    flags = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | (AccountFlags.HISTORY if history else 0)
    events: list[Event] = [Account(SOURCE, LEDGER, 900)]
    events += [Account(10 + i, LEDGER, CODE, flags) for i in range(accounts)]
    events += [
        Transfer(10 + i, SOURCE, 10 + i, 10**12, ledger=LEDGER, code=1) for i in range(accounts)
    ]
    for start in range(0, len(events), MAX_BATCH):
        results = writer.apply(events[start : start + MAX_BATCH])
        bad = [r for r in results if r not in (Result.ok, Result.exists)]
        assert not bad, f"setup failed: {bad[:3]}"


def _transfers(n: int, accounts: int, first_id: int, seed: int) -> list[Transfer]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        dr = rng.randrange(accounts)
        cr = (dr + 1 + rng.randrange(accounts - 1)) % accounts
        out.append(
            Transfer(first_id + i, 10 + dr, 10 + cr, rng.randint(1, 100_000), ledger=LEDGER, code=2)
        )
    return out


@contextmanager
def _frozen() -> Iterator[None]:
    """The run's input (`--transfers` immutable tuples) out of the cyclic collector's
    sight while it is applied: every full collection would walk it all, a cost of the
    harness that grows with the run (0.2 s a collection per million tuples, measured)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _collect(entry: tuple[float, Future[list[Result]]], latencies: list[float]) -> int:
    sent, future = entry
    results = future.result()
    latencies.append(time.perf_counter() - sent)
    return sum(r is not Result.ok for r in results)


def _stamp(done: list[tuple[int, float]], written: int) -> Callable[[Future[Any]], None]:
    """A batch's done-callback: the transfers written once it committed, and when."""

    def stamp(_: Future[Any]) -> None:
        done.append((written, time.perf_counter()))

    return stamp


def segment_size(transfers: int) -> int:
    """How many transfers each reported rate covers: a million, or a tenth of a smaller
    run (at least a batch), so a short run still shows whether the rate holds."""
    if transfers >= 2 * SEGMENT:
        return SEGMENT
    return max(MAX_BATCH, transfers // 10)


def segments(done: list[tuple[int, float]], start: float, size: int) -> list[dict[str, int]]:
    """The rate in each `size` transfers written, from when each batch committed (`done`:
    transfers written by then, and the time, in order): why a run slowed shows here,
    where the average hides it. A segment holds the batches that ended in it."""
    out: list[dict[str, int]] = []
    written_before, since = 0, start
    for i, (written, at) in enumerate(done):
        if written // size > written_before // size or i == len(done) - 1:
            if at > since:
                rate = round((written - written_before) / (at - since))
                out.append({"written": written, "transfers_per_second": rate})
            written_before, since = written, at
    return out


def _run(
    db: Database, transfers: int, accounts: int, history: bool, seed: int, io: str
) -> dict[str, Any]:
    if current_revision(db) != head_revision():
        upgrade(db)
    first_id = int(time.time() * 1000) * 1_000_000  # fresh ids if the database is reused
    batch_seconds: list[float] = []
    failed = 0
    with LedgerWriter(db, io=io) as writer:
        _setup(writer, accounts, history)
        work = _transfers(transfers, accounts, first_id, seed)
        done: list[tuple[int, float]] = []
        with _frozen():
            start = time.perf_counter()
            window: deque[tuple[float, Future[list[Result]]]] = deque()
            for i in range(0, transfers, MAX_BATCH):
                future = writer.submit(work[i : i + MAX_BATCH])
                future.add_done_callback(_stamp(done, min(i + MAX_BATCH, transfers)))
                window.append((time.perf_counter(), future))
                if len(window) >= WINDOW:
                    failed += _collect(window.popleft(), batch_seconds)
            while window:
                failed += _collect(window.popleft(), batch_seconds)
        io = writer.io
        last_commit = time.perf_counter()
    # the writer folds the account rows it left behind as it closes: that is the run's too
    seconds = time.perf_counter() - start
    fold_seconds = time.perf_counter() - last_commit
    base_start = time.perf_counter()
    baseline_insert(db, [tuple(t) for t in work], MAX_BATCH)
    base_seconds = time.perf_counter() - base_start
    tps = transfers / seconds
    median = statistics.median(batch_seconds)
    rates = segments(sorted(done), start, segment_size(transfers))
    return {
        "backend": db.backend,
        "transfers": transfers,
        "accounts": accounts,
        "history": history,
        "io": io,
        "seconds": round(seconds, 3),
        "transfers_per_second": round(tps),
        "batches": len(batch_seconds),
        "batch_size": MAX_BATCH,
        "window": WINDOW,
        "median_batch_latency_seconds": round(median, 4),
        "failed": failed,
        "baseline": {
            "what": "bare executemany of the same rows, same batch size, same database",
            "transfers_per_second": round(transfers / base_seconds),
        },
        "ratio_to_baseline": round(seconds and base_seconds / seconds, 3),
        "final_fold_seconds": round(fold_seconds, 3),
        "segment_size": segment_size(transfers),
        "segments": rates,
        "last_to_first_segment": round(
            rates[-1]["transfers_per_second"] / rates[0]["transfers_per_second"], 3
        ),
        "slowest_segment_transfers_per_second": min(r["transfers_per_second"] for r in rates),
    }


def backend_of_url(url: str) -> str:
    """`sqlite` or `postgres` (the --backend spelling), from a database URL's scheme:
    `sqlite://`, `postgresql://` or `postgres://`, with or without a `+driver`."""
    scheme = url.partition(":")[0].partition("+")[0].lower()
    if scheme in ("postgresql", "postgres"):
        return "postgres"
    if scheme == "sqlite":
        return "sqlite"
    raise InvalidRequest(
        f"--database-url has an unsupported scheme {scheme!r}: use sqlite:// or postgresql://",
        code="unsupported_database",
        param="database_url",
    )


def resolve_backend(backend: str | None, database_url: str | None) -> str:
    """The backend to run on: the URL's when one is given (an explicit `backend` must
    agree with it), else `backend`, else SQLite. The URL is never quoted back (it may
    carry a password), only its kind."""
    if database_url is None:
        return backend or "sqlite"
    inferred = backend_of_url(database_url)
    if backend is not None and backend != inferred:
        raise InvalidRequest(
            f"--backend {backend} conflicts with --database-url, which is a {inferred} URL: "
            "leave --backend out (it follows the URL) or make them agree",
            code="backend_conflict",
            param="backend",
        )
    return inferred


def run(
    backend: str | None,
    database_url: str | None,
    transfers: int,
    accounts: int,
    history: bool = False,
    seed: int = 7,
    io: str = "auto",
    postgres_url: str = DEFAULT_POSTGRES_URL,
) -> dict[str, Any]:
    """Given a URL, migrate it if needed and leave the data; else use a throwaway database
    (`backend`: None follows the URL, `resolve_backend`; a PostgreSQL one on the server
    `postgres_url` names)."""
    backend = resolve_backend(backend, database_url)
    ctx: AbstractContextManager[Database]
    if database_url:
        ctx = nullcontext(Database(database_url))
    else:
        ctx = throwaway_database(backend, postgres_url)
    with ctx as db:
        if db.backend != ("postgresql" if backend == "postgres" else backend):
            raise InvalidRequest(
                f"--backend {backend} but the URL is a {db.backend} database", param="backend"
            )
        return _run(db, transfers, accounts, history, seed, io)
