"""Kill -9 a writing process: every batch is there entirely or not at all, and work goes on."""

from __future__ import annotations

import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from guardpay.bench.ledger_writer import LedgerWriter
from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.ledger.results import Result
from guardpay.services.ledger.books import execute, verify
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only, unit_of_work
from tests.factories import account, wallet
from tests.storage.crash_writer import BANK, CHAIN, WALLETS, chain

HELPER = Path(__file__).with_name("crash_writer.py")
THREADS = 4
COMMITTED_BEFORE_KILL = 30


def run_until_killed(db: Database, first: int, delay: float) -> set[int]:
    """Start a writer process, let it commit some batches, SIGKILL it `delay` seconds later
    (at different points of the next batch); returns the batch numbers it reported, once
    nothing it started can still commit (`wait_for_backends_to_end`)."""
    name = f"gp-crash-{secrets.token_hex(6)}"
    child = subprocess.Popen(
        [sys.executable, str(HELPER), _named(db, name), str(first), str(THREADS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            lines.put(line.strip())
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reported: set[int] = set()
    try:
        while len(reported) < COMMITTED_BEFORE_KILL:
            line = lines.get(timeout=60)
            assert line is not None, child.stderr.read() if child.stderr else "child exited"
            assert not line.startswith("error"), line
            reported.add(int(line))
        time.sleep(delay)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    reader.join(30)
    while (line := lines.get_nowait()) is not None:  # printed before the kill
        reported.add(int(line))
    assert child.returncode == -signal.SIGKILL  # it was killed mid-run, not finished
    wait_for_backends_to_end(db, name)
    return reported


def _named(db: Database, name: str) -> str:
    """The database URL, with the child's connections named on PostgreSQL."""
    if db.backend != "postgresql":
        return db.url
    return f"{db.url}{'&' if '?' in db.url else '?'}application_name={name}"


def wait_for_backends_to_end(db: Database, name: str, timeout: float = 60.0) -> None:
    """A SIGKILLed client's PostgreSQL backends live on until the server notices the
    broken connection, and one may still commit the transaction it was given (a chain
    counted as in flight then came back `exists`: a flaky failure). What survived is read
    only once none of them is left. SQLite needs no wait: a dead process writes nothing."""
    if db.backend != "postgresql":
        return
    deadline = time.monotonic() + timeout
    while True:
        with read_only(db) as uow:
            left = uow.conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :n"),
                {"n": name},
            ).scalar_one()
        if left == 0:
            return
        assert time.monotonic() < deadline, f"{left} backends of the killed client live on"
        time.sleep(0.05)


def batch_sizes(db: Database) -> dict[int, int]:
    with read_only(db) as uow:
        rows = uow.conn.execute(
            text("SELECT user_data_64, COUNT(*) FROM ledger_transfers GROUP BY user_data_64")
        ).all()
    return {int(batch): int(n) for batch, n in rows}


def assert_verified(db: Database) -> None:
    with read_only(db) as uow:
        report = verify(uow)
    assert report.ok, report.problems


@pytest.mark.slow
def test_a_killed_writer_leaves_only_whole_batches(db: Database) -> None:
    with unit_of_work(db) as uow:
        opened = execute(
            uow, [account(BANK, code=AccountCode.RESERVE)] + [wallet(w) for w in WALLETS]
        )
    assert opened == [Result.ok] * (1 + len(WALLETS))

    for first, delay in ((1, 0.0), (100_001, 0.011), (200_001, 0.027)):
        reported = run_until_killed(db, first, delay)

        sizes = batch_sizes(db)
        assert set(sizes.values()) == {CHAIN}  # whole chains only, never a part of one
        assert reported <= sizes.keys()  # everything reported committed survived
        assert_verified(db)

        # A fresh writer carries on: what was in flight can be sent again, what was
        # committed is recognised as such.
        in_flight = [n for n in range(first, max(sizes) + THREADS + 1) if n not in sizes]
        fresh = Database(db.url)
        try:
            with LedgerWriter(fresh) as writer:
                for n in sorted(reported)[:3]:
                    assert writer.apply(chain(n)) == [Result.exists] * CHAIN
                for n in in_flight:
                    assert writer.apply(chain(n)) == [Result.ok] * CHAIN, n
        finally:
            fresh.dispose()

        sizes = batch_sizes(db)
        assert set(sizes.values()) == {CHAIN}
        assert set(range(first, max(sizes) + 1)) <= sizes.keys()
        assert_verified(db)
