"""`guardpay bench audit`: the audit log's checks and archive at the size of grown books.

Every payment writes an audit entry, so a platform at 1,000 payments a second holds tens
of millions within days. This writes N entries shaped like a payment's (written set-based,
untimed, dated evenly over the 30 days before today), then times, in order:

- `verify`: the whole chain walked live (what `guardpay audit verify` does);
- `archive`: everything older than the newest tenth moved to files in a temporary
  directory, a file at a time (`guardpay archive run`);
- `verify_registry`: the chain with the archived entries checked by their registry;
- `verify_files`: the chain read through every archive file (`archive verify`).

Each step reports its seconds and entries per second; every check must come back clean.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from guardpay.adapters.archive import DirectoryStore
from guardpay.clock import utc_now
from guardpay.security.keys import Keyring
from guardpay.services.platform import audit
from guardpay.services.platform.archive import (
    file_by_file,
    register_audit_file,
    write_audit_file,
)
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.storage.engine.db import Database
from guardpay.storage.engine.migrate import upgrade
from guardpay.storage.engine.scratch import throwaway_database
from guardpay.storage.uow import read_only, unit_of_work

DAYS = 30
CHUNK = 10_000


def _drafts(start: int, stop: int, first: datetime, step: timedelta) -> list[audit.Draft]:
    """Entries like a succeeded P2P payment's (pipeline.record), one per index."""
    return [
        audit.Draft(
            first + step * i,
            f"user:usr_payer{i % 5000:05d}",
            None,
            "payment.succeeded",
            f"pay_bench{i:012d}",
            "ok",
            {"amount": 1 + i % 99, "currency": "CNY", "kind": "p2p", "path": ["processing"]},
        )
        for i in range(start, stop)
    ]


def fill(db: Database, entries: int) -> float:
    """`entries` entries, CHUNK to a unit of work; the seconds it took."""
    started = time.perf_counter()
    first = utc_now() - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / max(entries, 1)
    for start in range(0, entries, CHUNK):
        with unit_of_work(db) as uow:
            audit.record_many(uow, _drafts(start, min(start + CHUNK, entries), first, step))
    return time.perf_counter() - started


def _timed(count: int, step: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    started = time.perf_counter()
    made = step()
    seconds = time.perf_counter() - started
    return made, {"seconds": round(seconds, 2), "entries_per_second": round(count / seconds)}


def _verify(db: Database, store: DirectoryStore | None) -> audit.AuditReport:
    with read_only(db) as uow:
        return audit.verify(uow, store)


def _archive_all(db: Database, store: DirectoryStore, before: datetime) -> list[str]:
    """As `guardpay archive run` does it."""
    keyring = Keyring.generate()
    made = file_by_file(
        db,
        lambda uow: write_audit_file(uow, store, before),
        lambda uow, written: register_audit_file(Context(uow, keyring, SYSTEM), written),
    )
    return [m.name for m in made]


def run(entries: int, backend: str = "sqlite", postgres_url: str = "") -> dict[str, Any]:
    """The benchmark end to end, on a throwaway database; the JSON the command prints."""
    with throwaway_database(backend, postgres_url) as db, tempfile.TemporaryDirectory() as tmp:
        upgrade(db)
        return {"backend": backend} | measure(db, entries, Path(tmp) / "archive")


def measure(db: Database, entries: int, folder: Path) -> dict[str, Any]:
    """Fill a migrated, empty `db`, then time the steps, archiving into `folder`."""
    filled = fill(db, entries)
    store = DirectoryStore(folder)
    live, verify = _timed(entries, lambda: _verify(db, None))
    cutoff = utc_now() - timedelta(days=DAYS / 10)
    archived = entries - entries // 10
    names, archive = _timed(archived, lambda: _archive_all(db, store, cutoff))
    registry, by_registry = _timed(entries, lambda: _verify(db, None))
    files, by_files = _timed(entries, lambda: _verify(db, store))
    size = sum((folder / name).stat().st_size for name in names)
    return {
        "entries": entries,
        "fill_seconds": round(filled, 1),
        "verify": verify | {"ok": live.ok},
        "archive": archive | {"files": len(names), "bytes": size},
        "verify_registry": by_registry | {"ok": registry.ok, "live": registry.entries},
        "verify_files": by_files
        | {"ok": files.ok, "read": files.entries, "archived_through": files.archived_through},
        "ok": live.ok and registry.ok and files.ok and files.archived_through >= archived,
    }
