"""Many writers, many connections, one wallet: the ledger never lets it go below zero."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from guardpay.bench.ledger_writer import LedgerWriter
from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.results import Result
from guardpay.services.ledger.books import VerifyReport, execute, verify
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only, unit_of_work
from tests.factories import account, transfer, wallet

BANK, ALICE = 1, 10
WRITERS, ATTEMPTS = 32, 100
AMOUNT = 100  # fen per payment
K = 1_000  # payments Alice can afford
FIRST_PAYEE = 100_000


def payee(writer: int, attempt: int) -> int:
    return FIRST_PAYEE + writer * ATTEMPTS + attempt


def payment_id(writer: int, attempt: int) -> int:
    return 1_000_000 + writer * ATTEMPTS + attempt


@pytest.mark.slow
def test_writers_on_separate_connections_never_overdraw_a_wallet(db: Database) -> None:
    payees = [payee(w, a) for w in range(WRITERS) for a in range(ATTEMPTS)]
    with unit_of_work(db) as uow:
        opened = execute(
            uow,
            [account(BANK, code=AccountCode.RESERVE), wallet(ALICE)]
            + [account(p, code=AccountCode.MERCHANT_SETTLEMENT) for p in payees],
        )
        funded = execute(uow, [transfer(1, BANK, ALICE, K * AMOUNT, code=TransferCode.TOP_UP)])
    assert opened == [Result.ok] * (2 + len(payees))
    assert funded == [Result.ok]

    start = threading.Barrier(WRITERS)
    results: dict[int, list[Result]] = {}
    errors: list[BaseException] = []

    def spender(w: int) -> None:
        own = Database(db.url)  # its own engine and connections
        try:
            with LedgerWriter(own) as writer:
                start.wait(60)
                mine = []
                for a in range(ATTEMPTS):
                    pay = transfer(
                        payment_id(w, a),
                        ALICE,
                        payee(w, a),
                        AMOUNT,
                        code=TransferCode.MERCHANT_PAYMENT,
                    )
                    (result,) = writer.apply([pay])
                    mine.append(result)
                results[w] = mine
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            own.dispose()

    # Meanwhile an auditor verifies the ledger again and again: each check reads one
    # consistent snapshot, so it must never see half of a batch.
    done = threading.Event()
    audits: list[VerifyReport] = []

    def auditor() -> None:
        while not done.is_set():
            with read_only(db) as uow:
                audits.append(verify(uow))
            time.sleep(0.05)

    threads = [threading.Thread(target=spender, args=(w,)) for w in range(WRITERS)]
    watcher = threading.Thread(target=auditor)
    for th in threads:
        th.start()
    watcher.start()
    for th in threads:
        th.join(120)
    done.set()
    watcher.join(60)
    assert not any(th.is_alive() for th in threads)
    assert errors == []
    assert len(audits) > 1
    assert [a.problems for a in audits if not a.ok] == []

    tally = Counter(r for mine in results.values() for r in mine)
    assert tally == {Result.ok: K, Result.exceeds_credits: WRITERS * ATTEMPTS - K}

    with read_only(db) as uow:
        q = uow.ledger_queries
        alice = q.account(ALICE)
        history = []
        cursor = 0
        while True:
            page = q.balance_history(ALICE, cursor=cursor, limit=500)
            history.extend(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        paid = {
            p: found.balance
            for p in payees
            if (found := q.account(p)) is not None and found.balance
        }
        report = verify(uow)
        accounts, transfers = q.counts()

    assert alice is not None
    assert (alice.balance, alice.debits_pending, alice.debits_posted) == (0, 0, K * AMOUNT)
    # every balance Alice ever had, oldest first: never negative, down by one payment a step
    balances = [h.credits_posted - h.debits_posted - h.debits_pending for h in history]
    assert balances == [K * AMOUNT - AMOUNT * i for i in range(K + 1)]
    assert min(balances) == 0
    # the payees who were paid are exactly those whose payment succeeded
    succeeded = {
        payee(w, a) for w, mine in results.items() for a, r in enumerate(mine) if r is Result.ok
    }
    assert paid == dict.fromkeys(succeeded, AMOUNT)
    assert (accounts, transfers) == (2 + len(payees), 1 + K)
    assert report.ok, report.problems
