"""Where encrypted fields live, so key rotation can find and re-encrypt every one.

Each repository that stores vault tokens registers its columns here; a column not
registered would keep its old key version forever and be lost when that version retires,
so tests check that every `gpf1.` token in the database sits in a registered column.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class EncryptedColumn:
    table: str
    key: str  # primary key column
    subject: str  # column holding the subject (person) id the token was sealed for
    column: str
    field: str  # the field name used as associated data when sealing


REGISTRY: list[EncryptedColumn] = []


def register(*columns: EncryptedColumn) -> None:
    for column in columns:
        if column not in REGISTRY:
            REGISTRY.append(column)


class EncryptedFields:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def tokens_of(self, subject: str, col: EncryptedColumn) -> list[tuple[str, str]]:
        rows = self.conn.execute(
            text(
                f"SELECT {col.key}, {col.column} FROM {col.table} "
                f"WHERE {col.subject} = :s AND {col.column} IS NOT NULL"
            ),
            {"s": subject},
        ).all()
        return [(str(r[0]), str(r[1])) for r in rows]

    def replace(self, col: EncryptedColumn, key: str, token: str) -> None:
        self.conn.execute(
            text(f"UPDATE {col.table} SET {col.column} = :t WHERE {col.key} = :k"),
            {"t": token, "k": key},
        )

    def live_subjects(self, after: str, limit: int) -> list[str]:
        rows = self.conn.execute(
            text(
                "SELECT DISTINCT subject FROM data_keys WHERE destroyed_at IS NULL "
                "AND subject NOT LIKE 'platform:%' AND subject > :a ORDER BY subject LIMIT :n"
            ),
            {"a": after, "n": limit},
        ).all()
        return [str(r[0]) for r in rows]
