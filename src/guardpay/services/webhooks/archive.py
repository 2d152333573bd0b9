"""Archiving delivered webhook events: events merchants have acknowledged leave the
outbox, with their delivery attempts, for files in an `ArchiveStore`.

Why: every merchant payment enqueues an event, and the outbox is read by the delivery
worker on every pass; once an event is delivered its row is history, kept for disputes
("did you tell me?"). An undelivered event is never archived, whatever its age: it is
still owed. The file is written and read back before anything is deleted, and its name,
counts and SHA-256 are registered (`outbox_archives`) in the same unit of work as the
deletion; `verify_outbox_archives` re-reads every registered file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from guardpay.adapters.archive import ArchiveMissing, ArchiveStore
from guardpay.errors import ArchiveRefused
from guardpay.services.platform.archive import keep_file
from guardpay.services.platform.archive_files import ArchiveUnreadable, pack, sha256, unpack
from guardpay.services.platform.context import Context
from guardpay.storage.uow import UnitOfWork

#: the kind of record an archive file of webhook events holds (archive_files.py)
OUTBOX_ARCHIVE = "webhook_events"
#: events in one archive file; a run writes as many files as it needs
EVENTS_PER_FILE = 50_000


@dataclass(frozen=True)
class OutboxArchive:
    name: str
    events: int
    attempts: int
    sha256: str
    size: int
    delivered_before: datetime
    event_ids: tuple[str, ...] = field(repr=False)


def archive_outbox(
    ctx: Context, store: ArchiveStore, before: datetime, *, most: int = EVENTS_PER_FILE
) -> OutboxArchive | None:
    """`write_outbox_file` then `register_outbox_file`, in the caller's one unit of work."""
    written = write_outbox_file(ctx.uow, store, before, most=most)
    return None if written is None else register_outbox_file(ctx, written)


def write_outbox_file(
    uow: UnitOfWork, store: ArchiveStore, before: datetime, *, most: int = EVENTS_PER_FILE
) -> OutboxArchive | None:
    """Up to `most` events delivered before `before`, oldest delivery first, with their
    attempts, written to one file in `store` and read back; None if there were none.
    Only reads: a delivered event never changes again."""
    repo = uow.outbox
    events = repo.delivered_before(before, most)
    if not events:
        return None
    ids = tuple(e["id"] for e in events)
    tried: dict[str, list[dict[str, Any]]] = {}
    for attempt in repo.attempts_for(ids):
        tried.setdefault(attempt.pop("event_id"), []).append(_plain(attempt))
    records = [{**_plain(e), "delivery_attempts": tried.get(e["id"], [])} for e in events]
    header = {"delivered_before": before.isoformat(), "events": len(records)}
    packed = pack(OUTBOX_ARCHIVE, header, records)
    name = f"outbox-{before:%Y%m%d}-{len(repo.archives()) + 1:06d}.jsonl.gz"
    keep_file(store, name, packed.data, packed.sha256)
    attempts = sum(len(a) for a in tried.values())
    return OutboxArchive(name, len(ids), attempts, packed.sha256, len(packed.data), before, ids)


def register_outbox_file(ctx: Context, written: OutboxArchive) -> OutboxArchive:
    """Register a written file and delete its events and attempts: the short write
    transaction of an archive. Refused if another run took some of them meanwhile."""
    repo = ctx.uow.outbox
    if repo.delete_events(written.event_ids) != written.events:
        raise ArchiveRefused(
            "another archive run took some of these webhook events meanwhile; nothing was "
            "archived this time: run it again",
            code="archive_raced",
            retryable=True,
        )
    repo.add_archive(
        {
            "name": written.name,
            "events": written.events,
            "attempts": written.attempts,
            "delivered_before": written.delivered_before,
            "sha256": written.sha256,
            "size": written.size,
            "archived_at": ctx.now(),
        }
    )
    details = {"events": written.events, "attempts": written.attempts, "sha256": written.sha256}
    ctx.audit("webhooks.archived", subject=written.name, details=details)
    return written


def verify_outbox_archives(uow: UnitOfWork, store: ArchiveStore) -> list[str]:
    """What is wrong with the registered files (empty: each is there, is the file that
    was archived and reads as one)."""
    problems = []
    for name, digest in uow.outbox.archives():
        try:
            data = store.get(name)
        except ArchiveMissing:
            problems.append(f"archive {name} is missing from the archive store")
            continue
        if sha256(data) != digest:
            problems.append(f"archive {name} is not the file that was archived")
            continue
        try:
            unpack(OUTBOX_ARCHIVE, data)
        except ArchiveUnreadable as exc:
            problems.append(f"archive {name}: {exc}")
    return problems


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as JSON keeps it: times in ISO 8601 (UTC)."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
