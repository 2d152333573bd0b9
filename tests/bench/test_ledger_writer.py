"""The single ledger writer on both backends: it coalesces callers, and `ok` means committed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future

import pytest

from guardpay.bench import ledger_io
from guardpay.bench.ledger_io import ThreadSink
from guardpay.bench.ledger_writer import LedgerWriter
from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.ledger.model import Account, Transfer, TransferFlags
from guardpay.domain.ledger.results import Result
from guardpay.domain.ledger.work import BatchOutcome
from guardpay.services.ledger.books import MAX_BATCH, Clock, execute, system_clock, verify
from guardpay.storage.engine.db import Database
from guardpay.storage.ledger import LedgerRepository
from guardpay.storage.uow import read_only, unit_of_work
from tests.factories import account, transfer, wallet

BANK, ALICE, BOB = 1, 10, 11
OK = Result.ok


def gated_clock(gate: threading.Event) -> Clock:
    """The system clock, except that a batch cannot start until the gate opens: callers
    queue up meanwhile, so what the writer does with a full queue is deterministic."""

    def clock() -> int:
        assert gate.wait(30), "the test never opened the gate"
        return system_clock()

    return clock


@pytest.fixture(autouse=True)
def rows_left_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every batch leaves its account rows behind, however few accounts it moves, so
    these tests read through the carried balances and the writer's folds."""
    monkeypatch.setattr(ledger_io, "DEFER_FROM", 0)


@pytest.fixture
def books(db: Database) -> Database:
    with unit_of_work(db) as uow:
        opened = execute(uow, [account(BANK, code=AccountCode.RESERVE), wallet(ALICE), wallet(BOB)])
    assert opened == [OK] * 3
    return db


@pytest.fixture
def writer(books: Database) -> Iterator[LedgerWriter]:
    with LedgerWriter(books) as w:
        yield w


def balance(db: Database, account_id: int) -> int:
    with read_only(db) as uow:
        found = uow.ledger_queries.account(account_id)
    assert found is not None
    return found.balance


def assert_verified(db: Database) -> None:
    with read_only(db) as uow:
        report = verify(uow)
    assert report.ok, report.problems


def test_concurrent_threads_are_coalesced_into_fewer_batches(books: Database) -> None:
    threads, rounds = 12, 15
    wallets = [100 + t for t in range(threads)]
    with unit_of_work(books) as uow:
        assert execute(uow, [wallet(w) for w in wallets]) == [OK] * threads

    gate = threading.Event()
    everyone_queued = threading.Barrier(threads + 1)
    outcomes: dict[int, list[tuple[list[Transfer], list[Result]]]] = {}
    errors: list[BaseException] = []

    def customer(t: int, w: LedgerWriter) -> None:
        mine: list[tuple[list[Transfer], list[Result]]] = []
        try:
            for i in range(rounds):
                base = (t + 1) * 1_000 + i * 10
                # a top-up, and on odd rounds an overdraft that must be refused
                request = [transfer(base, BANK, wallets[t], 100 + i)]
                if i % 2:
                    request.append(transfer(base + 1, wallets[t], BOB, 1_000_000))
                future = w.submit(request)
                if i == 0:
                    everyone_queued.wait(30)
                mine.append((request, future.result(30)))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        outcomes[t] = mine

    with LedgerWriter(books, clock=gated_clock(gate)) as w:
        pool = [threading.Thread(target=customer, args=(t, w)) for t in range(threads)]
        for th in pool:
            th.start()
        everyone_queued.wait(30)
        gate.set()
        for th in pool:
            th.join(60)
        batches = w.batches

    assert errors == []
    requests = threads * rounds
    for t in range(threads):
        for i, (request, results) in enumerate(outcomes[t]):
            assert results == ([OK, Result.exceeds_credits] if i % 2 else [OK]), request
        assert balance(books, wallets[t]) == sum(100 + i for i in range(rounds))
    assert balance(books, BOB) == 0
    assert 0 < batches < requests
    assert_verified(books)


def test_asyncio_tasks_are_coalesced(books: Database) -> None:
    gate = threading.Event()
    payments = 200

    async def pay_everyone(w: LedgerWriter) -> list[list[Result]]:
        tasks = [
            asyncio.ensure_future(w.apply_async([transfer(i, BANK, ALICE, 10)]))
            for i in range(1, payments + 1)
        ]
        await asyncio.sleep(0)  # every task has run up to its submit
        gate.set()
        return list(await asyncio.gather(*tasks))

    with LedgerWriter(books, clock=gated_clock(gate)) as w:
        results = asyncio.run(pay_everyone(w))
        batches = w.batches
    assert results == [[OK]] * payments
    assert batches <= 2  # the first batch waited at the gate; everything else queued behind it
    assert balance(books, ALICE) == 10 * payments
    assert_verified(books)


