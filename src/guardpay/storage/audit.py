"""The append-only audit log and its head (newest seq and hash)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, text

from guardpay.storage.engine.db import as_utc
from guardpay.storage.engine.prepared import run, sql
from guardpay.storage.schema import audit_archives, audit_log


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    ip: str | None
    action: str
    subject: str | None
    outcome: str
    details: str  # canonical JSON
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditArchive:
    """A file of archived entries, as registered: the chain's ends inside it and the
    file's digest, so the live log can start where it ends and the file be checked."""

    first_seq: int
    last_seq: int
    first_prev_hash: str
    last_hash: str
    first_at: datetime
    last_at: datetime
    name: str
    sha256: str
    size: int
    archived_at: datetime


_COLS = "seq, at, actor, ip, action, subject, outcome, details, prev_hash, hash"
_ARCHIVE_COLS = tuple(
    audit_archives.c[name]
    for name in (
        "first_seq",
        "last_seq",
        "first_prev_hash",
        "last_hash",
        "first_at",
        "last_at",
        "name",
        "sha256",
        "size",
        "archived_at",
    )
)
_APPEND = sql(
    f"INSERT INTO audit_log ({_COLS}) VALUES (:seq, :at, :actor, :ip, :action, "
    ":subject, :outcome, :details, :prev_hash, :hash)"
)


class AuditRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lock_head(self) -> tuple[int, str]:
        """The chain's end, locked so concurrent appends queue rather than fork it."""
        lock = " FOR UPDATE" if self.conn.dialect.name == "postgresql" else ""
        row = run(self.conn, sql(f"SELECT seq, hash FROM audit_head WHERE id = 1{lock}")).one()
        return int(row[0]), str(row[1])

    def head(self) -> tuple[int, str]:
        row = self.conn.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).one()
        return int(row[0]), str(row[1])

    def append(self, entry: AuditEntry) -> None:
        """The entry alone: the head moves once per unit of work (`set_head`, called
        by the unit of work before it commits: storage/uow.py `UnitOfWork.flush`)."""
        run(self.conn, _APPEND, entry.__dict__)

    def append_many(self, entries: Sequence[AuditEntry]) -> None:
        if entries:
            self.conn.execute(_APPEND, [e.__dict__ for e in entries])

    def set_head(self, seq: int, digest: str) -> None:
        run(
            self.conn,
            sql("UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1"),
            {"seq": seq, "hash": digest},
        )

    def entries(
        self, *, after: int = 0, through: int | None = None, chunk: int = 1000
    ) -> Iterator[AuditEntry]:
        """The entries after seq `after` (through `through`, if given) in seq order, read
        in chunks (keyset pagination)."""
        upto = "" if through is None else " AND seq <= :t"
        query = text(f"SELECT {_COLS} FROM audit_log WHERE seq > :a{upto} ORDER BY seq LIMIT :n")
        while True:
            rows = self.conn.execute(query, {"a": after, "t": through, "n": chunk}).all()
            for r in rows:
                yield _entry(r)
            if len(rows) < chunk:
                return
            after = rows[-1][0]

    # -- archives (services/platform/archive.py) ------------------------------------------
    def last_seq_before(self, cutoff: datetime) -> int:
        """The newest entry written before `cutoff` (0 if none). Bound as the entries
        were written (`_APPEND`), so SQLite compares its text in one spelling."""
        query = sql("SELECT MAX(seq) FROM audit_log WHERE at < :cutoff")
        [found] = run(self.conn, query, {"cutoff": cutoff.astimezone(UTC)}).one()
        return int(found or 0)

    def archives(self) -> list[AuditArchive]:
        """Every registered archive file, oldest entries first."""
        t = audit_archives
        rows = self.conn.execute(select(*_ARCHIVE_COLS).order_by(t.c.last_seq)).all()
        return [_archive(r) for r in rows]

    def add_archive(self, archive: AuditArchive) -> None:
        self.conn.execute(insert(audit_archives).values(**archive.__dict__))

    def delete_through(self, seq: int) -> int:
        """Remove the entries up to `seq` from the live log; the database refuses any
        not yet in a registered archive (migration 0017)."""
        t = audit_log
        return int(self.conn.execute(delete(t).where(t.c.seq <= seq)).rowcount)

    def for_subject(self, subject: str, limit: int = 1000) -> list[AuditEntry]:
        rows = self.conn.execute(
            text(f"SELECT {_COLS} FROM audit_log WHERE subject = :s ORDER BY seq LIMIT :n"),
            {"s": subject, "n": limit},
        ).all()
        return [_entry(r) for r in rows]


def _entry(row: Any) -> AuditEntry:
    at = row[1]
    if isinstance(at, str):  # raw SQL on SQLite hands back ISO text
        at = datetime.fromisoformat(at)
    return AuditEntry(row[0], as_utc(at), *row[2:])


def _archive(row: Any) -> AuditArchive:
    first, last, first_prev, last_hash, first_at, last_at, name, digest, size, at = row
    return AuditArchive(
        int(first),
        int(last),
        first_prev,
        last_hash,
        as_utc(first_at),
        as_utc(last_at),
        name,
        digest,
        int(size),
        as_utc(at),
    )
