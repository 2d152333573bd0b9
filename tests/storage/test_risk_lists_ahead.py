"""Risk list entries read for a batch at once (`read_lists_ahead`, one statement) give
each payment the hits it would read alone; an entry added or expired in the unit is
seen at once, and one that expires after the read is no longer a hit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from guardpay.storage.engine.db import Database
from guardpay.storage.risk import ListEntry
from guardpay.storage.uow import UnitOfWork, unit_of_work

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
_IDS = count()


def entry(
    entity: str, value: str, *, listed: str = "block", expires: datetime | None = None
) -> ListEntry:
    return ListEntry(f"rl_{next(_IDS)}", listed, entity, value, "test", "op", NOW, expires)


ENTRIES = [
    entry("user", "usr_mule"),
    entry("payee", "usr_shop", listed="allow"),
    entry("device", "dev_farm", expires=NOW + timedelta(minutes=5)),
    entry("ip", "10.0.0.9", expires=NOW - timedelta(minutes=1)),  # expired already
    entry("payee", "usr_mule"),  # the same value under another entity
]
KEYS = [
    [("user", "usr_mule"), ("payee", "usr_shop")],
    [("user", "usr_a"), ("device", "dev_farm"), ("ip", "10.0.0.9")],
    [("user", "usr_b"), ("payee", "usr_mule")],
    [("user", "usr_c")],
]
VALUES = sorted({v for keys in KEYS for _, v in keys})


def _alone(uow: UnitOfWork, keys: list[tuple[str, str]], now: datetime) -> set[str]:
    fresh = UnitOfWork(uow.conn)  # its own memo: the statement one payment runs alone
    return {e.id for e in fresh.risk.list_hits(keys, now)}


def _ahead(uow: UnitOfWork, keys: list[tuple[str, str]], now: datetime) -> set[str]:
    return {e.id for e in uow.risk.list_hits(keys, now)}


def test_hits_read_ahead_are_the_hits_read_alone(db: Database) -> None:
    with unit_of_work(db) as uow:
        for e in ENTRIES:
            uow.risk.add_list_entry(e)
        uow.risk.read_lists_ahead(VALUES, NOW)
        alone = [_alone(uow, keys, NOW) for keys in KEYS]
        assert [_ahead(uow, keys, NOW) for keys in KEYS] == alone
        uow.conn.exec_driver_sql("DELETE FROM risk_lists")  # answered from what was read
        assert [_ahead(uow, keys, NOW) for keys in KEYS] == alone
        assert alone == [{ENTRIES[0].id, ENTRIES[1].id}, {ENTRIES[2].id}, {ENTRIES[4].id}, set()]
        # an entry read ahead that has expired since is no longer a hit
        assert _ahead(uow, KEYS[1], NOW + timedelta(minutes=6)) == set()


def test_an_entry_written_in_the_unit_is_seen_by_the_next_payment(db: Database) -> None:
    with unit_of_work(db) as uow:
        for e in ENTRIES:
            uow.risk.add_list_entry(e)
        uow.risk.read_lists_ahead(VALUES, NOW)
        added = entry("user", "usr_c")
        uow.risk.add_list_entry(added)
        assert _ahead(uow, KEYS[3], NOW) == {added.id}
        uow.risk.read_lists_ahead(VALUES, NOW)
        assert uow.risk.expire_list_entry(ENTRIES[0].id, NOW)
        assert _ahead(uow, KEYS[0], NOW + timedelta(seconds=1)) == {ENTRIES[1].id}


def test_a_value_not_read_ahead_is_read_alone(db: Database) -> None:
    with unit_of_work(db) as uow:
        for e in ENTRIES:
            uow.risk.add_list_entry(e)
        uow.risk.read_lists_ahead(["usr_a"], NOW)
        assert _ahead(uow, KEYS[0], NOW) == {ENTRIES[0].id, ENTRIES[1].id}
