"""A child process for test_crash.py: writes numbered batches until it is killed.

    python crash_writer.py DATABASE_URL FIRST_BATCH THREADS

Each thread applies linked chains through one shared LedgerWriter: chain `n` tops up the
first wallet from BANK and then passes the money from wallet to wallet, CHAIN transfers
in all, every one carrying `n` in user_data_64. After a chain's result arrives (that is,
after its batch committed) the child prints `n`, so the parent knows what must survive.
"""

from __future__ import annotations

import sys
import threading

from guardpay.bench.ledger_writer import LedgerWriter
from guardpay.domain.ledger.model import Transfer, TransferFlags
from guardpay.storage.engine.db import Database

BANK = 1
WALLETS = list(range(10, 18))
CHAIN = 150
CNY, P2P = 156, 3


def chain(n: int) -> list[Transfer]:
    """Batch `n`: money from BANK around the wallets, all or nothing."""
    path = [BANK, *(WALLETS[i % len(WALLETS)] for i in range(CHAIN))]
    out = []
    for i in range(CHAIN):
        flags = TransferFlags.LINKED if i < CHAIN - 1 else 0
        out.append(
            Transfer(
                n * 1_000 + i + 1, path[i], path[i + 1], 1_000 + n, 0, n, 0, 0, CNY, P2P, flags
            )
        )
    return out


def main() -> None:
    url, first, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    lock = threading.Lock()
    db = Database(url)
    writer = LedgerWriter(db)

    def run(t: int) -> None:
        n = first + t
        while True:
            results = writer.apply(chain(n))
            if any(r != "ok" for r in results):
                with lock:
                    print(f"error {n} {results}", flush=True)
                return
            with lock:
                print(n, flush=True)
            n += threads

    pool = [threading.Thread(target=run, args=(t,), daemon=True) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()


if __name__ == "__main__":
    main()
