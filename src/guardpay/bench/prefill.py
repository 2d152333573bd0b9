"""`guardpay bench api --prefill N`: the server starts on books that have grown.

Why. Every other benchmark starts from an empty database, and a payment platform never
runs on one (issue 20): the tables a payment writes (ledger transfers, payments, risk
decisions, audit entries) cost more to write as they grow. So the API bench can start
from a database that already holds N payments between its payers and payees, with what
each payment leaves behind: its ledger transfer, its payment row, its risk decision and
its audit entry, chained.

Built set-based, not through the API, which would take hours at ten million: the
transfers go through the bulk ledger writer (bench/ledger_writer.py) in full batches, the
rows by one statement per table for each CHUNK payments, in one unit of work. The
payments are P2P, 1 to 99 fen each, each payer paying in turn, dated evenly over the DAYS
days before today so that today's limits count only the measured payments; each payer is
first topped up with the most it can pay, so it can still pay what the bench asks. Not
written: Idempotency-Keys (purged a day after their request, and these are older) and
outbox rows (a P2P payment notifies no merchant); the risk feature state (in process or
in Redis) does not learn of these payments.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from guardpay.bench.ledger_writer import LedgerWriter
from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.ids import new_transfer_id
from guardpay.domain.ledger.model import Transfer
from guardpay.domain.ledger.results import Result
from guardpay.domain.payments.postings import payments as postings
from guardpay.security.keys import Keyring
from guardpay.services.ledger import wallets
from guardpay.services.ledger.books import MAX_BATCH
from guardpay.services.payments import past
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import unit_of_work

CNY = 156
DAYS = 30
CHUNK = 10_000
#: full ledger batches outstanding at once (as in `bench ledger`)
WINDOW = 4


@dataclass(frozen=True)
class Prefilled:
    payments: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        rate = round(self.payments / self.seconds) if self.seconds else 0
        return {"payments": self.payments, "seconds": round(self.seconds, 1), "per_second": rate}


@dataclass(frozen=True)
class _Plan:
    """Who pays whom how much, payment by payment (index i: payer i mod payers)."""

    payers: Sequence[str]
    payees: Sequence[str]
    count: int
    seed: int

    def chunk(self, start: int, stop: int) -> list[tuple[str, str, int]]:
        rng = random.Random(self.seed * 1_000_003 + start)
        return [
            (
                self.payers[i % len(self.payers)],
                self.payees[rng.randrange(len(self.payees))],
                rng.randint(1, 99),
            )
            for i in range(start, stop)
        ]

    def most_each_pays(self) -> int:
        return 99 * -(-self.count // len(self.payers))


def prefill(
    db: Database,
    keyring: Keyring,
    payers: Sequence[str],
    payees: Sequence[str],
    count: int,
    *,
    now: datetime,
    seed: int = 11,
) -> Prefilled:
    """`count` P2P payments from `payers` to `payees` (user ids with CNY wallets open)."""
    started = time.perf_counter()
    plan = _Plan(payers, payees, count, seed)
    accounts, reserve = _accounts(db, keyring, [*payers, *payees])
    first = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / max(count, 1)
    with LedgerWriter(db) as writer:
        top_ups = [
            Transfer(
                new_transfer_id(),
                reserve,
                accounts[p],
                plan.most_each_pays(),
                ledger=CNY,
                code=TransferCode.TOP_UP,
            )
            for p in payers
        ]
        for i in range(0, len(top_ups), MAX_BATCH):
            _require_ok(writer.apply(top_ups[i : i + MAX_BATCH]))
        window: deque[Future[list[Result]]] = deque()
        for start in range(0, count, CHUNK):
            chunk = plan.chunk(start, min(start + CHUNK, count))
            moves = [
                postings.p2p(
                    payer=accounts[payer],
                    payee=accounts[payee],
                    amount=amount,
                    ledger=CNY,
                    transfer_id=new_transfer_id(),
                )[0]
                for payer, payee, amount in chunk
            ]
            for i in range(0, len(moves), MAX_BATCH):
                window.append(writer.submit(moves[i : i + MAX_BATCH]))
                while len(window) > WINDOW:
                    _require_ok(window.popleft().result())
            made = [
                past.PastP2P(payer, payee, amount, first + step * (start + i))
                for i, (payer, payee, amount) in enumerate(chunk)
            ]
            with unit_of_work(db) as uow:
                past.record(uow, made)
        while window:
            _require_ok(window.popleft().result())
    return Prefilled(count, time.perf_counter() - started)


def _accounts(db: Database, keyring: Keyring, users: Sequence[str]) -> tuple[dict[str, int], int]:
    """Each user's CNY wallet (opened if need be) and the reserve account."""
    with unit_of_work(db) as uow:
        ctx = Context(uow, keyring, SYSTEM)
        reserve = wallets.open_platform_accounts(ctx, "CNY")[AccountCode.RESERVE]
        return {u: wallets.wallet(ctx, "user", u, "CNY") for u in users}, reserve


def _require_ok(results: list[Result]) -> None:
    bad = [r for r in results if r is not Result.ok]
    if bad:
        raise RuntimeError(f"prefill: the ledger refused {len(bad)} transfers, e.g. {bad[:3]}")
