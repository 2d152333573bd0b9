"""Merging the ledger's sealed transfer parts, as a job (storage/ledger_merge.py).

Each step is a unit of work of its own, so the database's write lock is held for one
chunk of rows at a time and the API's payments go on between them; only the last step,
the swap, takes the ledger clock lock, for a handful of statements.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from guardpay.storage.engine.db import Database
from guardpay.storage.ledger_merge import exclusive, merged_name, plan
from guardpay.storage.uow import read_only, unit_of_work

log = structlog.get_logger("guardpay.ledger")


@dataclass(frozen=True)
class Merged:
    """One merge: the parts it took (their tables), the part they became, its rows."""

    parts: tuple[str, ...]
    into: str
    rows: int


def merge_once(db: Database) -> Merged | None:
    """The oldest merge that is due, done (None: none is due, or the parts changed
    while it was built, and the next run tries again). Call it holding `exclusive`."""
    with unit_of_work(db) as uow:
        merger = uow.ledger.merger()
        for table in merger.leftovers():  # a merge that did not finish
            merger.drop(table)
        run = plan(uow.ledger.parts.all())
        if run is None:
            return None
        table = merger.create(run)
    for part in run:
        after: int | None = part.first_timestamp - 1
        while after is not None:
            with unit_of_work(db) as uow:
                after = uow.ledger.merger().copy(part, table, after)
    with read_only(db) as uow:  # reads the ids for the filter: no write lock
        built = uow.ledger.merger().finish(run, table)
    with unit_of_work(db) as uow:
        uow.ledger.lock_clock()
        swapped = uow.ledger.merger().swap(built)
        if not swapped:
            uow.ledger.merger().drop(table)
    if not swapped:
        log.warning("ledger_merge_parts_changed", table=table)
        return None
    merged = Merged(tuple(p.name for p in run), merged_name(run), built.rows)
    log.info("ledger_parts_merged", parts=list(merged.parts), rows=built.rows)
    return merged


def merge(db: Database) -> list[Merged]:
    """Every merge that is due, oldest first (one merge may make the next one due),
    after dropping the parts the previous run's merges retired, one a transaction (a
    dropped table's pages are freed while the write lock is held). Nothing if another
    run is merging (`storage/ledger_merge.py` `exclusive`)."""
    with exclusive(db) as mine:
        if not mine:
            log.info("ledger_merge_already_running")
            return []
        with read_only(db) as uow:
            retired = uow.ledger.parts.retired()
        for name in retired:
            with unit_of_work(db) as uow:
                uow.ledger.merger().drop_retired(name)
        done = []
        while (one := merge_once(db)) is not None:
            done.append(one)
        return done
