"""Idempotency keys: one row per (caller, key), claimed before the endpoint runs and
completed with the response it gave.

The row never holds the request body (it may carry passwords), only its SHA-256, and the
API never stores responses that carry credentials (api/idempotency.py excludes those
paths). Claiming is an insert that loses on conflict, so two racing requests with one key
cannot both run the endpoint: the loser reads the winner's row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Index,
    Insert,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    delete,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from guardpay.storage.engine.db import as_utc as _utc
from guardpay.storage.engine.prepared import once, run, select_by
from guardpay.storage.schema import metadata

IN_PROGRESS = "in_progress"
DONE = "done"

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("caller", String(120), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_path", String(300), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("response_status", Integer, nullable=True),
    Column("response_type", String(100), nullable=True),
    Column("response_body", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Index("ix_idempotency_keys_created_at", "created_at"),
)


@dataclass(frozen=True)
class StoredKey:
    caller: str
    key: str
    request_path: str
    request_hash: str
    state: str
    response_status: int | None
    response_type: str | None
    response_body: str | None
    created_at: datetime


@lru_cache(maxsize=4)
def _claim(dialect: str) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING key, built once per dialect."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return once(insert(idempotency_keys).on_conflict_do_nothing().returning(idempotency_keys.c.key))


_FIND = select_by(idempotency_keys, ("caller", "key"))
_COMPLETE = once(
    update(idempotency_keys).where(
        idempotency_keys.c.caller == bindparam("w_caller"),
        idempotency_keys.c.key == bindparam("w_key"),
    )
)


class IdempotencyRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def claim(
        self, caller: str, key: str, request_path: str, request_hash: str, at: datetime
    ) -> bool:
        """Insert an in-progress row; False if the (caller, key) row already exists."""
        values = {
            "caller": caller,
            "key": key,
            "request_path": request_path,
            "request_hash": request_hash,
            "state": IN_PROGRESS,
            "created_at": at,
        }
        return run(self.conn, _claim(self.conn.dialect.name), values).first() is not None

    def find(self, caller: str, key: str) -> StoredKey | None:
        where = {"caller": caller, "key": key}
        row = run(self.conn, _FIND, where).mappings().first()
        if row is None:
            return None
        values = dict(row)
        values.pop("completed_at")
        values["created_at"] = _utc(values["created_at"])
        return StoredKey(**values)

    def complete(
        self, caller: str, key: str, status: int, media_type: str | None, body: str, at: datetime
    ) -> None:
        values = {
            "state": DONE,
            "response_status": status,
            "response_type": media_type,
            "response_body": body,
            "completed_at": at,
            "w_caller": caller,
            "w_key": key,
        }
        run(self.conn, _COMPLETE, values)

    def release(self, caller: str, key: str) -> None:
        """Forget an in-progress claim whose request changed nothing (it may be retried)."""
        self.conn.execute(
            delete(idempotency_keys).where(
                idempotency_keys.c.caller == caller,
                idempotency_keys.c.key == key,
                idempotency_keys.c.state == IN_PROGRESS,
            )
        )

    def purge(self, created_before: datetime) -> int:
        result = self.conn.execute(
            delete(idempotency_keys).where(idempotency_keys.c.created_at < created_before)
        )
        return int(result.rowcount)
