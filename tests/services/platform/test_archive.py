"""The audit log's oldest entries move to archive files; the chain stays verifiable
through the files into the live log, and every way of cutting it shows."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from guardpay.adapters.archive import DirectoryStore, MemoryStore
from guardpay.errors import ArchiveRefused
from guardpay.security.keys import Keyring
from guardpay.services.platform.archive import (
    archive_audit,
    register_audit_file,
    write_audit_file,
)
from guardpay.services.platform.archive_files import ArchiveUnreadable, pack, unpack
from guardpay.services.platform.audit import AUDIT_ARCHIVE, AuditReport, verify
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.storage.audit import AuditArchive
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only, unit_of_work
from tests.services.platform.test_audit import T0, drop_guards, write_entries

#: entries 1..10 are written at T0 + 0..9 s; this cutoff takes the first six
CUTOFF = T0 + timedelta(seconds=5.5)


def archive(
    db: Database, store: MemoryStore | DirectoryStore, most: int = 1000
) -> AuditArchive | None:
    with unit_of_work(db) as uow:
        ctx = Context(uow, Keyring.generate(), SYSTEM, clock=lambda: T0 + timedelta(days=1))
        return archive_audit(ctx, store, CUTOFF, most=most)


def checked(db: Database, store: MemoryStore | DirectoryStore | None = None) -> AuditReport:
    with read_only(db) as uow:
        return verify(uow, store)


def live_seqs(db: Database) -> list[int]:
    with db.read() as conn:
        return [r[0] for r in conn.execute(text("SELECT seq FROM audit_log ORDER BY seq"))]


def test_old_entries_move_to_a_file_and_the_chain_still_verifies(db: Database) -> None:
    write_entries(db, 10)
    store = MemoryStore()
    made = archive(db, store)
    assert made is not None
    assert (made.first_seq, made.last_seq, made.name) == (
        1,
        6,
        "audit-000000000001-000000000006.jsonl.gz",
    )
    assert live_seqs(db) == [7, 8, 9, 10, 11]  # 11: the archive, itself audited
    header, records = unpack(AUDIT_ARCHIVE, store.get(made.name))
    assert (header["first_seq"], header["last_seq"]) == (1, 6)
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5, 6]
    by_registry, by_files = checked(db), checked(db, store)
    assert (by_registry.ok, by_registry.entries, by_registry.archived_through) == (True, 5, 6)
    assert (by_files.ok, by_files.entries, by_files.archives_read) == (True, 11, 1)
    assert by_files.head_seq == 11


def test_a_rerun_archives_nothing_more_and_files_chain_on(db: Database) -> None:
    write_entries(db, 10)
    store = MemoryStore()
    made = [archive(db, store, most=4) for _ in range(3)]
    assert [(m.first_seq, m.last_seq) if m else None for m in made] == [(1, 4), (5, 6), None]
    report = checked(db, store)
    assert (report.ok, report.archives_read, report.archived_through) == (True, 2, 6)


def test_the_database_refuses_to_delete_an_entry_no_archive_holds(db: Database) -> None:
    write_entries(db, 10)
    archive(db, MemoryStore())
    with pytest.raises(Exception, match="append-only"), db.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_log WHERE seq = 7")
    for sql in ("UPDATE audit_archives SET last_seq = 9", "DELETE FROM audit_archives"):
        with pytest.raises(Exception, match="append-only"), db.begin() as conn:
            conn.exec_driver_sql(sql)
    assert live_seqs(db) == [7, 8, 9, 10, 11]


def test_a_lost_or_changed_file_is_found_by_reading_the_files(db: Database) -> None:
    write_entries(db, 10)
    store = MemoryStore()
    made = archive(db, store)
    assert made is not None
    good = store.files[made.name]
    header, records = unpack(AUDIT_ARCHIVE, good)
    records[2]["outcome"] = "denied"  # rewritten whole, a valid file of another content
    store.files[made.name] = pack(AUDIT_ARCHIVE, header, records).data
    report = checked(db, store)
    assert (report.ok, report.first_bad_seq) == (False, 1)
    assert "SHA-256" in (report.problem or "")
    del store.files[made.name]
    report = checked(db, store)
    assert "missing" in (report.problem or "")
    store.files[made.name] = good
    assert checked(db, store).ok


def test_a_forged_registry_row_lets_entries_go_but_not_past_the_files(db: Database) -> None:
    """Someone with database access registers an archive that was never written, to
    delete live entries: the registry alone cannot tell, reading the files does."""
    write_entries(db, 10)
    with db.begin() as conn:
        [(last_hash,)] = conn.execute(text("SELECT hash FROM audit_log WHERE seq = 3")).all()
    forged = AuditArchive(
        1, 3, "0" * 64, last_hash, T0, T0, "audit-forged.jsonl.gz", "0" * 64, 1, T0
    )
    with unit_of_work(db) as uow:
        uow.audit.add_archive(forged)
        uow.audit.delete_through(3)
    assert checked(db).ok  # the registry's ends fit
    report = checked(db, MemoryStore())
    assert (report.ok, report.first_bad_seq) == (False, 1)
    assert "audit-forged.jsonl.gz is missing" in (report.problem or "")


def test_entries_deleted_behind_an_archive_break_the_chain(db: Database) -> None:
    write_entries(db, 10)
    archive(db, MemoryStore())
    with db.begin() as conn:
        drop_guards(conn)
        conn.exec_driver_sql("DELETE FROM audit_log WHERE seq = 7")
    report = checked(db)
    assert (report.ok, report.first_bad_seq) == (False, 7)


def test_a_broken_chain_is_not_archived(db: Database) -> None:
    write_entries(db, 10)
    with db.begin() as conn:
        drop_guards(conn)
        conn.exec_driver_sql("UPDATE audit_log SET outcome = 'denied' WHERE seq = 3")
    store = MemoryStore()
    with pytest.raises(ArchiveRefused, match="broken at entry 3") as refused:
        archive(db, store)
    assert refused.value.code == "audit_chain_broken"
    assert live_seqs(db) == list(range(1, 11))
    assert checked(db).archived_through == 0


class ForgetfulStore(MemoryStore):
    """A store that says it kept a file but gives back something else."""

    def get(self, name: str) -> bytes:
        return b"not it"


def test_nothing_leaves_the_database_on_a_store_that_did_not_keep_the_file(
    db: Database,
) -> None:
    write_entries(db, 10)
    with pytest.raises(ArchiveRefused, match="gave back something else"):
        archive(db, ForgetfulStore())
    assert live_seqs(db) == list(range(1, 11))


def test_a_directory_store_keeps_files_whole_and_names_plain(db: Database, tmp_path: Path) -> None:
    write_entries(db, 10)
    store = DirectoryStore(tmp_path / "archive")
    made = archive(db, store)
    assert made is not None
    assert sorted(p.name for p in (tmp_path / "archive").iterdir()) == [made.name]
    assert checked(db, DirectoryStore(tmp_path / "archive")).ok
    with pytest.raises(ValueError, match="not an archive name"):
        store.put("../escape", b"")


def test_an_archive_file_of_another_kind_or_damaged_is_unreadable() -> None:
    packed = pack("webhook_events", {}, [{"a": 1}])
    with pytest.raises(ArchiveUnreadable, match="not of 'audit_entries'"):
        unpack(AUDIT_ARCHIVE, packed.data)
    with pytest.raises(ArchiveUnreadable, match="not a readable archive"):
        unpack(AUDIT_ARCHIVE, packed.data[:-10])
    assert pack("x", {}, [{"a": 1}]).data == pack("x", {}, [{"a": 1}]).data  # no timestamp


def test_a_file_made_before_another_run_registered_is_refused(db: Database) -> None:
    """Two runs at once make the same file; the second to register finds the chain
    moved on and archives nothing (the first already holds those entries)."""
    write_entries(db, 10)
    store = MemoryStore()
    with read_only(db) as uow:
        first = write_audit_file(uow, store, CUTOFF)
    with read_only(db) as uow:
        second = write_audit_file(uow, store, CUTOFF)
    assert first is not None
    assert second is not None
    ctx_of = lambda uow: Context(uow, Keyring.generate(), SYSTEM)  # noqa: E731
    with unit_of_work(db) as uow:
        register_audit_file(ctx_of(uow), first)
    with pytest.raises(ArchiveRefused) as refused, unit_of_work(db) as uow:
        register_audit_file(ctx_of(uow), second)
    assert (refused.value.code, refused.value.retryable) == ("archive_raced", True)
    assert checked(db, store).ok
    assert checked(db).archived_through == 6
