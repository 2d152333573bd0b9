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

from dataclasses import dataclass
from datetime import datetime

from guardpay.adapters.archive import ArchiveStore
from guardpay.errors import ArchiveRefused
from guardpay.services.platform.archive_files import pack, sha256
from guardpay.services.platform.audit import AUDIT_ARCHIVE, GENESIS, record_of, walk
from guardpay.services.platform.context import Context
from guardpay.storage.audit import AuditArchive, AuditEntry

#: entries in one archive file (~25 MB compressed); a run writes as many files as it needs
ENTRIES_PER_FILE = 250_000


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
    """The oldest live entries, up to the newest written before `before` and at most
    `most` of them, archived to one file in `store`; None if there were none. The
    caller's unit of work commits the registry row and the deletion."""
    repo = ctx.uow.audit
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
    archive = AuditArchive(
        first_seq=first,
        last_seq=through,
        first_prev_hash=first_prev,
        last_hash=chain.prev,
        first_at=chain.first_at,
        last_at=chain.last_at,
        name=name,
        sha256=packed.sha256,
        size=len(packed.data),
        archived_at=ctx.now(),
    )
    repo.add_archive(archive)
    repo.delete_through(through)
    details = {"first_seq": first, "last_seq": through, "sha256": packed.sha256}
    ctx.audit("audit.archived", subject=name, details=details)
    return archive


def keep_file(store: ArchiveStore, name: str, data: bytes, digest: str) -> None:
    """Write the file and read it back: nothing leaves the database on the word of a
    store that did not keep it."""
    store.put(name, data)
    if sha256(store.get(name)) != digest:
        raise ArchiveRefused(
            f"the archive store gave back something else for {name}; nothing was archived"
        )
