"""The append-only audit log and its head (newest seq and hash)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from guardpay.storage.engine.db import as_utc
from guardpay.storage.engine.prepared import run, sql


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


_COLS = "seq, at, actor, ip, action, subject, outcome, details, prev_hash, hash"
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

    def entries(self, *, chunk: int = 1000) -> Iterator[AuditEntry]:
        """Every entry in seq order, read in chunks (keyset pagination)."""
        after = -1
        while True:
            rows = self.conn.execute(
                text(f"SELECT {_COLS} FROM audit_log WHERE seq > :a ORDER BY seq LIMIT :n"),
                {"a": after, "n": chunk},
            ).all()
            for r in rows:
                yield _entry(r)
            if len(rows) < chunk:
                return
            after = rows[-1][0]

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