def test_a_request_holds_1_to_8190_events(writer: LedgerWriter, books: Database) -> None:
    with pytest.raises(ValueError, match="1 to 8190 events, got 0"):
        writer.submit([])
    too_many = [transfer(i, BANK, ALICE, 1) for i in range(1, MAX_BATCH + 2)]
    with pytest.raises(ValueError, match="got 8191"):
        writer.submit(too_many)
    with pytest.raises(ValueError, match="8191"), unit_of_work(books) as uow:
        execute(uow, too_many)
    assert balance(books, ALICE) == 0

    assert writer.apply(too_many[:MAX_BATCH]) == [OK] * MAX_BATCH
    assert balance(books, ALICE) == MAX_BATCH


def test_requests_larger_together_than_a_batch_are_split(books: Database) -> None:
    gate = threading.Event()
    with LedgerWriter(books, clock=gated_clock(gate), max_batch=10) as w:
        futures = [
            w.submit([transfer(r * 100 + i, BANK, ALICE, 1) for i in range(1, 5)])
            for r in range(1, 8)
        ]
        gate.set()
        results = [f.result(30) for f in futures]
        batches = w.batches
    assert results == [[OK] * 4] * 7
    assert batches >= 4  # 7 requests of 4 events, at most 2 requests per batch of 10
    assert balance(books, ALICE) == 28


def test_coalesced_requests_keep_their_own_chains(books: Database) -> None:
    gate = threading.Event()
    linked = TransferFlags.LINKED
    with LedgerWriter(books, clock=gated_clock(gate)) as w:
        futures = [
            w.submit([transfer(1, BANK, ALICE, 100, flags=linked)]),  # its chain never closes
            w.submit([transfer(2, BANK, ALICE, 200)]),
            w.submit(
                [transfer(3, BANK, ALICE, 300, flags=linked), transfer(4, ALICE, BOB, 10_000)]
            ),
            w.submit([transfer(5, BANK, BOB, 400, flags=linked), transfer(6, BOB, ALICE, 400)]),
        ]
        gate.set()
        results = [f.result(30) for f in futures]
    assert results == [
        [Result.linked_event_chain_open],
        [OK],
        [Result.linked_event_failed, Result.exceeds_credits],
        [OK, OK],
    ]
    assert balance(books, ALICE) == 600
    assert balance(books, BOB) == 0
    assert_verified(books)


def test_close_finishes_the_queued_work(books: Database) -> None:
    gate = threading.Event()
    w = LedgerWriter(books, clock=gated_clock(gate))
    futures = [w.submit([transfer(i, BANK, ALICE, 100)]) for i in range(1, 51)]
    gate.set()
    w.close()
    assert all(f.done() for f in futures)
    assert [f.result() for f in futures] == [[OK]] * 50
    assert balance(books, ALICE) == 5_000
    with pytest.raises(RuntimeError, match="closed"):
        w.submit([transfer(51, BANK, ALICE, 100)])
    w.close()  # closing twice is harmless


def test_a_result_arrives_only_after_its_batch_is_committed(books: Database) -> None:
    observer = Database(books.url)  # another engine: it sees only what is committed
    seen_at_delivery: list[int | None] = []

    def look(future: Future[list[Result]]) -> None:
        with read_only(observer) as uow:
            found = uow.ledger_queries.transfer(1)
        seen_at_delivery.append(found.amount if found is not None else None)

    try:
        with LedgerWriter(books) as w:
            future = w.submit([transfer(1, BANK, ALICE, 4_200)])
            future.add_done_callback(look)
            assert future.result(30) == [OK]
            with read_only(observer) as uow:
                alice = uow.ledger_queries.account(ALICE)
                stored = uow.ledger_queries.transfer(1)
    finally:
        observer.dispose()
    assert seen_at_delivery == [4_200]
    assert alice is not None
    assert alice.balance == 4_200
    assert stored is not None
    assert stored.timestamp > 0


