"""`guardpay bench reads`: how fast the ledger answers as it grows, on a database kept
by `bench ledger --database-url` (issue 20: an account's latest page in under 5 ms at
20 million transfers).

Untimed, it samples accounts (uniformly) and transfer ids (the same number from every
part, so old history is asked for as often as new). Timed, one at a time, as the API
asks: an account's latest page (`account_transfers`, 20 a page, newest first), a page
of 100, and a transfer by id. The baseline, in the same run: the account's row alone by
its id (one index seek), what any read costs before the parts come into it. Each read
is made once untimed first, so the figures are those of a warm cache (a run that went
first would otherwise warm it for the rest). Reported as medians and 99th percentiles in
milliseconds, with how many parts the ledger had, so
a run before and after `guardpay ledger merge` shows what merging changed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only

PAGE = 20


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(1000 * ordered[len(ordered) // 2], 3),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
    }


def _timed(read: Callable[[Any], object], keys: Sequence[Any]) -> dict[str, float]:
    samples = []
    for key in keys:
        started = time.perf_counter()
        read(key)
        samples.append(time.perf_counter() - started)
    return _ms(samples)


def run(db: Database, samples: int = 500, seed: int = 7) -> dict[str, Any]:
    """The report; reads one unit of work at a time, as the API's reads do."""
    rng = random.Random(seed)
    with read_only(db) as uow:
        parts = uow.ledger.parts.all()
        accounts = [int(r[0]) for r in uow.conn.exec_driver_sql("SELECT id FROM ledger_accounts")]
        per_part = max(1, samples // max(1, len(parts)))
        ids = [
            int(r[0])
            for part in parts
            for r in uow.conn.exec_driver_sql(
                f"SELECT id FROM {part.name} ORDER BY RANDOM() LIMIT {per_part}"
            )
        ]
    chosen = rng.sample(accounts, min(samples, len(accounts)))
    rng.shuffle(ids)
    with read_only(db) as uow:
        q = uow.ledger_queries
        for a in chosen:  # the warm-up (module docstring)
            q.account_transfers(a, limit=100)
        for i in ids:
            q.transfer(i)
        report = {
            "parts": len(parts),
            "transfers": sum(p.rows for p in parts),
            "accounts": len(accounts),
            "samples": len(chosen),
            "baseline": {"what": "an account's row by id"} | _timed(lambda a: q.account(a), chosen),
            "latest_page": _timed(lambda a: q.account_transfers(a, limit=PAGE), chosen),
            "page_of_100": _timed(lambda a: q.account_transfers(a, limit=100), chosen),
            "transfer_by_id": _timed(lambda i: q.transfer(i), ids),
        }
    return report
