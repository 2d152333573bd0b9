"""Sealed transfer parts merged in tiers, on both backends: every transfer, page and
balance reads the same after a merge, `ledger verify` stays clean, a merge that did not
finish is cleaned up, and one whose parts changed meanwhile changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.ledger.model import NANOS_PER_SECOND, Transfer
from guardpay.domain.ledger.results import Result
from guardpay.services.ledger import parts as part_jobs
from guardpay.services.ledger.books import Clock, execute, verify
from guardpay.storage import ledger_parts
from guardpay.storage.engine.db import Database
from guardpay.storage.ledger_merge import exclusive, plan
from guardpay.storage.ledger_parts import Part
from guardpay.storage.uow import read_only, unit_of_work
from tests.factories import account, transfer, wallet

#: parts sealed at three transfers, so a few dozen make tiers
PER_PART = 3
BANK, ALICE, BOB = 1, 10, 11
T0 = 1_700_000_000 * NANOS_PER_SECOND


@pytest.fixture(autouse=True)
def tiny_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_parts, "TRANSFERS_PER_PART", PER_PART)


def at(ns: int) -> Clock:
    return lambda: ns


def write(db: Database, first_id: int, count: int) -> None:
    """`count` transfers, one unit of work each (a part is sealed between units)."""
    for n in range(first_id, first_id + count):
        payer, payee = (ALICE, BOB) if n % 2 else (BOB, ALICE)
        with unit_of_work(db) as uow:
            moved = execute(uow, [transfer(n, payer, payee, 1)], clock=at(T0 + n))
        assert moved == [Result.ok]


def open_books(db: Database) -> None:
    with unit_of_work(db) as uow:
        opened = execute(
            uow,
            [account(BANK, code=AccountCode.RESERVE), wallet(ALICE), wallet(BOB)],
            clock=at(T0),
        )
        funded = execute(uow, [transfer(1, BANK, ALICE, 1_000), transfer(2, BANK, BOB, 1_000)])
    assert opened == [Result.ok] * 3
    assert funded == [Result.ok] * 2


Snapshot = tuple[list[str], dict[int, Transfer | None], list[list[Transfer]]]


def snapshot(db: Database, ids: range) -> Snapshot:
    """The parts' names, every transfer by id, and both accounts' full histories."""
    with read_only(db) as uow:
        names = [p.name for p in uow.ledger.parts.all()]
        by_id = {i: uow.ledger_queries.transfer(i) for i in ids}
        pages = [
            uow.ledger_queries.account_transfers(a, cursor=None, limit=1_000).items
            for a in (ALICE, BOB)
        ]
        assert verify(uow).ok
    return names, by_id, pages


def indexes(db: Database, table: str) -> int:
    sql = (
        "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = :t"
        if db.backend == "postgresql"
        else "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
    )
    with db.read() as conn:
        return int(conn.execute(text(sql), {"t": table}).scalar_one())


def test_merged_parts_read_as_the_parts_did(db: Database) -> None:
    open_books(db)
    write(db, 100, 40)
    names, by_id, pages = snapshot(db, range(100, 140))
    merged = part_jobs.merge(db)
    after_names, after_by_id, after_pages = snapshot(db, range(100, 140))
    assert [m.into for m in merged] == [
        "ledger_transfers_p0001_0004",
        "ledger_transfers_p0005_0008",
        "ledger_transfers_p0009_0012",
    ]
    assert merged[0].parts == tuple(f"ledger_transfers_p{n:04d}" for n in range(1, 5))
    assert len(after_names) == len(names) - 9
    assert after_by_id == by_id
    assert None not in by_id.values()
    assert after_pages == pages
    # built with every index part 0 has (the unique id, both accounts, holds)
    assert indexes(db, merged[0].into) == indexes(db, "ledger_transfers") >= 4
    # the parts merged stay, retired, until the next run drops them
    with read_only(db) as uow:
        assert len(uow.ledger.parts.retired()) == 12
    assert part_jobs.merge(db) == []
    with read_only(db) as uow:
        assert uow.ledger.parts.retired() == []
        assert uow.ledger.merger().leftovers() == []
        assert verify(uow).ok
    assert indexes(db, "ledger_transfers_p0001") == 0  # dropped


def test_four_merged_parts_of_a_tier_merge_into_the_next(db: Database) -> None:
    open_books(db)
    write(db, 100, 40)
    part_jobs.merge(db)
    write(db, 200, 15)  # four more sealed parts: a fourth of tier 1, then tier 2
    merged = part_jobs.merge(db)
    names, by_id, _pages = snapshot(db, range(200, 215))
    assert [m.into for m in merged] == [
        "ledger_transfers_p0013_0016",
        "ledger_transfers_p0001_0016",
    ]
    assert names[:2] == ["ledger_transfers", "ledger_transfers_p0001_0016"]
    assert None not in by_id.values()
    assert part_jobs.merge(db) == []  # nothing more is due


def merge_due(db: Database) -> list[Part]:
    """Books with four sealed parts of tier 0 after part 0: the run one merge takes."""
    open_books(db)
    write(db, 100, 16)
    with read_only(db) as uow:
        run = plan(uow.ledger.parts.all())
    assert run is not None
    return run


def test_a_merge_that_did_not_finish_is_dropped_by_the_next(db: Database) -> None:
    run = merge_due(db)
    with unit_of_work(db) as uow:
        left = uow.ledger.merger().create(run)  # then the process died
    with read_only(db) as uow:
        assert uow.ledger.merger().leftovers() == [left]
        assert verify(uow).ok  # a table being built is not a part
    assert len(part_jobs.merge(db)) == 1
    with read_only(db) as uow:
        assert uow.ledger.merger().leftovers() == []
        assert verify(uow).ok


def test_a_merge_whose_parts_changed_meanwhile_changes_nothing(db: Database) -> None:
    run = merge_due(db)
    with unit_of_work(db) as uow:
        merger = uow.ledger.merger()
        table = merger.create(run)
        for part in run:
            after: int | None = part.first_timestamp - 1
            while after is not None:
                after = merger.copy(part, table, after, limit=2)
        built = merger.finish(run, table)
    part_jobs.merge(db)  # another merger took the same parts
    with unit_of_work(db) as uow:
        uow.ledger.lock_clock()
        names = [p.name for p in uow.ledger.parts.all()]
        assert not uow.ledger.merger().swap(built)
        assert [p.name for p in uow.ledger.parts.all()] == names
    with read_only(db) as uow:
        assert verify(uow).ok


def test_one_merge_run_at_a_time(db: Database) -> None:
    """A run that finds another merging does nothing: it neither merges nor drops the
    table the other is building."""
    run = merge_due(db)
    with exclusive(db) as mine:
        assert mine
        with unit_of_work(db) as uow:
            building = uow.ledger.merger().create(run)
        assert part_jobs.merge(db) == []
        with read_only(db) as uow:
            assert uow.ledger.merger().leftovers() == [building]
    assert len(part_jobs.merge(db)) == 1  # then it runs, and drops the leftover


def test_a_reader_that_listed_the_parts_before_a_merge_still_finds_every_transfer(
    db: Database,
) -> None:
    merge_due(db)
    with read_only(db) as uow:
        listed = uow.ledger.parts.all()
    ledger_parts._FILTERS.clear()  # a process that has not loaded the filters yet
    assert len(part_jobs.merge(db)) == 1
    with read_only(db) as uow:
        parts = uow.ledger.parts
        found = {t for part, maybe in parts.candidates(listed, set(range(100, 116))) for t in maybe}
        assert found == set(range(100, 116))  # the retired parts' filters, by uid
