"""The audit log: who did what, when, from where, with what outcome — tamper-evident.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical
JSON, so editing, deleting, inserting or reordering any entry breaks the chain from that
point; the head row catches entries cut off the end. `guardpay audit verify` walks the
chain and names the first bad entry. The head hash it prints can be anchored outside the
database (a ticket, a signed email), which also catches a rewrite of the whole chain.

Appends lock the head row, so audited actions on one database are serialised at that
point; a deployment that outgrows it keeps one chain per shard. A unit of work locks it
at its first entry, keeps the chain's end in memory after that, and writes the head row
once, right before it commits.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import structlog

from guardpay.adapters.archive import ArchiveMissing, ArchiveStore
from guardpay.observability import scrub
from guardpay.services.platform.archive_files import ArchiveUnreadable, sha256, unpack
from guardpay.storage.audit import AuditArchive, AuditEntry
from guardpay.storage.uow import UnitOfWork

GENESIS = "0" * 64
#: the kind of record an archive file of audit entries holds (archive_files.py)
AUDIT_ARCHIVE = "audit_entries"
log = structlog.get_logger("guardpay.audit")


def _timestamp(at: datetime) -> str:
    """One spelling for a moment, whatever the database hands back (naive means UTC)."""
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    prev_hash: str,
    seq: int,
    at: datetime,
    actor: str,
    ip: str | None,
    action: str,
    subject: str | None,
    outcome: str,
    details: str,
) -> str:
    body = json.dumps(
        [seq, _timestamp(at), actor, ip, action, subject, outcome, details],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class Draft:
    """An entry before the chain gives it its place: what `record` takes, as a value."""

    at: datetime
    actor: str
    ip: str | None
    action: str
    subject: str | None
    outcome: str
    details: Mapping[str, Any]


def _chained(end: tuple[int, str], d: Draft) -> AuditEntry:
    seq, prev = end
    canonical = json.dumps(
        scrub(d.details), ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
    )
    digest = entry_hash(
        prev, seq + 1, d.at, d.actor, d.ip, d.action, d.subject, d.outcome, canonical
    )
    return AuditEntry(
        seq + 1, d.at, d.actor, d.ip, d.action, d.subject, d.outcome, canonical, prev, digest
    )


def hold_head(uow: UnitOfWork) -> None:
    """Lock the chain's head now, before the row locks the caller takes next. Locks are
    taken in one order (the ledger clock, then the audit head, then a case's rows): a
    unit that would take the head only at its first entry, after a case row, could
    deadlock with a batch of payments already holding the head (PostgreSQL)."""
    if uow.audit_head is None:
        uow.audit_head = uow.audit.lock_head()


def record_many(uow: UnitOfWork, drafts: Sequence[Draft]) -> None:
    """Append entries in order, in one statement: for bulk loads (`bench api --prefill`),
    where an entry each is what is being built, not an action that happened now, so no
    log line is written for them."""
    end = uow.audit_head or uow.audit.lock_head()
    entries = []
    for draft in drafts:
        entries.append(_chained(end, draft))
        end = (entries[-1].seq, entries[-1].hash)
    uow.audit.append_many(entries)
    uow.audit_head = end


def record(
    uow: UnitOfWork,
    at: datetime,
    actor: str,
    ip: str | None,
    action: str,
    *,
    subject: str | None,
    outcome: str,
    details: Mapping[str, Any],
) -> AuditEntry:
    """Append one entry in the caller's unit of work (it commits with the action); the
    request's context calls it (`Context.audit`). The head is locked at the unit's first
    entry and written once, when the unit commits (`UnitOfWork.audit_head`): a batch of
    payments moves it once, not once per entry."""
    draft = Draft(at, actor, ip, action, subject, outcome, details)
    entry = _chained(uow.audit_head or uow.audit.lock_head(), draft)
    uow.audit.append(entry)
    uow.audit_head = (entry.seq, entry.hash)
    # The same event, for operators' log pipelines, once it has really happened (the log
    # processor scrubs it again); not even built when info lines are not logged.
    if log.is_enabled_for(logging.INFO):
        fields = {"actor": actor, "ip": ip, "subject": subject, "outcome": outcome}
        uow.after_commit(lambda: log.info(action, **fields, details=scrub(details)))
    return entry


@dataclass(frozen=True)
class AuditReport:
    """`entries`: how many entries were checked (the live ones, and the archived ones
    when their files were read); `archived_through`: the last entry archived to files;
    `archives_read`: how many archive files were read and checked (None: not asked)."""

    entries: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    archived_through: int = 0
    archives_read: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
            "archived_through": self.archived_through,
            "archives_read": self.archives_read,
        }


@dataclass(frozen=True)
class Walk:
    """Where a walk along the chain got to: the next seq and the hash it must follow,
    how many entries fitted, and the first problem (with the entry it names)."""

    seq: int
    prev: str
    count: int = 0
    problem: str | None = None
    bad: int | None = None


def walk(entries: Iterable[AuditEntry], seq: int, prev: str) -> Walk:
    """Follow the chain from entry `seq`, which must follow hash `prev`; stop at the
    first entry that does not fit."""
    count = 0
    for e in entries:
        problem = _check(e, seq, prev)
        if problem is not None:  # a gap names the missing entry, else the changed one
            return Walk(seq, prev, count, problem, min(e.seq, seq))
        seq, prev, count = e.seq + 1, e.hash, count + 1
    return Walk(seq, prev, count)


def verify(uow: UnitOfWork, archive: ArchiveStore | None = None) -> AuditReport:
    """Walk the chain from the start: through the archived entries' registry (and, with
    `archive`, through their files), then the live log; stop at the first entry that
    does not fit."""
    repo = uow.audit
    head_seq, head_hash = repo.head()
    archives = repo.archives()
    report = partial(
        AuditReport,
        head_seq=head_seq,
        head_hash=head_hash,
        archives_read=None if archive is None else len(archives),
    )
    at = Walk(1, GENESIS)
    for registered in archives:
        at = _archived(registered, at, archive)
        if at.problem is not None:
            return report(at.count, first_bad_seq=at.bad, problem=at.problem)
    archived, done = at.seq - 1, at.count
    report = partial(report, archived_through=archived)
    at = walk(repo.entries(after=archived), at.seq, at.prev)
    if at.problem is not None:
        return report(done + at.count, first_bad_seq=at.bad, problem=at.problem)
    if (head_seq, head_hash) != (at.seq - 1, at.prev):
        bad = at.seq if head_seq >= at.seq else head_seq
        why = f"the head says entry {head_seq} but the chain ends at {at.seq - 1}"
        return report(done + at.count, first_bad_seq=bad, problem=why)
    return report(done + at.count)


def _archived(a: AuditArchive, at: Walk, store: ArchiveStore | None) -> Walk:
    """The walk past one registered archive: its ends must join the chain; with a
    store, its file must be the one archived and its entries must chain from end to end."""
    if (a.first_seq, a.first_prev_hash) != (at.seq, at.prev):
        why = f"archive {a.name} starts at entry {a.first_seq}, not where the chain goes on"
        return Walk(at.seq, at.prev, at.count, why, at.seq)
    if store is None:
        return Walk(a.last_seq + 1, a.last_hash, at.count)
    try:
        entries = _file_entries(a, store)
    except ArchiveMissing:
        problem = f"archive {a.name} is missing from the archive store"
        return Walk(at.seq, at.prev, at.count, problem, a.first_seq)
    except ArchiveUnreadable as exc:
        return Walk(at.seq, at.prev, at.count, f"archive {a.name}: {exc}", a.first_seq)
    inside = walk(entries, a.first_seq, a.first_prev_hash)
    count = at.count + inside.count
    if inside.problem is not None:
        return Walk(at.seq, at.prev, count, f"in {a.name}: {inside.problem}", inside.bad)
    if (inside.seq - 1, inside.prev) != (a.last_seq, a.last_hash):
        why = f"archive {a.name} ends at entry {inside.seq - 1}, its registry at {a.last_seq}"
        return Walk(at.seq, at.prev, count, why, inside.seq)
    return Walk(a.last_seq + 1, a.last_hash, count)


def _file_entries(a: AuditArchive, store: ArchiveStore) -> list[AuditEntry]:
    """The entries of a registered file, if it is the very file that was archived."""
    data = store.get(a.name)
    if sha256(data) != a.sha256:
        raise ArchiveUnreadable("it is not the file that was archived (its SHA-256 differs)")
    _, records = unpack(AUDIT_ARCHIVE, data)
    return [entry_of(r) for r in records]


def record_of(e: AuditEntry) -> dict[str, Any]:
    """An entry as an archive file keeps it: every field its hash covers, `at` in the
    hash's own spelling, so the file re-verifies without the database."""
    return {
        "seq": e.seq,
        "at": _timestamp(e.at),
        "actor": e.actor,
        "ip": e.ip,
        "action": e.action,
        "subject": e.subject,
        "outcome": e.outcome,
        "details": e.details,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def entry_of(r: Mapping[str, Any]) -> AuditEntry:
    """An archived record read back; `ArchiveUnreadable` if a field is missing."""
    try:
        return AuditEntry(
            seq=int(r["seq"]),
            at=datetime.fromisoformat(r["at"]),
            actor=r["actor"],
            ip=r["ip"],
            action=r["action"],
            subject=r["subject"],
            outcome=r["outcome"],
            details=r["details"],
            prev_hash=r["prev_hash"],
            hash=r["hash"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArchiveUnreadable(f"an entry lacks a readable {exc}") from None


def _check(e: AuditEntry, expected_seq: int, prev: str) -> str | None:
    if e.seq != expected_seq:
        return f"entry {expected_seq} is missing (found {e.seq} next)"
    if e.prev_hash != prev:
        return f"entry {e.seq} does not follow the entry before it"
    digest = entry_hash(
        e.prev_hash, e.seq, e.at, e.actor, e.ip, e.action, e.subject, e.outcome, e.details
    )
    if digest != e.hash:
        return f"entry {e.seq} was changed after it was written"
    return None
