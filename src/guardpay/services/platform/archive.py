"""Archiving the audit log: its oldest entries leave the live database for files, and the
chain stays verifiable across them.

Why: every payment writes an audit entry, and a team must keep them for years; a live
table that only grows makes every backup, verify and disk bigger. An archive moves the
oldest entries, a file at a time, into an `ArchiveStore` (adapters/archive.py): the file
first, durably, read back and compared; then, in the same unit of work, the registry row
(`audit_archives`: the file's name, SHA-256 and the chain's ends in it) and the deletion
of those entries, which the database allows only for entries a registered archive holds
(migration 0017). The archive itself is an audited action, written into the live chain.

`audit verify` (audit.py) starts the live chain where the last archive ends, and with the
store also re-reads every file: a file lost, replaced or edited, a registry row forged to
let entries be deleted, or entries deleted without one, each shows as the first bad
entry. Nothing is archived from a chain that does not verify: a broken chain stays in the
database, where it can be investigated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from guardpay.adapters.archive import ArchiveStore
from guardpay.errors import ArchiveRefused
from guardpay.services.platform.archive_files import pack, sha256
from guardpay.services.platform.audit import AUDIT_ARCHIVE, GENESIS, record_of, walk
from guardpay.services.platform.context import Context
from guardpay.storage.audit import AuditArchive, AuditEntry
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import UnitOfWork, read_only, unit_of_work

#: entries in one archive file (~25 MB compressed); a run writes as many files as it needs
ENTRIES_PER_FILE = 250_000
T = TypeVar("T")


@dataclass
class _Chain:
    """The chain followed while its entries are written to a file."""

    seq: int
    prev: str
    first_at: datetime | None = None
    last_at: datetime | None = None

    def follow(self, e: AuditEntry) -> AuditEntry:
        step = walk([e], self.seq, self.prev)
        if step.problem is not None:
            raise ArchiveRefused(
                f"the audit log is broken at entry {step.bad}: {step.problem}; "
                "nothing was archived (run `guardpay audit verify`)",
                code="audit_chain_broken",
            )
        self.seq, self.prev, self.last_at = step.seq, step.prev, e.at
        self.first_at = self.first_at or e.at
        return e


def archive_audit(
    ctx: Context, store: ArchiveStore, before: datetime, *, most: int = ENTRIES_PER_FILE
) -> AuditArchive | None:
    """`write_audit_file` then `register_audit_file`, in the caller's one unit of work."""
    written = write_audit_file(ctx.uow, store, before, most=most)
    return None if written is None else register_audit_file(ctx, written)


def write_audit_file(
    uow: UnitOfWork, store: ArchiveStore, before: datetime, *, most: int = ENTRIES_PER_FILE
) -> AuditArchive | None:
    """The oldest live entries, up to the newest written before `before` and at most
    `most` of them, written to one file in `store` and read back; the registry row that
    `register_audit_file` will add, or None if there were none. Only reads: archived
    entries never change, so a live server goes on writing while the file is made (a
    read-only unit of work will do)."""
    repo = uow.audit
    archives = repo.archives()
    first = archives[-1].last_seq + 1 if archives else 1
    chain = _Chain(first, archives[-1].last_hash if archives else GENESIS)
    through = min(repo.last_seq_before(before), first + most - 1)
    if through < first:
        return None
    first_prev = chain.prev
    header = {"first_seq": first, "last_seq": through, "first_prev_hash": first_prev}
    entries = repo.entries(after=first - 1, through=through)
    packed = pack(AUDIT_ARCHIVE, header, (record_of(chain.follow(e)) for e in entries))
    if chain.seq != through + 1 or chain.first_at is None or chain.last_at is None:
        raise ArchiveRefused(
            f"audit entries {chain.seq} to {through} are missing; nothing was archived",
            code="audit_chain_broken",
        )
    name = f"audit-{first:012d}-{through:012d}.jsonl.gz"
    keep_file(store, name, packed.data, packed.sha256)
    return AuditArchive(
        first_seq=first,
        last_seq=through,
        first_prev_hash=first_prev,
        last_hash=chain.prev,
        first_at=chain.first_at,
        last_at=chain.last_at,
        name=name,
        sha256=packed.sha256,
        size=len(packed.data),
        archived_at=chain.last_at,  # stamped when registered
    )


def register_audit_file(ctx: Context, written: AuditArchive) -> AuditArchive:
    """Register a written file and delete its entries from the live log: the short
    write transaction of an archive. Refused if another run registered entries since
    the file was made (its file would not join the chain)."""
    repo = ctx.uow.audit
    archives = repo.archives()
    if (archives[-1].last_seq if archives else 0) != written.first_seq - 1:
        raise ArchiveRefused(
            "another archive run registered audit entries meanwhile; nothing was "
            "archived this time: run it again",
            code="archive_raced",
            retryable=True,
        )
    archive = replace(written, archived_at=ctx.now())
    repo.add_archive(archive)
    repo.delete_through(archive.last_seq)
    details = {"first_seq": archive.first_seq, "last_seq": archive.last_seq}
    ctx.audit("audit.archived", subject=archive.name, details=details | {"sha256": archive.sha256})
    return archive


def keep_file(store: ArchiveStore, name: str, data: bytes, digest: str) -> None:
    """Write the file and read it back: nothing leaves the database on the word of a
    store that did not keep it."""
    store.put(name, data)
    if sha256(store.get(name)) != digest:
        raise ArchiveRefused(
            f"the archive store gave back something else for {name}; nothing was archived"
        )


def file_by_file(
    db: Database,
    write: Callable[[UnitOfWork], T | None],
    register: Callable[[UnitOfWork, T], T],
) -> list[T]:
    """Archive a file at a time until there is nothing left: each written and read back
    in a read-only unit of work (a live server goes on writing meanwhile), then
    registered, its records deleted, in a short unit of work of its own."""
    done: list[T] = []
    while True:
        with read_only(db) as uow:
            written = write(uow)
        if written is None:
            return done
        with unit_of_work(db) as uow:
            done.append(register(uow, written))
