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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from guardpay.observability import scrub
from guardpay.storage.audit import AuditEntry
from guardpay.storage.uow import UnitOfWork

GENESIS = "0" * 64
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
    entries: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None

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
        }


def verify(uow: UnitOfWork) -> AuditReport:
    """Walk the chain from the start; stop at the first entry that does not fit."""
    repo = uow.audit
    head_seq, head_hash = repo.head()
    expected_seq, prev, count = 1, GENESIS, 0
    for e in repo.entries():
        problem = _check(e, expected_seq, prev)
        if problem is not None:  # a gap names the missing entry, else the changed one
            bad = min(e.seq, expected_seq)
            return AuditReport(count, head_seq, head_hash, bad, problem)
        expected_seq, prev, count = e.seq + 1, e.hash, count + 1
    if (head_seq, head_hash) != (expected_seq - 1, prev):
        bad = expected_seq if head_seq >= expected_seq else head_seq
        why = f"the head says entry {head_seq} but the chain ends at {expected_seq - 1}"
        return AuditReport(count, head_seq, head_hash, bad, why)
    return AuditReport(count, head_seq, head_hash)


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