def test_a_failed_commit_fails_every_request_of_the_batch(books: Database) -> None:
    gate = threading.Event()
    calls = 0

    def broken_once() -> int:
        nonlocal calls
        assert gate.wait(30)
        calls += 1
        if calls <= 2:  # both the pipelined attempt and the locked retry fail
            raise RuntimeError("the clock broke")
        return system_clock()

    with LedgerWriter(books, clock=broken_once) as w:
        futures = [w.submit([transfer(i, BANK, ALICE, 100)]) for i in range(1, 6)]
        gate.set()
        failures = [f.exception(30) for f in futures]
        assert w.apply([transfer(6, BANK, ALICE, 100)]) == [OK]
        retried = w.apply([transfer(1, BANK, ALICE, 100)])
    # whichever requests were in the failed batch got the error; none of them was applied
    failed = [f for f in failures if f is not None]
    assert failed
    assert all(isinstance(f, RuntimeError) for f in failed)
    assert retried == [OK]  # the failed batch left no trace, not even a remembered failure
    applied = sum(1 for f in failures if f is None)
    assert balance(books, ALICE) == 100 * (applied + 2)
    assert_verified(books)


def test_the_writer_sees_what_others_wrote_between_its_batches(books: Database) -> None:
    other = Database(books.url)
    try:
        with LedgerWriter(books) as w:
            assert w.apply([transfer(1, BANK, ALICE, 1_000)]) == [OK]
            assert w.apply([transfer(2, ALICE, BOB, 600)]) == [OK]
            # another process spends from Alice behind the writer's back
            with unit_of_work(other) as uow:
                assert execute(uow, [transfer(3, ALICE, BOB, 300)]) == [OK]
            # the writer must now know Alice holds 100, not 400
            assert w.apply([transfer(4, ALICE, BOB, 200)]) == [Result.exceeds_credits]
            assert w.apply([transfer(5, ALICE, BOB, 100)]) == [OK]
            # and the other side must see the writer's work
            with unit_of_work(other) as uow:
                assert execute(uow, [transfer(6, ALICE, BOB, 1)]) == [Result.exceeds_credits]
            # a second writer on another engine interleaves with the first
            with LedgerWriter(other) as second:
                assert second.apply([transfer(7, BANK, ALICE, 50)]) == [OK]
                assert w.apply([transfer(8, ALICE, BOB, 51)]) == [Result.exceeds_credits]
                assert w.apply([transfer(9, ALICE, BOB, 50)]) == [OK]
                assert second.apply([transfer(10, ALICE, BOB, 1)]) == [Result.exceeds_credits]
    finally:
        other.dispose()
    assert balance(books, ALICE) == 0
    assert balance(books, BOB) == 1_050
    assert_verified(books)


def test_a_lone_caller_gets_a_batch_per_request(writer: LedgerWriter, books: Database) -> None:
    """A lone caller is not kept waiting for a batch to fill up."""
    started = time.monotonic()
    for i in range(1, 21):
        assert writer.apply([transfer(i, BANK, ALICE, 1)]) == [OK]
    assert time.monotonic() - started < 10
    assert writer.batches == 20
    assert balance(books, ALICE) == 20


def test_a_batch_that_fails_to_commit_is_redone_with_every_batch_built_on_it(
    books: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch 2 fails while batch 3, computed on top of it, is already handed over: both
    are redone under the lock, in order, and nobody sees a result that did not commit."""
    writes, handed = 0, 0
    third_handed_over = threading.Event()
    write, submit = LedgerRepository.write, ThreadSink.submit

    def second_write_fails(
        repo: LedgerRepository,
        out: BatchOutcome,
        now: int,
        *,
        clock: bool = True,
        defer: bool = False,
    ) -> list[Account]:
        nonlocal writes
        writes += 1
        if writes == 2:  # fail only once batch 3, computed on this one, is on its way
            assert third_handed_over.wait(30)
            raise OSError("disk I/O error")
        return write(repo, out, now, clock=clock, defer=defer)

    def counted(sink: ThreadSink, out: BatchOutcome, now: int, clock: int) -> Future[None]:
        nonlocal handed
        handed += 1
        written = submit(sink, out, now, clock)
        if handed == 3:
            third_handed_over.set()
        return written

    monkeypatch.setattr(LedgerRepository, "write", second_write_fails)
    monkeypatch.setattr(ThreadSink, "submit", counted)
    gate = threading.Event()
    with LedgerWriter(books, clock=gated_clock(gate), max_batch=4) as w:
        funded = w.submit([transfer(1, BANK, ALICE, 1_000)])
        spends = [w.submit([transfer(10 + i, ALICE, BOB, 50)]) for i in range(30)]
        gate.set()
        assert funded.result(30) == [OK]
        results = [f.result(30) for f in spends]
    assert results == [[OK]] * 20 + [[Result.exceeds_credits]] * 10  # 1,000 buys 20 of 50
    assert writes > 2  # the failed batch was written again
    assert balance(books, ALICE) == 0
    assert balance(books, BOB) == 1_000
    assert_verified(books)
