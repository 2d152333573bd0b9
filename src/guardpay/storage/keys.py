"""Wrapped data keys: one set per subject (a person, or the platform's blind-index key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class StoredKey:
    subject: str
    version: int
    master_version: int
    wrapped: bytes | None  # None once destroyed
    destroyed_at: datetime | None


class KeyRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def keys_of(self, subject: str) -> list[StoredKey]:
        rows = self.conn.execute(
            text(
                "SELECT subject, version, master_version, wrapped, destroyed_at FROM data_keys "
                "WHERE subject = :s ORDER BY version"
            ),
            {"s": subject},
        ).all()
        return [
            StoredKey(r[0], r[1], r[2], bytes(r[3]) if r[3] is not None else None, r[4])
            for r in rows
        ]

    def insert_if_absent(self, key: StoredKey, at: datetime) -> bool:
        """Insert unless (subject, version) exists; False if another transaction won."""
        conflict = "ON CONFLICT (subject, version) DO NOTHING"
        result = self.conn.execute(
            text(
                "INSERT INTO data_keys (subject, version, master_version, wrapped, created_at) "
                f"VALUES (:s, :v, :m, :w, :at) {conflict}"
            ),
            {
                "s": key.subject,
                "v": key.version,
                "m": key.master_version,
                "w": key.wrapped,
                "at": at,
            },
        )
        return bool(result.rowcount)

    def destroy(self, subject: str, at: datetime) -> int:
        """Crypto-shredding: the key material is overwritten, the rows stay as evidence."""
        if self.conn.dialect.name == "sqlite":
            self.conn.exec_driver_sql("PRAGMA secure_delete = ON")  # freed pages zeroed
        result = self.conn.execute(
            text(
                "UPDATE data_keys SET wrapped = NULL, destroyed_at = :at "
                "WHERE subject = :s AND destroyed_at IS NULL"
            ),
            {"s": subject, "at": at},
        )
        return int(result.rowcount)

    def rewrap(self, subject: str, version: int, master_version: int, wrapped: bytes) -> None:
        self.conn.execute(
            text(
                "UPDATE data_keys SET master_version = :m, wrapped = :w "
                "WHERE subject = :s AND version = :v AND destroyed_at IS NULL"
            ),
            {"s": subject, "v": version, "m": master_version, "w": wrapped},
        )

    def live_keys(self, *, below_master: int, limit: int) -> list[StoredKey]:
        """Live keys still wrapped under an older master key, a chunk at a time."""
        rows = self.conn.execute(
            text(
                "SELECT subject, version, master_version, wrapped, destroyed_at FROM data_keys "
                "WHERE destroyed_at IS NULL AND master_version < :m "
                "ORDER BY subject, version LIMIT :n"
            ),
            {"m": below_master, "n": limit},
        ).all()
        return [StoredKey(r[0], r[1], r[2], bytes(r[3]), r[4]) for r in rows]

    def retire_below(self, subject: str, version: int, at: datetime) -> int:
        """Destroy the subject's key versions older than `version` (after re-encryption)."""
        result = self.conn.execute(
            text(
                "UPDATE data_keys SET wrapped = NULL, destroyed_at = :at "
                "WHERE subject = :s AND version < :v AND destroyed_at IS NULL"
            ),
            {"s": subject, "v": version, "at": at},
        )
        return int(result.rowcount)
